"""What each page shows, as plain values for its template: filtered, paginated, formatted.

Nothing here calls AWS: every value comes from the board's snapshots and shared reads.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from .. import jobs
from ..follow import is_stuck_reason, job_exit_code, job_reason
from ..poll import FINAL_STATES
from ..sources import OWNER_TAG
from .board import STUCK_SECONDS, Board

PER_PAGE = 100
MAX_PER_PAGE = 1000
FILTERS = ("account", "queue", "job", "status", "owner", "q")
# An environment variable whose name says it holds a secret is shown hidden: a value passed
# with --env is the submitter's, and the page may be shared on a screen.
SECRET_NAME = re.compile(r"SECRET|PASSW|TOKEN|CREDENTIAL|PRIVATE|ACCESS_KEY|SESSION|API_KEY", re.IGNORECASE)
HIDDEN = "(hidden)"


def query(**values: Any) -> str:
    return urlencode({k: v for k, v in values.items() if v not in (None, "")})


def when(epoch_ms: int | float | None) -> str:
    """An epoch in milliseconds (as Batch gives it) in UTC, to the second."""
    if not epoch_ms:
        return ""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def since(epoch_s: float | None) -> str:
    """How long ago, in the largest whole unit."""
    if epoch_s is None:
        return ""
    age = max(0, int(time.time() - epoch_s))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if age >= size:
            return f"{age // size} {unit} ago"
    return f"{age} s ago"


def declared_job(job: dict[str, Any], account: str) -> str:
    """The name the job is declared under: its definition's name without `batchform-<account>-`."""
    definition = str(job.get("jobDefinition", "")).rsplit("/", 1)[-1].split(":", 1)[0]
    prefix = f"batchform-{account}-"
    return definition[len(prefix) :] if definition.startswith(prefix) else definition


def array_progress(job: dict[str, Any]) -> dict[str, Any] | None:
    """An array parent's children by status, with the count done (succeeded or failed)."""
    props = job.get("arrayProperties") or {}
    size = props.get("size")
    if not size:
        return None
    summary = props.get("statusSummary") or {}
    done = summary.get("SUCCEEDED", 0) + summary.get("FAILED", 0)
    counts = ", ".join(f"{summary[s]} {s.lower()}" for s in jobs.LOOKUP_STATUSES if summary.get(s))
    return {
        "size": size,
        "done": done,
        "failed": summary.get("FAILED", 0),
        "counts": counts or "none started",
    }


def _row(job: dict[str, Any]) -> dict[str, Any]:
    tags = job.get("tags") or {}
    return {
        "account": job["account"],
        "queue": job["queueName"],
        "id": job["jobId"],
        "name": job.get("jobName", ""),
        "job": declared_job(job, job["account"]),
        "status": job.get("status", ""),
        "created": job.get("createdAt"),
        "started": job.get("startedAt"),
        "stopped": job.get("stoppedAt"),
        "owner": tags.get(OWNER_TAG, ""),
        "schedule": tags.get(jobs.SCHEDULE_TAG, ""),
        "reason": job_reason(job),
        "array": array_progress(job),
    }


def _matches(row: dict[str, Any], wanted: Mapping[str, str]) -> bool:
    for key in ("account", "queue", "job", "owner"):
        if wanted.get(key) and row[key] != wanted[key]:
            return False
    if wanted.get("status") and row["status"] != wanted["status"].upper():
        return False
    text = wanted.get("q", "").strip().lower()
    if text:
        haystack = " ".join(str(row[k]) for k in ("name", "id", "job", "reason", "owner", "schedule")).lower()
        return text in haystack
    return True


def _number(value: str | None, default: int, lowest: int, highest: int) -> int:
    try:
        return min(highest, max(lowest, int(value or default)))
    except ValueError:
        return default


