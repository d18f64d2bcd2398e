"""Stream one Batch job's CloudWatch log lines, attempt by attempt, with no duplicate and no loss.

Reads are paced by the account's shared GetLogEvents bucket (`ratelimit.shared`): every
follower of one account and region in the process -- a hundred jobs followed together, or the
children of an array -- draws from the one bucket, so together they stay under the account's
rate (`logs_read_rate`), retries included, since each attempt takes its own token.

Retries: one-attempt clients and `retry.retrying`, never botocore's retries, whose sleeps a
stop() could not end. A throttled or failed read is tried again from the same position (the
same forward token, the same count of events already printed), so a retry can neither skip
nor repeat a line; a read still failing after the policy's tries is tried again at the next
poll, and once the job is final, up to DRAIN_TRIES polls more.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import ratelimit
from .accounts import Account
from .errors import UserError
from .logs import attempt_streams, log_group
from .poll import FINAL_STATES, Echo, Poller, is_transient
from .settings import paths, write_atomic

DRAIN_TRIES = 10
MAX_PAGE = 10_000  # GetLogEvents returns at most this many events (and 1 MB) a page

log = logging.getLogger("batchform.follow")

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


class LogFollower(Poller):
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

    page_size: int | None = None  # events per GetLogEvents page; None: the service's most, MAX_PAGE

    def __init__(
        self,
        account: Account,
        job_id: str,
        echo: Echo = print,
        state_dir: Path | None = None,
        poll: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        bucket: ratelimit.TokenBucket | None = None,
    ):
        super().__init__(sleep, clock)
        self.account, self.job_id, self.echo, self.poll = account, job_id, echo, poll
        # The account's one bucket unless the caller brings its own (a test's, on a fake clock).
        self.bucket = bucket or ratelimit.shared(account, ratelimit.GET_LOG_EVENTS, account.logs_read_rate)
        self.state_file = (state_dir or paths().home / "follow") / f"{job_id}.json"
        self._group: str | None = None
        self._job: dict[str, Any] | None = None
        self._streams: dict[str, _Stream] = {}
        self._saved: dict[str, dict[str, Any]] = self._load()

    def stop(self) -> None:
        """Ask a running follow() to return at once; the position stays saved."""
        super().stop()

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
                    drained, complete = self._drain(job)
                    if complete:
                        self.state_file.unlink(missing_ok=True)
                    return printed + drained
                if self.stopped:
                    return printed
                self._pause(self.poll)
                if self.stopped:
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
        # A running job's stream is read until a page comes back short; a final one's to its end.
        to_the_end = job is not None and job.get("status") in FINAL_STATES
        lines: list[str] = []
        for stream in list(self._streams.values()):
            lines += self._read(stream, to_the_end)
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
            found = self.account.client("batch", retries=False).describe_jobs(jobs=[self.job_id])["jobs"]
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                return self._job  # asked again at the next poll
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

    def _read(self, stream: _Stream, to_the_end: bool) -> list[str]:
        logs = self.account.client("logs", retries=False)
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
            limit = self.page_size or MAX_PAGE
            request["limit"] = limit
            try:
                page = self._get_page(logs, request)
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
            if page is None:
                stream.error = "stopped before reading"  # so a drain does not take the stream as read
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
            # A page short of the limit is, most likely, all there is: the next poll goes on from
            # its token, saving the call that would only say so. A page may also come back short
            # of its 1 MB, so a final job's stream is read until the same token comes back.
            if events and len(events) < limit and not to_the_end:
                return lines
        return lines

    def _get_page(self, logs: Any, request: dict[str, Any]) -> dict[str, Any] | None:
        """One GetLogEvents page, each try taking a token first; None when stop() came first."""
        for attempt in self._retrying():
            with attempt:
                if not self._take(self.bucket):
                    return None
                return logs.get_log_events(**request)
        raise AssertionError("unreachable: the policy returns or raises")

    def _drain(self, job: dict[str, Any]) -> tuple[int, bool]:
        """Read until no stream has an unread error; the pass that saw the job final was the first.

        Returns (lines printed, whether every stream was read to its end): not when stopped.
        """
        printed = tries = 0
        while failing := [s for s in self._streams.values() if s.error]:
            if self.stopped:
                return printed, False
            if tries == DRAIN_TRIES:
                detail = "; ".join(f"{s.name}: {s.error}" for s in failing)
                raise UserError(f"job {self.job_id} ended but its log could not be read to the end: {detail}")
            tries += 1
            self._pause(self.poll)
            printed += len(self._pass(job))
        return printed, True

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
