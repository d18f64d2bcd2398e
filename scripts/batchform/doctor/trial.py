"""`doctor --run`: one real job proves the loop. Checks only read; a job shows that the image
pulls, the roles work and the logs come back.

The account's smallest declared job (`hello` where it runs one) is submitted with a fresh token,
followed to its end, and each stage it passed is a finding: submitted, queued, placed, image
pulled, running, log lines read back, exit code; the first it did not pass fails, with the
likeliest reason. Nothing else is created or changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .. import jobs
from ..errors import UserError
from ..follow import JobWatcher, LogFollower
from .findings import FAIL, OK, Finding
from .subject import Subject

STAGES = ("submitted", "queued", "placed", "image pulled", "running", "log lines", "exit code")
# How far each status shows a job got (RUNNING: its image was pulled and its container started).
REACHED = {"SUBMITTED": 1, "PENDING": 1, "RUNNABLE": 1, "STARTING": 2, "RUNNING": 4}
WAIT = 900  # seconds for the whole job
RUNNABLE_LIMIT = 300  # seconds in RUNNABLE before the trial job is terminated, and the stage failed
PREFERRED = "hello"


def trial_job(subject: Subject) -> str | None:
    """The job to run: `hello` when deployed, else the one asking for the least."""
    declared = (subject.outputs or {}).get("jobs") or {}
    if PREFERRED in declared:
        return PREFERRED
    sized = sorted(
        declared, key=lambda name: (declared[name].get("vcpus") or 0, declared[name].get("memory") or 0, name)
    )
    return sized[0] if sized else None


def _reached(statuses: set[str], final: dict[str, Any]) -> int:
    """The number of stages up to "running" the job passed."""
    reached = max((REACHED.get(status, 0) for status in statuses), default=0)
    attempts = final.get("attempts") or []
    ran = any((a.get("container") or {}).get("exitCode") is not None for a in attempts)
    if final.get("status") == "SUCCEEDED" or ran:
        reached = 5
    elif attempts:
        reached = max(reached, 3)  # placed: a task was made for it
    return reached


def _reason(stage: str, final: dict[str, Any], account: str) -> tuple[str, str]:
    said = final.get("statusReason") or (final.get("container") or {}).get("reason") or "no reason given"
    if "CannotPullContainer" in said or "ResourceInitializationError" in said:
        return (
            f"the image did not pull: {said}",
            f"see the network and image findings; invoke push --account {account} where the build is missing",
        )
    if stage in ("queued", "placed"):
        return (
            f"the job never left RUNNABLE: {said}",
            f"check the runnable findings above; invoke jobs.list --account {account}",
        )
    return f"it stopped: {said}", f"invoke jobs.logs {final.get('jobId')} --account {account}"


def run(subject: Subject, echo: Callable[[str], None] | None = None) -> list[Finding]:
    account = subject.account
    say = echo or (lambda _line: None)
    job = trial_job(subject)
    if job is None:
        return [
            Finding("run", FAIL, "no job is deployed to run", f"invoke tf.apply --account {account.name}")
        ]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    request = jobs.SubmitRequest(job=job, name=f"doctor-{job}-{stamp}")
    try:
        [result] = jobs.Submitter(account).submit(
            jobs.deployed_job(account, job), request, token=f"doctor-{uuid.uuid4()}"
        )
    except UserError as exc:
        return [
            Finding(
                "run",
                FAIL,
                f"{job} was not submitted: {exc}",
                f"invoke submit {job} --account {account.name}",
                STAGES[0],
            )
        ]
    findings = [Finding("run", OK, f"{job} as {result.job_id}", subject=STAGES[0])]
    say(f"{account.name}: following {job} ({result.job_id})")
    statuses: set[str] = set()
    last: dict[str, Any] = {}

    def seen(described: dict[str, dict[str, Any]]) -> None:
        if result.job_id in described:
            last.update(described[result.job_id])
            statuses.add(described[result.job_id]["status"])

    JobWatcher(account, echo=say).wait(
        [result.job_id], timeout=WAIT, runnable_timeout=RUNNABLE_LIMIT, on_poll=seen
    )
    lines: list[str] = []
    LogFollower(account, result.job_id, echo=lines.append).follow()
    reached = _reached(statuses, last)
    for index, stage in enumerate(STAGES[1:5], start=1):
        if index > reached:
            found, fix = _reason(stage, last, account.name)
            findings.append(Finding("run", FAIL, found, fix, stage))
            return findings
        findings.append(Finding("run", OK, f"{stage}", subject=stage))
    output = [line for line in lines if not line.startswith("---")]  # attempt headers are no output
    findings.append(
        Finding("run", OK, f"{len(output)} line(s) read back", subject=STAGES[5])
        if output
        else Finding(
            "run",
            FAIL,
            "no log line came back",
            "check the job role may write to its log group (logs:CreateLogStream, PutLogEvents)",
            STAGES[5],
        )
    )
    code = (last.get("container") or {}).get("exitCode")
    findings.append(
        Finding("run", OK, "exit code 0", subject=STAGES[6])
        if last.get("status") == "SUCCEEDED"
        else Finding(
            "run",
            FAIL,
            f"{last.get('status')}, exit code {code}",
            f"invoke jobs.logs {result.job_id} --account {account.name}",
            STAGES[6],
        )
    )
    return findings