def job_list(board: Board, params: Mapping[str, str]) -> dict[str, Any]:
    """The jobs page: every polled job matching the filters, newest first, one page of them."""
    wanted = {key: params.get(key, "") for key in FILTERS}
    rows = [_row(job) for job in board.jobs()]
    choices = {
        key: sorted({row[key] for row in rows if row[key]}) for key in ("account", "queue", "job", "owner")
    }
    choices["status"] = list(jobs.LOOKUP_STATUSES)
    shown = [row for row in rows if _matches(row, wanted)]
    per_page = _number(params.get("per_page"), PER_PAGE, 1, MAX_PER_PAGE)
    pages = max(1, math.ceil(len(shown) / per_page))
    number = _number(params.get("page"), 1, 1, pages)
    base = {**wanted, "per_page": per_page if per_page != PER_PAGE else ""}
    return {
        "rows": shown[(number - 1) * per_page : number * per_page],
        "total": len(shown),
        "page": number,
        "pages": pages,
        "wanted": wanted,
        "choices": choices,
        "previous": query(**base, page=number - 1) if number > 1 else None,
        "next": query(**base, page=number + 1) if number < pages else None,
        "problems": {name: view.problem for name, view in board.views.items() if view.problem},
        "errors": _poll_errors(board),
    }


def _poll_errors(board: Board) -> list[str]:
    return [
        f"{name} {queue.rsplit('/', 1)[-1]}: {snapshot.error}"
        for name in board.views
        for queue, snapshot in board.snapshots(name).items()
        if snapshot.error
    ]


