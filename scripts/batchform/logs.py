"""Read a Batch job's CloudWatch log lines, from the log group its job definition names."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import ratelimit, retry
from .accounts import Account
from .errors import UserError

DEFAULT_GROUP = "/aws/batch/job"


def _awslogs_group(config: dict[str, Any] | None) -> str | None:
    return (((config or {}).get("options")) or {}).get("awslogs-group")


def log_group(account: Account, job: dict[str, Any]) -> str:
    """A described job's log group: its container's awslogs-group, else its definition's, else the default."""
    group = _awslogs_group((job.get("container") or {}).get("logConfiguration"))
    if group is not None:
        return group
    definition_id = job.get("jobDefinition")
    if not definition_id:
        return DEFAULT_GROUP
    found = account.client("batch").describe_job_definitions(jobDefinitions=[definition_id])["jobDefinitions"]
    props = found[0].get("containerProperties", {}) if found else {}
    return _awslogs_group(props.get("logConfiguration")) or DEFAULT_GROUP


def attempt_streams(job: dict[str, Any]) -> list[str]:
    """The log streams of a described job, one per attempt, oldest first, the running attempt's last.

    Attempts that share a stream name (the local emulator names one stream per job) count once.
    """
    names: list[str] = []
    containers = [attempt.get("container") or {} for attempt in job.get("attempts") or []]
    containers.append(job.get("container") or {})
    for container in containers:
        name = container.get("logStreamName")
        if name and name not in names:
            names.append(name)
    return names


def log_location(account: Account, job: dict[str, Any]) -> tuple[str, str | None]:
    """(log group, stream) of a described job; stream is None until its container has run."""
    return log_group(account, job), (job.get("container") or {}).get("logStreamName")


def lines(account: Account, job_id: str) -> Iterator[str]:
    """Every log line the job has written so far, oldest first.

    Each GetLogEvents call sent takes a token of the account's shared bucket, as a follower's do:
    the client makes one attempt and the one policy repeats it, so no retry bypasses the bucket.
    """
    described = account.client("batch").describe_jobs(jobs=[job_id])["jobs"]
    if not described:
        raise UserError(f"no job {job_id} in account {account.name}")
    group, stream = log_location(account, described[0])
    if stream is None:
        return
    logs = account.client("logs", retries=False)
    bucket = ratelimit.shared(account, ratelimit.GET_LOG_EVENTS, account.logs_read_rate)
    token = None
    while True:
        kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            kwargs["nextToken"] = token
        for attempt in retry.retrying(lambda exc: retry.transient_kind(exc) is not None):
            with attempt:
                bucket.take()
                page = logs.get_log_events(**kwargs)
        for event in page["events"]:
            yield event["message"]
        if page.get("nextForwardToken") in (None, token):
            return
        token = page["nextForwardToken"]
