"""Follow AWS Batch jobs to their end: status changes, array progress, failures, and log lines.

`JobWatcher` polls any number of jobs together and reports each change on one line, plain
text only, so the output reads the same on a terminal and in a CI log. `LogFollower` streams
one job's CloudWatch log lines, attempt by attempt, and can be interrupted and restarted
without printing a line twice or skipping one.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .accounts import Account
from .errors import UserError
from .logs import attempt_streams, log_group
from .retry import transient_kind
from .settings import paths, write_atomic

Echo = Callable[[str], None]

# Kept here rather than imported from jobs.py so that following does not depend on how
# submitting is organised; both follow the Batch API's own limits and states.
FINAL_STATES = ("SUCCEEDED", "FAILED")
DESCRIBE_BATCH = 100  # DescribeJobs takes at most 100 ids per call
BAR_WIDTH = 10
SHOWN_FAILED_CHILDREN = 20
MISSING_POLLS = 3  # a job id DescribeJobs does not know for this many polls in a row is an error
DRAIN_TRIES = 10

log = logging.getLogger("batchform.follow")


def _is_transient(exc: Exception) -> bool:
    """Throttling, a server error or a broken connection: worth asking again after a pause.

    Every call a watcher makes is a read (or a terminate, asked again at the next poll), so
    repeating one is always safe.
    """
    return transient_kind(exc) is not None


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


class JobWatcher:
    """Polls Batch jobs until they end, echoing each change on one line."""

    def __init__(
        self,
        account: Account,
        echo: Echo = print,
        poll: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_poll: float = 30.0,
    ):
        self.account, self.echo, self.poll, self.max_poll = account, echo, poll, max_poll
        self._sleep, self._clock = sleep, clock
        self._stop = threading.Event()
        self._random = random.Random()  # noqa: S311 - jitter, not secrecy

    def stop(self) -> None:
        """Ask a running wait() to return at its next poll, with the statuses it has."""
        self._stop.set()

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
                    if not _is_transient(exc):
                        raise
                    throttled += 1
                    delay = self._backoff(throttled)
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
    def _describe(self, job_ids: list[str]) -> dict[str, dict[str, Any]]:
        batch = self.account.client("batch")
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(job_ids), DESCRIBE_BATCH):
            for job in batch.describe_jobs(jobs=job_ids[start : start + DESCRIBE_BATCH])["jobs"]:
                found[job["jobId"]] = job
        return found

    def _backoff(self, attempt: int) -> float:
        # Exponential with "equal jitter": never below half the ceiling, so the waits keep
        # growing, yet spread so that several watchers do not retry in step.
        ceiling = min(self.max_poll, self.poll * 2**attempt)
        return ceiling / 2 + self._random.uniform(0, ceiling / 2)

    def _pause(self, delay: float) -> None:
        if self._sleep is time.sleep:
            # Ends at once on stop(), even from a signal handler, instead of after the delay.
            self._stop.wait(delay)
        else:
            self._sleep(delay)

    def _with_backoff(self, call: Callable[[], Any]) -> Any:
        attempt = 0
        while True:
            try:
                return call()
            except (ClientError, BotoCoreError) as exc:
                if not _is_transient(exc):
                    raise
                attempt += 1
                self._pause(self._backoff(attempt))

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
        if status != track.status:
            track.status = status
            line = f"{track.label}: {status} after {now - started:.1f} s"
            if status == "FAILED":
                reason, code = job_reason(job), job_exit_code(job)
                if reason:
                    line += f": {reason}"
                if code is not None:
                    line += f" (exit code {code})"
            self.echo(line)
            track.runnable_since = now if status == "RUNNABLE" else None
        props = job.get("arrayProperties") or {}
        size, summary = props.get("size"), props.get("statusSummary")
        if size and summary:
            key = tuple(sorted(summary.items()))
            if key != track.summary:
                track.summary = key
                self.echo(f"{track.label}: {progress_line(size, summary)}")
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
            self.account.client("batch").terminate_job(jobId=track.job_id, reason=f"batchform: {why}")
        except (ClientError, BotoCoreError) as exc:
            if _is_transient(exc):
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
        batch = self.account.client("batch")
        child_ids: list[str] = []
        token: str | None = None
        while True:
            request: dict[str, Any] = {"arrayJobId": parent_id, "jobStatus": "FAILED"}
            if token:
                request["nextToken"] = token
            page = self._with_backoff(lambda request=request: batch.list_jobs(**request))
            child_ids += [summary["jobId"] for summary in page.get("jobSummaryList", [])]
            token = page.get("nextToken")
            if not token:
                break
        child_ids = sorted(dict.fromkeys(child_ids), key=_child_order)
        described = self._with_backoff(lambda: self._describe(child_ids))
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


# ---- log lines ----------------------------------------------------------------------------

# Errors that another try will not fix. Anything else reading a stream (throttling, 5xx, a
# dropped connection) is retried at the next poll from the same position.
PERMANENT_LOG_ERRORS = {
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidParameterException",
    "ValidationException",
}


@dataclass
class _Stream:
    """Where following one log stream has got to.

    `token` is the forward token the last page was read from (None: the head of the stream),
    and `printed` how many events of that page are already printed. Re-reading from `token`
    and skipping `printed` events therefore continues exactly after the last printed line.
    """

    name: str
    attempt: int
    token: str | None = None
    printed: int = 0
    started: bool = False
    error: str | None = None


class LogFollower:
    """Streams a job's CloudWatch log lines, attempt by attempt, with no duplicate and no loss.

    Exactly once, across polls, retries and restarts: each batch of lines is printed first and
    the stream's position (token + count printed) saved after, atomically, in
    `state_dir/<job id>.json`. Saving first would lose the batch if the process died before
    printing it; saving after can only repeat it if the process dies between the two. That
    window is closed for everything Python sees -- an interrupt (Ctrl-C) or a failed write
    there gets the save tried again before the exception goes on -- so only a hard kill in
    that instant repeats (at most) one batch; no line is ever lost. The file is removed once
    the job is final and its streams are drained, so a later follow starts from the top.
    """

    page_size: int | None = None  # events per GetLogEvents page; None: the service's default

    def __init__(
        self,
        account: Account,
        job_id: str,
        echo: Echo = print,
        state_dir: Path | None = None,
        poll: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.account, self.job_id, self.echo, self.poll = account, job_id, echo, poll
        self._sleep, self._clock = sleep, clock
        self.state_file = (state_dir or paths().home / "follow") / f"{job_id}.json"
        self._stop = threading.Event()
        self._group: str | None = None
        self._job: dict[str, Any] | None = None
        self._streams: dict[str, _Stream] = {}
        self._saved: dict[str, dict[str, Any]] = self._load()

    def stop(self) -> None:
        """Ask a running follow() to return at its next poll; the position stays saved."""
        self._stop.set()

    def follow(self, watcher_poll: Callable[[], dict] | None = None) -> int:
        """Print the job's lines as they come until it is final and every stream is drained.

        Returns the number of log lines printed. `watcher_poll`, when given, is called once per
        poll instead of DescribeJobs and returns the job's DescribeJobs entry, or a
        {job id: entry} mapping such as JobWatcher.wait's on_poll receives (a mapping without
        this job -- a throttled poll -- keeps the previous entry).
        """
        printed = 0
        try:
            while True:
                job = self._current(watcher_poll() if watcher_poll else None)
                printed += len(self._pass(job))
                if job is not None and job.get("status") in FINAL_STATES:
                    printed += self._drain(job)
                    self.state_file.unlink(missing_ok=True)
                    return printed
                if self._stop.is_set():
                    return printed
                self._pause(self.poll)
                if self._stop.is_set():
                    return printed
        finally:
            self._stop.clear()

    def read_available(self, job: dict[str, Any] | None = None) -> list[str]:
        """One pass: print, and return, the new lines of every known stream, in order.

        `job` is the job's DescribeJobs entry if the caller has a fresh one; without it the job
        is described here. Attempt headers are printed but not returned.
        """
        return self._pass(job or self._current(None))

    # ---- the job and its streams -----------------------------------------------------------
    def _pass(self, job: dict[str, Any] | None) -> list[str]:
        if job is not None:
            self._learn(job)
        lines: list[str] = []
        for stream in list(self._streams.values()):
            lines += self._read(stream)
        return lines

    def _current(self, polled: dict[str, Any] | None) -> dict[str, Any] | None:
        if polled is not None:
            job = polled if "jobId" in polled else polled.get(self.job_id)
            if job is not None:
                self._job = job
                return job
            if self._job is not None:
                return self._job
        try:
            found = self.account.client("batch").describe_jobs(jobs=[self.job_id])["jobs"]
        except (ClientError, BotoCoreError) as exc:
            if _is_transient(exc):
                return self._job
            raise
        if not found:
            raise UserError(f"no job {self.job_id} in account {self.account.name}")
        self._job = found[0]
        return self._job

    def _learn(self, job: dict[str, Any]) -> None:
        names = attempt_streams(job)
        if names and self._group is None:
            self._group = log_group(self.account, job)
        for name in names:
            if name not in self._streams:
                saved = self._saved.get(name, {})
                self._streams[name] = _Stream(
                    name,
                    attempt=len(self._streams) + 1,
                    token=saved.get("token"),
                    printed=int(saved.get("printed", 0)),
                    started=bool(saved.get("started", False)),
                )

    def _read(self, stream: _Stream) -> list[str]:
        logs = self.account.client("logs")
        lines: list[str] = []
        stream.error = None
        # Bounded: a service handing out ever new tokens with no events must not hold us here.
        for _ in range(10_000):
            request: dict[str, Any] = {
                "logGroupName": self._group,
                "logStreamName": stream.name,
                "startFromHead": True,
            }
            if stream.token:
                request["nextToken"] = stream.token
            if self.page_size:
                request["limit"] = self.page_size
            try:
                page = logs.get_log_events(**request)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code == "ResourceNotFoundException":
                    return lines  # not created yet: the container has not started writing
                if code in PERMANENT_LOG_ERRORS:
                    raise UserError(
                        f"job {self.job_id}: cannot read log stream {self._group}/{stream.name}: {exc}"
                        f" (a stale position? remove {self.state_file} to start over)"
                    ) from None
                stream.error = str(exc)
                return lines
            except BotoCoreError as exc:
                stream.error = str(exc)
                return lines
            sent, next_token = stream.token, page.get("nextForwardToken")
            events = page.get("events", [])
            skip = min(stream.printed, len(events))
            fresh = events[skip:]
            # Printed events beyond this page: it came back shorter than when they were read.
            carried = stream.printed - skip
            try:
                for event in fresh:
                    if not stream.started:
                        stream.started = True
                        if len(self._streams) > 1:
                            self.echo(f"--- attempt {stream.attempt} ({stream.name}) ---")
                    self.echo(event["message"])
                    lines.append(event["message"])
                    stream.printed += 1
                if next_token and next_token != sent:
                    stream.token, stream.printed = next_token, carried
            finally:
                if fresh:
                    self._save()
            # The same token back means the end of the stream, for now.
            if not next_token or next_token == sent:
                return lines
        return lines

    def _drain(self, job: dict[str, Any]) -> int:
        """Read until no stream has an unread error; the pass that saw the job final was the first."""
        printed = 0
        for _ in range(DRAIN_TRIES):
            failing = [s for s in self._streams.values() if s.error]
            if not failing:
                return printed
            self._pause(self.poll)
            printed += len(self._pass(job))
        failing = [s for s in self._streams.values() if s.error]
        if failing:
            detail = "; ".join(f"{s.name}: {s.error}" for s in failing)
            raise UserError(f"job {self.job_id} ended but its log could not be read to the end: {detail}")
        return printed

    def _pause(self, delay: float) -> None:
        if self._sleep is time.sleep:
            self._stop.wait(delay)
        else:
            self._sleep(delay)

    # ---- the saved position ----------------------------------------------------------------
    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise UserError(f"{self.state_file}: unreadable follow position ({exc}); remove it") from None
        streams = data.get("streams") if isinstance(data, dict) else None
        if not isinstance(streams, dict):
            return {}
        return {name: value for name, value in streams.items() if isinstance(value, dict)}

    def _save(self) -> None:
        streams = {
            s.name: {"token": s.token, "printed": s.printed, "started": s.started}
            for s in self._streams.values()
        }
        data = json.dumps({"job_id": self.job_id, "log_group": self._group, "streams": streams}, indent=1)
        try:
            write_atomic(self.state_file, data)
        except BaseException as first:
            # What was just printed must be on disk before anything else happens, or a restart
            # would print it again: one more try, whether a write failed or an interrupt landed.
            try:
                write_atomic(self.state_file, data)
            except Exception as exc:  # noqa: BLE001 - following goes on; only a restart is affected
                log.warning("follow position of job %s not saved: %s", self.job_id, exc)
            if not isinstance(first, Exception):
                raise
