"""Read a Batch job's CloudWatch log lines, from the log group its job definition names."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .accounts import Account
from .errors import UserError

DEFAULT_GROUP = "/aws/batch/job"


def log_location(account: Account, job: dict[str, Any]) -> tuple[str, str | None]:
    """(log group, stream) of a described job; stream is None until its container has run."""
    container = job.get("container") or {}
    stream = container.get("logStreamName")
    options = ((container.get("logConfiguration") or {}).get("options")) or {}
    group = options.get("awslogs-group")
    if group is None:
        definition = account.client("batch").describe_job_definitions(jobDefinitions=[job["jobDefinition"]])[
            "jobDefinitions"
        ]
        props = definition[0].get("containerProperties", {}) if definition else {}
        group = ((props.get("logConfiguration") or {}).get("options") or {}).get(
            "awslogs-group", DEFAULT_GROUP
        )
    return group, stream


def lines(account: Account, job_id: str) -> Iterator[str]:
    """Every log line the job has written so far, oldest first."""
    described = account.client("batch").describe_jobs(jobs=[job_id])["jobs"]
    if not described:
        raise UserError(f"no job {job_id} in account {account.name}")
    group, stream = log_location(account, described[0])
    if stream is None:
        return
    logs = account.client("logs")
    token = None
    while True:
        kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            kwargs["nextToken"] = token
        page = logs.get_log_events(**kwargs)
        for event in page["events"]:
            yield event["message"]
        if page.get("nextForwardToken") in (None, token):
            return
        token = page["nextForwardToken"]
