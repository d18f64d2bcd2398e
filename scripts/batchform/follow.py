"""Follow AWS Batch jobs to their end: status changes, array progress and failures.

`JobWatcher` polls any number of jobs together and reports each change on one line, plain
text only, so the output reads the same on a terminal and in a CI log. The log lines are
`logfollow.LogFollower`'s, re-exported here with the rest of following.

Retries: DescribeJobs goes through a one-attempt client, and the polling loop is its only
retry -- a throttled or failed poll is asked again after `retry.backoff` (full jitter, capped
at `max_poll`) instead of the poll interval. botocore's retries would sleep under that loop
where stop() cannot end the wait; the one-attempt client keeps every wait interruptible. The
one-off reads at a job's end (its failed children) use `retry.retrying` with the same waits.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import retry
from .accounts import Account
from .batchlimits import DESCRIBE_BATCH
from .errors import UserError
from .logfollow import DRAIN_TRIES, PERMANENT_LOG_ERRORS, LogFollower
from .poll import FINAL_STATES, Echo, Poller, is_transient

__all__ = [
    "DRAIN_TRIES",
    "FINAL_STATES",
    "PERMANENT_LOG_ERRORS",
    "Echo",
    "JobOutcome",
    "JobWatcher",
    "LogFollower",
    "is_stuck_reason",
    "job_exit_code",
    "job_reason",
    "progress_line",
]

BAR_WIDTH = 10
SHOWN_FAILED_CHILDREN = 20
MISSING_POLLS = 3  # a job id DescribeJobs does not know for this many polls in a row is an error


def job_reason(job: dict[str, Any]) -> str:
    """Why the job is where it is: its statusReason, else its last attempt's, else a container's."""
    if job.get("statusReason"):
        return job["statusReason"]
    attempts = job.get("attempts") or []
    if attempts:
        last = attempts[-1]
        reason = last.get("statusReason") or (last.get("container") or {}).get("reason")
        if reason:
            return reason
    return (job.get("container") or {}).get("reason") or ""


def job_exit_code(job: dict[str, Any]) -> int | None:
    """The container's exit code, else the last attempt's; None when no container has ended."""
    code = (job.get("container") or {}).get("exitCode")
    if code is None and job.get("attempts"):
        code = (job["attempts"][-1].get("container") or {}).get("exitCode")
    return code


def is_stuck_reason(reason: str) -> bool:
    """Whether a RUNNABLE job's statusReason says it cannot be placed as things are."""
    return (
        reason.startswith("MISCONFIGURATION:")
        or reason.startswith("CAPACITY:")
        or "misconfiguration" in reason.lower()
    )