def shown_environment(environment: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [
        (e.get("name", ""), HIDDEN if SECRET_NAME.search(e.get("name", "")) else e.get("value", ""))
        for e in environment
    ]


def job_detail(board: Board, account: str, job_id: str, params: Mapping[str, str]) -> dict[str, Any] | None:
    """A job's page: what was submitted, its attempts, its timeline; an array's children."""
    job = board.job(account, job_id)
    if job is None:
        return None
    container = job.get("container") or {}
    tags = job.get("tags") or {}
    submitted = {
        "command": container.get("command") or [],
        "environment": shown_environment(container.get("environment") or []),
        "secrets": [(s.get("name", ""), s.get("valueFrom", "")) for s in container.get("secrets") or []],
        "parameters": sorted((job.get("parameters") or {}).items()),
        "resources": [
            (r.get("type", ""), r.get("value", "")) for r in container.get("resourceRequirements") or []
        ],
        "tags": sorted((k, v) for k, v in tags.items() if k != jobs.TOKEN_TAG),
        "token": tags.get(jobs.TOKEN_TAG, ""),
        "depends_on": [(d.get("jobId", ""), d.get("type", "")) for d in job.get("dependsOn") or []],
        "timeout": (job.get("timeout") or {}).get("attemptDurationSeconds"),
        "attempts": (job.get("retryStrategy") or {}).get("attempts"),
        "share": job.get("shareIdentifier", ""),
        "priority": job.get("schedulingPriority"),
        "definition": job.get("jobDefinition", ""),
    }
    attempts = [
        {
            "number": number,
            "started": attempt.get("startedAt"),
            "stopped": attempt.get("stoppedAt"),
            "exit_code": (attempt.get("container") or {}).get("exitCode"),
            "reason": attempt.get("statusReason") or (attempt.get("container") or {}).get("reason", ""),
            "stream": (attempt.get("container") or {}).get("logStreamName", ""),
        }
        for number, attempt in enumerate(job.get("attempts") or [], start=1)
    ]
    timeline = [("SUBMITTED", job.get("createdAt"))]
    timeline += [
        (status, seen * 1000) for status, seen in board.seen(account, job_id) if status != "SUBMITTED"
    ]
    if job.get("startedAt") and "RUNNING" not in {s for s, _ in timeline}:
        timeline.append(("RUNNING", job["startedAt"]))
    if (
        job.get("stoppedAt")
        and job.get("status") in FINAL_STATES
        and job["status"] not in {s for s, _ in timeline}
    ):
        timeline.append((job["status"], job["stoppedAt"]))
    array = array_progress(job)
    children = board.children(account, job_id) if array else []
    per_page = _number(params.get("per_page"), PER_PAGE, 1, MAX_PER_PAGE)
    return {
        "account": account,
        "job": job,
        "name": declared_job(job, account),
        "reason": job_reason(job),
        "exit_code": job_exit_code(job),
        "final": job.get("status") in FINAL_STATES,
        "submitted": submitted,
        "attempts": attempts,
        "timeline": sorted(timeline, key=lambda t: t[1] or 0),
        "array": array,
        "children": children[:per_page],
        "children_total": len(children),
        "said": params.get("said", ""),
    }


def queues(board: Board) -> dict[str, Any]:
    """Each account's queues and compute environments, job counts by status, and the jobs RUNNABLE
    longer than STUCK_SECONDS with why."""
    now = time.time()
    accounts = []
    for name, view in board.views.items():
        if view.problem:
            accounts.append({"name": name, "problem": view.problem})
            continue
        try:
            described = board.queues(name)
        except Exception as exc:  # noqa: BLE001 - one account's failure must not hide the others
            accounts.append({"name": name, "problem": str(exc)})
            continue
        snapshots = board.snapshots(name)
        rows = []
        for queue in described["queues"]:
            snapshot = snapshots.get(queue["jobQueueArn"])
            listed = snapshot.jobs if snapshot else {}
            counts = Counter(job.get("status") for job in listed.values())
            stuck = _stuck(snapshot, now) if snapshot else []
            rows.append(
                {
                    "name": queue["jobQueueName"],
                    "state": queue.get("state", ""),
                    "status": queue.get("status", ""),
                    "priority": queue.get("priority"),
                    "share_policy": queue.get("schedulingPolicyArn", ""),
                    "environments": [
                        order["computeEnvironment"].rsplit("/", 1)[-1]
                        for order in queue.get("computeEnvironmentOrder", [])
                    ],
                    "counts": [(status, counts.get(status, 0)) for status in jobs.LOOKUP_STATUSES],
                    "stuck": stuck,
                }
            )
        environments = [
            {
                "name": env["computeEnvironmentName"],
                "type": (env.get("computeResources") or {}).get("type", env.get("type", "")),
                "state": env.get("state", ""),
                "status": env.get("status", ""),
                "max_vcpus": (env.get("computeResources") or {}).get("maxvCpus"),
                "reason": env.get("statusReason", ""),
            }
            for env in described["environments"]
        ]
        accounts.append({"name": name, "problem": None, "queues": rows, "environments": environments})
    return {"accounts": accounts, "stuck_after": int(STUCK_SECONDS), "statuses": jobs.LOOKUP_STATUSES}


def _stuck(snapshot: Any, now: float) -> list[dict[str, Any]]:
    """The queue's RUNNABLE jobs that waited STUCK_SECONDS or more, or whose reason says they
    cannot be placed as things are."""
    stuck = []
    for job_id, job in snapshot.jobs.items():
        if job.get("status") != "RUNNABLE":
            continue
        waited = now - _runnable_since(job, snapshot.seen.get(job_id, []), now)
        reason = job_reason(job)
        if waited >= STUCK_SECONDS or is_stuck_reason(reason):
            stuck.append(
                {
                    "id": job_id,
                    "name": job.get("jobName", ""),
                    "reason": reason or "no reason given",
                    "waited": int(waited),
                }
            )
    return stuck


def _runnable_since(job: dict[str, Any], seen: list[tuple[str, float]], now: float) -> float:
    """When the job became RUNNABLE: when the poller saw it so, or, for a job RUNNABLE when first
    seen, its creation (the earliest it can have been)."""
    if seen and seen[-1][0] == "RUNNABLE" and len(seen) > 1:
        return seen[-1][1]
    created = job.get("createdAt")
    return created / 1000 if created else now


def releases(board: Board) -> dict[str, Any]:
    """The matrix of image by account, the differences marked, each with its commands."""
    try:
        cells = board.matrix()
    except Exception as exc:  # noqa: BLE001 - shown on the page rather than a bare 500
        return {"cells": [], "problem": str(exc)}
    return {"cells": cells, "problem": None}
