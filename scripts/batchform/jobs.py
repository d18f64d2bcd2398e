"""Submit Batch jobs by the name they are declared under, and follow them to the end."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .accounts import Account
from .deployment import outputs
from .errors import UserError

Echo = Callable[[str], None]

FINAL_STATES = ("SUCCEEDED", "FAILED")
DESCRIBE_BATCH = 100  # DescribeJobs takes at most 100 ids per call
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def default_job_name(job: str, now: datetime | None = None) -> str:
    """`<job>-<UTC timestamp>`, made valid: 128 chars, alphanumeric first, [A-Za-z0-9_-] only."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    name = re.sub(r"[^A-Za-z0-9_-]", "-", f"{job}-{stamp}")
    name = re.sub(r"^[^A-Za-z0-9]+", "", name)
    return name[:128] or f"job-{stamp}"


def parse_env(pairs: Iterable[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise UserError(f"--env {pair!r}: expected NAME=VALUE")
        if not ENV_NAME.match(name):
            raise UserError(
                f"--env {name!r}: names are letters, digits and underscores, not starting with a digit"
            )
        if name.startswith("AWS_BATCH"):
            raise UserError(f"--env {name}: names starting with AWS_BATCH are reserved by AWS Batch")
        env[name] = value
    return env


@dataclass
class JobState:
    job_id: str
    name: str
    status: str
    reason: str = ""
    exit_code: int | None = None


def submit(account: Account, job: str, env: dict[str, str] | None = None, name: str | None = None) -> str:
    """Submit one job to the account's queue; returns its job id."""
    deployed = outputs(account)
    # Without the revision, Batch runs the latest ACTIVE one: an apply by someone else since
    # our outputs were cached cannot leave us submitting a stale (or deregistered) revision.
    definitions = deployed.get("job_definition_arn_prefixes", {})
    if job not in definitions:
        known = ", ".join(sorted(definitions)) or "none"
        raise UserError(f"unknown job '{job}' in account {account.name} (deployed: {known})")
    request: dict[str, Any] = {
        "jobName": name or default_job_name(job),
        "jobQueue": deployed["job_queue_arns"]["default"],
        "jobDefinition": definitions[job],
    }
    if env:
        request["containerOverrides"] = {
            "environment": [{"name": k, "value": v} for k, v in sorted(env.items())]
        }
    return account.client("batch").submit_job(**request)["jobId"]


def describe(account: Account, job_ids: list[str]) -> dict[str, dict[str, Any]]:
    """DescribeJobs for any number of ids, 100 per call."""
    batch = account.client("batch")
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(job_ids), DESCRIBE_BATCH):
        for job in batch.describe_jobs(jobs=job_ids[start : start + DESCRIBE_BATCH])["jobs"]:
            found[job["jobId"]] = job
    return found


def wait(
    account: Account,
    job_ids: list[str],
    echo: Echo | None = None,
    poll: float = 1.0,
    timeout: float | None = None,
) -> dict[str, JobState]:
    """Poll until every job is final; echo each status change with the elapsed time."""
    echo = echo or print
    started = time.monotonic()
    last: dict[str, str] = {}
    states: dict[str, JobState] = {}
    pending = list(job_ids)
    while pending:
        for job_id, job in describe(account, pending).items():
            state = JobState(
                job_id,
                job["jobName"],
                job["status"],
                job.get("statusReason", ""),
                (job.get("container") or {}).get("exitCode"),
            )
            states[job_id] = state
            if last.get(job_id) != state.status:
                last[job_id] = state.status
                echo(f"{state.name} ({job_id}): {state.status} after {time.monotonic() - started:.1f} s")
        pending = [j for j in pending if states.get(j) is None or states[j].status not in FINAL_STATES]
        if pending:
            if timeout is not None and time.monotonic() - started > timeout:
                raise UserError(
                    f"{len(pending)} job(s) not finished after {timeout:.0f} s: {', '.join(pending)}"
                )
            time.sleep(poll)
    return states
