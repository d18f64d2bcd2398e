"""Jobs already submitted: list those of an account's queues, each with the schedule that started
it if one did, and stop one whatever its state."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..accounts import Account
from ..batchlimits import DESCRIBE_BATCH
from ..deployment import outputs
from ..errors import FieldError, UserError
from .requests import LOOKUP_STATUSES, SCHEDULE_TAG

FINAL_STATES = ("SUCCEEDED", "FAILED")


def account_queues(account: Account) -> list[str]:
    """The ARNs of the account's job queues: every queue it deploys, and each its jobs go to."""
    deployed = outputs(account)
    declared = {job["queue"] for job in (deployed.get("jobs") or {}).values()}
    return sorted(declared | set((deployed.get("job_queue_arns") or {}).values()))


def check_statuses(statuses: Iterable[str] | None) -> list[str]:
    """The statuses asked for, upper-cased (default: every one), each one Batch knows."""
    wanted = [s.upper() for s in statuses] if statuses else list(LOOKUP_STATUSES)
    for status in wanted:
        if status not in LOOKUP_STATUSES:
            raise FieldError(
                "statuses",
                "{statuses} {value}: must be one of {known}",
                value=status,
                known=", ".join(LOOKUP_STATUSES),
            )
    return wanted


def queue_summaries(
    batch: Any, queue: str, statuses: Iterable[str], **query: Any
) -> dict[str, dict[str, Any]]:
    """Job id => ListJobs summary, for the jobs of `queue` (or of the array job `arrayJobId=` names)
    in the given statuses: every status of a queue in one listing, else each status in turn."""
    where = {"arrayJobId": query["arrayJobId"]} if "arrayJobId" in query else {"jobQueue": queue}
    wanted = set(statuses)
    if "jobQueue" in where and wanted >= set(LOOKUP_STATUSES):
        # With a filter ListJobs ignores jobStatus and lists every status: one listing where one
        # per status would be seven. (AWS takes no filter beside arrayJobId.)
        queries = [{**where, "filters": [{"name": "AFTER_CREATED_AT", "values": ["0"]}]}]
    else:
        queries = [{**where, "jobStatus": status} for status in sorted(wanted)]
    found: dict[str, dict[str, Any]] = {}
    for asked in queries:
        for page in batch.get_paginator("list_jobs").paginate(**asked):
            for summary in page["jobSummaryList"]:
                if summary.get("status") in wanted:  # the emulator ignores jobStatus; AWS does not
                    found.setdefault(summary["jobId"], summary)
    return found


def describe(batch: Any, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Job id => DescribeJobs entry, asking for up to 100 jobs a call (DescribeJobs' most)."""
    ids = list(ids)
    described: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), DESCRIBE_BATCH):
        for job in batch.describe_jobs(jobs=ids[start : start + DESCRIBE_BATCH])["jobs"]:
            described[job["jobId"]] = job
    return described


def list_jobs(account: Account, statuses: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The jobs of the account's queues in the given statuses (default: all), newest first: their
    ListJobs summaries, each with `schedule`, the name of the schedule that submitted it or None."""
    wanted = check_statuses(statuses)
    batch = account.client("batch")
    found: dict[str, dict[str, Any]] = {}
    for queue in account_queues(account):
        for job_id, summary in queue_summaries(batch, queue, wanted).items():
            found.setdefault(job_id, summary)
    # ListJobs gives no tags: DescribeJobs does.
    for job_id, job in describe(batch, found).items():
        if job_id in found:
            found[job_id]["schedule"] = (job.get("tags") or {}).get(SCHEDULE_TAG)
    for summary in found.values():
        summary.setdefault("schedule", None)
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


def listing_lines(jobs: list[dict[str, Any]]) -> list[str]:
    """One line per listed job: id, status and name, then `schedule NAME` for one a schedule
    started (the names padded so that those stand in a column)."""
    width = max((len(job["jobName"]) for job in jobs if job.get("schedule")), default=0)
    lines = []
    for job in jobs:
        line = f"{job['jobId']}  {job['status']:<10} {job['jobName']}"
        if job.get("schedule"):
            line = f"{line:<{len(line) - len(job['jobName']) + width}}  schedule {job['schedule']}"
        lines.append(line)
    return lines
