"""Jobs already submitted: list those of an account's queues, and stop one whatever its state."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..accounts import Account
from ..deployment import outputs
from ..errors import FieldError, UserError
from .requests import LOOKUP_STATUSES

FINAL_STATES = ("SUCCEEDED", "FAILED")


def list_jobs(account: Account, statuses: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The jobs of the account's queues in the given statuses (default: all), newest first."""
    wanted = [s.upper() for s in statuses] if statuses else list(LOOKUP_STATUSES)
    for status in wanted:
        if status not in LOOKUP_STATUSES:
            raise FieldError(
                "statuses",
                "{statuses} {value}: must be one of {known}",
                value=status,
                known=", ".join(LOOKUP_STATUSES),
            )
    deployed = outputs(account)
    queues = sorted({job["queue"] for job in (deployed.get("jobs") or {}).values()}) or [
        deployed["job_queue_arns"]["default"]
    ]
    batch = account.client("batch")
    found: dict[str, dict[str, Any]] = {}
    for queue in queues:
        for status in wanted:
            for page in batch.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus=status):
                for summary in page["jobSummaryList"]:
                    # The emulator ignores the status filter; AWS does not. Filter here for both.
                    if summary.get("status", status) == status:
                        found.setdefault(summary["jobId"], summary)
    return sorted(found.values(), key=lambda s: s.get("createdAt", 0), reverse=True)


def stop_job(account: Account, job_id: str, reason: str) -> str:
    """End a job in whatever state it is; one line saying what it was and what it is now.

    TerminateJob, never CancelJob: "Jobs that progressed to the STARTING or RUNNING state
    aren't canceled. However, the API operation still succeeds", so a job seen RUNNABLE that
    starts meanwhile would go on running. TerminateJob ends a job in any state, started or not.
    """
    described = _described(account, job_id)
    if described is None:
        raise UserError(f"no job {job_id} in account {account.name}")
    status = described["status"]
    if status in FINAL_STATES:
        return f"{job_id} already {status}: nothing to stop"
    account.client("batch").terminate_job(jobId=job_id, reason=reason)
    after = (_described(account, job_id) or {}).get("status", "unknown")
    now = after if after in FINAL_STATES else f"{after}, stopping"
    return f"terminated {job_id} (was {status}; now {now})"


def _described(account: Account, job_id: str) -> dict[str, Any] | None:
    jobs = account.client("batch").describe_jobs(jobs=[job_id])["jobs"]
    return next((job for job in jobs if job.get("jobId") == job_id), None)