def progress_line(size: int, summary: dict[str, int]) -> str:
    """`[#####.....] 5/10 done (4 succeeded, 1 failed, 3 running, 2 pending)` for an array parent."""
    succeeded, failed = summary.get("SUCCEEDED", 0), summary.get("FAILED", 0)
    running = summary.get("STARTING", 0) + summary.get("RUNNING", 0)
    done = succeeded + failed
    # Children Batch has not created yet appear in no count: they are pending too.
    pending = max(0, size - done - running)
    filled = min(BAR_WIDTH, done * BAR_WIDTH // size) if size else 0
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    return (
        f"[{bar}] {done}/{size} done "
        f"({succeeded} succeeded, {failed} failed, {running} running, {pending} pending)"
    )


def _child_order(child_id: str) -> tuple[int, str]:
    index = child_id.rpartition(":")[2]
    return (int(index), child_id) if index.isdigit() else (-1, child_id)


@dataclass
class JobOutcome:
    job_id: str
    name: str
    status: str
    reason: str = ""
    exit_code: int | None = None
    array_size: int | None = None
    summary: dict[str, int] = field(default_factory=dict)
    failed_children: list[tuple[str, str, int | None]] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED" and not self.failed_children

    @classmethod
    def of(cls, job: dict[str, Any]) -> JobOutcome:
        props = job.get("arrayProperties") or {}
        return cls(
            job_id=job["jobId"],
            name=job.get("jobName", ""),
            status=job.get("status", "UNKNOWN"),
            reason=job_reason(job),
            exit_code=job_exit_code(job),
            array_size=props.get("size"),
            summary=dict(props.get("statusSummary") or {}),
        )


@dataclass
class _Track:
    """What the watcher last said about one job."""

    job_id: str
    job: dict[str, Any] | None = None
    status: str | None = None
    summary: tuple[tuple[str, int], ...] | None = None
    runnable_since: float | None = None
    stuck_reasons: set[str] = field(default_factory=set)
    terminated: bool = False
    missing: int = 0

    @property
    def label(self) -> str:
        name = (self.job or {}).get("jobName", "")
        return f"{name} ({self.job_id})" if name else self.job_id


class JobWatcher(Poller):
    """Polls Batch jobs until they end, echoing each change on one line.

    With `progress`, a job's changes before its end (its status, an array's children by status)
    go there instead, as (job label, its line now): for a terminal to show one line per job,
    updated in place. A job's end, its failed children and a stuck job are echoed either way.
    """

    def __init__(
        self,
        account: Account,
        echo: Echo = print,
        poll: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_poll: float = 30.0,
        progress: Callable[[str, str], None] | None = None,
    ):
        super().__init__(sleep, clock)
        self.account, self.echo, self.poll, self.max_poll = account, echo, poll, max_poll
        self.progress = progress
        self._random = random.Random()  # noqa: S311 - jitter, not secrecy

    def stop(self) -> None:
        """Ask a running wait() to return at once, with the statuses it has."""
        super().stop()

    def wait(
        self,
        job_ids: list[str],
        timeout: float | None = None,
        runnable_timeout: float | None = None,
        on_poll: Callable[[dict[str, dict]], None] | None = None,
    ) -> dict[str, JobOutcome]:
        """Poll until every job is final (or stop()); returns one outcome per job id, in order.

        on_poll gets each poll's descriptions ({job id: DescribeJobs entry}) of the jobs still
        being watched, including the poll where a job turns final. Raises UserError when
        `timeout` seconds pass first, naming the unfinished jobs.
        """
        ids = list(dict.fromkeys(job_ids))
        tracks = {job_id: _Track(job_id) for job_id in ids}
        outcomes: dict[str, JobOutcome] = {}
        pending = list(ids)
        started = self._clock()
        throttled = 0
        try:
            while pending:
                delay = self.poll
                try:
                    described = self._describe(pending)
                except (ClientError, BotoCoreError) as exc:
                    if not is_transient(exc):
                        raise
                    throttled += 1
                    delay = retry.backoff(throttled, base=self.poll, cap=self.max_poll, rng=self._random)
                else:
                    throttled = 0
                    for job_id in pending:
                        self._observe(tracks[job_id], described.get(job_id), started, runnable_timeout)
                    if on_poll is not None:
                        on_poll(described)
                    for job_id in list(pending):
                        job = described.get(job_id)
                        if job is not None and job["status"] in FINAL_STATES:
                            outcomes[job_id] = self._finish(tracks[job_id], job)
                            pending.remove(job_id)
                if not pending or self._stop.is_set():
                    break
                elapsed = self._clock() - started
                if timeout is not None:
                    if elapsed >= timeout:
                        unfinished = ", ".join(
                            f"{tracks[j].label} {tracks[j].status or 'not seen'}" for j in pending
                        )
                        raise UserError(
                            f"{len(pending)} job(s) not finished after {timeout:g} s: {unfinished}"
                        )
                    delay = min(delay, timeout - elapsed)
                self._pause(delay)
                if self._stop.is_set():
                    break
        finally:
            self._stop.clear()
        for job_id in pending:
            job = tracks[job_id].job
            outcomes[job_id] = JobOutcome.of(job) if job else JobOutcome(job_id, "", "UNKNOWN")
        return {job_id: outcomes[job_id] for job_id in ids}

    # ---- one poll ------------------------------------------------------------------------
    def _batch(self) -> Any:
        return self.account.client("batch", retries=False)

    def _describe(self, job_ids: list[str]) -> dict[str, dict[str, Any]]:
        batch = self._batch()
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(job_ids), DESCRIBE_BATCH):
            for job in batch.describe_jobs(jobs=job_ids[start : start + DESCRIBE_BATCH])["jobs"]:
                found[job["jobId"]] = job
        return found

    def _with_retries(self, call: Callable[[], Any]) -> Any:
        for attempt in self._retrying():
            with attempt:
                return call()
        raise AssertionError("unreachable: the policy returns or raises")

    def _observe(
        self, track: _Track, job: dict[str, Any] | None, started: float, runnable_timeout: float | None
    ) -> None:
        if job is None:
            track.missing += 1
            if track.missing >= MISSING_POLLS:
                raise UserError(f"no job {track.job_id} in account {self.account.name}")
            return
        track.missing = 0
        track.job = job
        now = self._clock()
        status = job["status"]
        ended = status != track.status and status in FINAL_STATES
        if status != track.status:
            track.status = status
            line = f"{track.label}: {status} after {now - started:.1f} s"
            if status == "FAILED":
                reason, code = job_reason(job), job_exit_code(job)
                if reason:
                    line += f": {reason}"
                if code is not None:
                    line += f" (exit code {code})"
            if self.progress is None or status in FINAL_STATES:
                self.echo(line)
            track.runnable_since = now if status == "RUNNABLE" else None
        props = job.get("arrayProperties") or {}
        size, summary = props.get("size"), props.get("statusSummary")
        if size and summary:
            key = tuple(sorted(summary.items()))
            if key != track.summary:
                track.summary = key
                if self.progress is None:
                    self.echo(f"{track.label}: {progress_line(size, summary)}")
        if self.progress is not None:
            array = f" {progress_line(size, summary or {})}" if size else ""
            if ended and size:  # the children's tally at the end stays, as it does off a terminal
                self.echo(f"{track.label}:{array}")
            self.progress(track.label, f"{status} after {now - started:.0f} s{array}")
        if status == "RUNNABLE":
            self._check_runnable(track, job, now, runnable_timeout)

    def _check_runnable(
        self, track: _Track, job: dict[str, Any], now: float, runnable_timeout: float | None
    ) -> None:
        reason = job.get("statusReason") or ""
        if is_stuck_reason(reason) and reason not in track.stuck_reasons:
            track.stuck_reasons.add(reason)
            self.echo(f"{track.label}: stuck in RUNNABLE: {reason}")
        if (
            runnable_timeout is None
            or track.terminated
            or track.runnable_since is None
            or now - track.runnable_since <= runnable_timeout
        ):
            return
        why = f"RUNNABLE for more than {runnable_timeout:g} s"
        try:
            self._batch().terminate_job(jobId=track.job_id, reason=f"batchform: {why}")
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                return  # tried again at the next poll
            raise
        track.terminated = True
        self.echo(f"{track.label}: {why}, terminated")

    # ---- the end of a job ------------------------------------------------------------------
    def _finish(self, track: _Track, job: dict[str, Any]) -> JobOutcome:
        outcome = JobOutcome.of(job)
        if outcome.array_size and (outcome.status == "FAILED" or outcome.summary.get("FAILED")):
            outcome.failed_children = self._failed_children(track.job_id)
            self._echo_failed_children(track, outcome.failed_children)
        return outcome

    def _failed_children(self, parent_id: str) -> list[tuple[str, str, int | None]]:
        batch = self._batch()
        child_ids: list[str] = []
        token: str | None = None
        while True:
            request: dict[str, Any] = {"arrayJobId": parent_id, "jobStatus": "FAILED"}
            if token:
                request["nextToken"] = token
            page = self._with_retries(lambda request=request: batch.list_jobs(**request))
            child_ids += [summary["jobId"] for summary in page.get("jobSummaryList", [])]
            token = page.get("nextToken")
            if not token:
                break
        child_ids = sorted(dict.fromkeys(child_ids), key=_child_order)
        described = self._with_retries(lambda: self._describe(child_ids))
        children = []
        for child_id in child_ids:
            child = described.get(child_id, {})
            children.append((child_id, job_reason(child), job_exit_code(child)))
        return children

    def _echo_failed_children(self, track: _Track, children: list[tuple[str, str, int | None]]) -> None:
        if not children:
            return
        self.echo(f"{track.label}: {len(children)} failed child job(s):")
        for child_id, reason, code in children[:SHOWN_FAILED_CHILDREN]:
            line = f"  {child_id}: {reason or 'no reason given'}"
            self.echo(line if code is None else f"{line} (exit code {code})")
        if len(children) > SHOWN_FAILED_CHILDREN:
            self.echo(f"  ... and {len(children) - SHOWN_FAILED_CHILDREN} more")
