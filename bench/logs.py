"""Log latency, from a line reaching CloudWatch Logs to the follower printing it, and read rate.

A writer thread calls PutLogEvents, one line at a time, on the log stream of a submitted job
while the follower runs; each line's latency is the time from PutLogEvents returning to the
follower handing the line on (its echo), on the same clock.

Then N = 1, 100, 1,000 streams (quick: 1, 10) are followed together, one LogFollower each,
by a few threads, all drawing from the account's one GetLogEvents bucket at the default rate:
the calls per second (counted on the followers' shared client, each call's time kept) must
stay under that rate, and each line's latency grows with N / rate, the time a pass over every
stream takes. One line is written on each stream (on the one stream: as many as above) while
they are followed; the job entries name the streams as DescribeJobs would, so no Batch call
is made. A line printed twice or never, or lines printed with no call counted, raise.

ours       batchform.follow.LogFollower(account, job_id, echo=..., poll=2.0).read_available(),
           called every `poll` seconds, which is the body of LogFollower.follow(): one pass
           (DescribeJobs, then GetLogEvents on each of the job's streams) and a pause. follow()
           itself is not called because it returns once the job is final and drained, and the
           emulator's jobs are final as soon as they are submitted (no containers run);
           the follower finds the stream exactly as for a running job, from DescribeJobs
           (container.logStreamName and the definition's awslogs group).
reference  what `aws logs tail --follow` does: FilterLogEvents on the stream from the newest
           timestamp seen, every 5 seconds, printing events not seen before. `logs tail` is
           only in AWS CLI v2, which is not published on PyPI, so each poll is one run of
           `aws logs filter-log-events` from AWS CLI v1 (PyPI, pinned), started on the same
           5-second cadence; its stdout is read when the process ends.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batchform import ratelimit
from batchform.accounts import Account
from batchform.follow import FINAL_STATES, LogFollower

from bench.stack import (
    LOG_GROUP,
    LOG_PREFIX,
    Echo,
    PrivateStack,
    Result,
    aws_cli,
    cli_env,
    number,
    standalone,
)

FULL_LINES, QUICK_LINES = 100, 20
INTERVAL = 0.1  # seconds between two lines of the writer
POLL = 2.0  # LogFollower's default
TAIL_POLL = 5.0  # `aws logs tail --follow` polls every 5 seconds
GRACE = 15.0  # after the last line, how long a side may take to print everything
FULL_STREAMS, QUICK_STREAMS = (1, 100, 1000), (1, 10)
RATE = ratelimit.DEFAULT_RATES[ratelimit.GET_LOG_EVENTS]  # what an account gets without logs_read_rate
WORKERS = 8  # threads over the followers: the bucket, not the threads, sets the pace
WINDOW = 10.0  # seconds: the window of the busiest-rate figure
EVENT = "before-call.logs.GetLogEvents"


class _Writer(threading.Thread):
    """Writes `count` lines to one stream, recording when each PutLogEvents returned."""

    def __init__(self, stack: PrivateStack, stream: str, count: int, tag: str):
        super().__init__(name=f"writer-{tag}", daemon=True)
        self.logs = stack.local.client("logs")
        self.stream, self.count, self.tag = stream, count, tag
        self.written: dict[str, float] = {}

    def run(self) -> None:
        for i in range(self.count):
            message = f"{self.tag} line {i:04d}"
            self.logs.put_log_events(
                logGroupName=LOG_GROUP,
                logStreamName=self.stream,
                logEvents=[{"timestamp": int(time.time() * 1000), "message": message}],
            )
            self.written[message] = time.perf_counter()
            time.sleep(INTERVAL)


def _job_stream(stack: PrivateStack, name: str) -> tuple[str, str]:
    """A submitted job and its log stream, created empty (as the awslogs driver creates it)."""
    account = stack.local
    target = stack.job_target(account)
    job_id = account.client("batch").submit_job(
        jobName=name, jobQueue=target.queue, jobDefinition=target.definition
    )["jobId"]
    job = account.client("batch").describe_jobs(jobs=[job_id])["jobs"][0]
    stream = job["container"]["logStreamName"]
    logs = account.client("logs")
    if not logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"]:
        logs.create_log_group(logGroupName=LOG_GROUP)
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    return job_id, stream


def _latencies(writer: _Writer, seen: dict[str, float]) -> list[float]:
    return [max(0.0, seen[m] - at) for m, at in writer.written.items() if m in seen]


def _ours(stack: PrivateStack, count: int) -> list[float]:
    job_id, stream = _job_stream(stack, "logs-ours")
    seen: dict[str, float] = {}

    def printed(line: str) -> None:
        seen.setdefault(line, time.perf_counter())

    follower = LogFollower(stack.local, job_id, echo=printed, state_dir=stack.scratch("follow"), poll=POLL)
    writer = _Writer(stack, stream, count, "ours")
    writer.start()
    deadline = None
    while len(seen) < count:
        follower.read_available()
        if not writer.is_alive():
            deadline = deadline or time.monotonic() + GRACE
            if time.monotonic() > deadline:
                break
        time.sleep(POLL)
    writer.join()
    return _latencies(writer, seen)


def _tail_reference(stack: PrivateStack, count: int, echo: Echo) -> list[float]:
    aws = aws_cli(echo)
    _job_id, stream = _job_stream(stack, "logs-reference")
    env = cli_env(stack.local, stack.workdir)
    seen: dict[str, float] = {}
    event_ids: set[str] = set()
    start_time = int(time.time() * 1000) - 60_000
    writer = _Writer(stack, stream, count, "reference")
    writer.start()
    deadline = None
    while len(seen) < count:
        began = time.monotonic()
        out = subprocess.run(
            [
                str(aws),
                "logs",
                "filter-log-events",
                "--endpoint-url",
                stack.settings.emulator_url,
                "--log-group-name",
                LOG_GROUP,
                "--log-stream-names",
                stream,
                "--start-time",
                str(start_time),
                "--output",
                "json",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        now = time.perf_counter()
        for event in json.loads(out.stdout or "{}").get("events", []):
            if event["eventId"] not in event_ids:
                event_ids.add(event["eventId"])
                seen.setdefault(event["message"], now)
                start_time = max(start_time, event["timestamp"])
        if not writer.is_alive():
            deadline = deadline or time.monotonic() + GRACE
            if time.monotonic() > deadline:
                break
        time.sleep(max(0.0, TAIL_POLL - (time.monotonic() - began)))
    writer.join()
    return _latencies(writer, seen)


# ---- many streams under the account's rate ------------------------------------------------------


class ReadCalls:
    """When each GetLogEvents call left, on one client, from a botocore event hook."""

    def __init__(self, client: Any):
        self.client, self.times = client, []
        client.meta.events.register(EVENT, self._seen)

    def _seen(self, **_kwargs: Any) -> None:
        self.times.append(time.perf_counter())

    def stop(self) -> list[float]:
        self.client.meta.events.unregister(EVENT, self._seen)
        return self.times


@dataclass
class Reading:
    """What following `streams` streams under one shared bucket measured."""

    streams: int
    lines: int
    calls: int
    span: float  # seconds from the first GetLogEvents call to the last
    busiest: float  # calls per second in the busiest window of WINDOW seconds
    latencies: list[float]
    rate: float
    burst: float

    @property
    def per_second(self) -> float:
        return self.calls / self.span if self.span else math.inf

    @property
    def beyond_burst(self) -> float:
        """Calls per second once the first burst is spent: what the rate bounds."""
        return max(0.0, self.calls - self.burst) / self.span if self.span else 0.0

    @property
    def within_rate(self) -> bool:
        """The bucket's promise: at most `rate` calls a second, after one burst (one call of slack
        for the moment between taking a token and the call leaving)."""
        return self.calls <= self.rate * self.span + self.burst + 1

    def line(self) -> str:
        met = "met" if self.within_rate else "NOT met"
        return (
            f"N={self.streams}: {self.calls} GetLogEvents calls in {number(self.span)} s, "
            f"{number(self.beyond_burst)} calls/s beyond the first burst of {self.burst:g} "
            f"(target <= {self.rate:g}/s: {met}; mean {number(self.per_second)}/s, busiest {WINDOW:g} s "
            f"{number(self.busiest)}/s); line latency median {number(statistics.median(self.latencies))} s, "
            f"worst {number(max(self.latencies))} s; {self.lines} line(s), each printed once"
        )


def busiest(times: list[float], window: float = 10.0) -> float:
    """Calls per second in the busiest `window` seconds (the whole span when shorter)."""
    if not times:
        return 0.0
    window = min(window, max(times) - min(times)) or 1.0
    ordered, most, start = sorted(times), 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] > window:
            start += 1
        most = max(most, end - start + 1)
    return most / window


def follow_many(
    account: Account,
    jobs: dict[str, dict[str, Any]],
    written: Callable[[], dict[str, float]],
    expected: int,
    state_dir: Path,
    writing: Callable[[], bool] = lambda: False,
) -> Reading:
    """Follow every job's log with one LogFollower each, WORKERS threads over them, until
    `expected` lines are printed; `written()` says when each line was written. A running job's
    follower reads every POLL seconds; a final job's follows it to its end once.

    Every follower reads through the account's one shared bucket (the followers share the
    account's one-attempt logs client, where the calls are counted). Raises when a line is
    printed twice, when one never is, or when lines were printed and no call was counted.
    """
    ratelimit.reset()  # a full bucket, its count from zero
    bucket = ratelimit.shared(account, ratelimit.GET_LOG_EVENTS, account.logs_read_rate)
    calls = ReadCalls(account.client("logs", retries=False))
    seen: dict[str, float] = {}
    twice: list[str] = []
    lock = threading.Lock()

    def printed(line: str) -> None:
        with lock:
            if line in seen:
                twice.append(line)
            seen.setdefault(line, time.perf_counter())

    followers = [
        (LogFollower(account, job_id, echo=printed, state_dir=state_dir, poll=POLL), job)
        for job_id, job in jobs.items()
    ]
    deadline = time.monotonic() + GRACE + 3 * len(jobs) / bucket.rate
    done = threading.Event()

    def work(mine: list[tuple[LogFollower, dict[str, Any]]]) -> None:
        while mine and not done.is_set():
            began = time.monotonic()
            for follower, job in list(mine):
                if job.get("status") in FINAL_STATES:
                    # As the command line does once a job is over: read to the end, then leave it.
                    follower.follow(watcher_poll=lambda job=job: job)
                    mine.remove((follower, job))
                else:
                    follower.read_available(job)
                if done.is_set():
                    return
            done.wait(max(0.0, POLL - (time.monotonic() - began)))

    workers = [
        threading.Thread(target=work, args=(followers[i::WORKERS],), daemon=True)
        for i in range(min(WORKERS, len(followers)))
    ]
    for worker in workers:
        worker.start()
    while (len(seen) < expected or writing()) and time.monotonic() < deadline:
        time.sleep(0.05)
    done.set()
    for follower, _job in followers:
        follower.stop()  # ends a wait for a token at once
    for worker in workers:
        worker.join()
    times = calls.stop()
    at = written()
    if twice:
        raise RuntimeError(f"{len(twice)} line(s) printed twice, e.g. {twice[0]!r}")
    missing = [line for line in at if line not in seen]
    if missing or len(at) != expected:
        raise RuntimeError(f"{len(missing)} of {len(at)} written line(s) never printed (expected {expected})")
    if seen and not times:
        raise RuntimeError(
            f"{len(seen)} lines printed and no GetLogEvents call counted: the counter missed them"
        )
    if bucket.taken != len(times):
        raise RuntimeError(f"{len(times)} GetLogEvents calls counted, {bucket.taken} tokens taken")
    return Reading(
        streams=len(jobs),
        lines=len(seen),
        calls=len(times),
        span=(max(times) - min(times)) if len(times) > 1 else 0.0,
        busiest=busiest(times, WINDOW),
        latencies=[max(0.0, seen[line] - when) for line, when in at.items()],
        rate=bucket.rate,
        burst=bucket.capacity,
    )


def _streams(stack: PrivateStack, count: int) -> dict[str, dict[str, Any]]:
    """`count` empty streams and a job entry naming each, as DescribeJobs would (not measured)."""
    logs = stack.local.client("logs")
    if not logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"]:
        logs.create_log_group(logGroupName=LOG_GROUP)
    jobs: dict[str, dict[str, Any]] = {}
    for _ in range(count):
        job_id = str(uuid.uuid4())
        stream = f"{LOG_PREFIX}/default/{job_id}"
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        jobs[job_id] = {
            "jobId": job_id,
            "status": "RUNNING",
            "container": {
                "logStreamName": stream,
                "logConfiguration": {"options": {"awslogs-group": LOG_GROUP}},
            },
        }
    return jobs


def _many(stack: PrivateStack, count: int, lines: int) -> Reading:
    """`count` streams written to while followed: `lines` on one stream, else one line on each."""
    jobs = _streams(stack, count)
    streams = [job["container"]["logStreamName"] for job in jobs.values()]
    writers = [_Writer(stack, streams[0], lines, "n1")] if count == 1 else [_FanWriter(stack, streams)]
    for writer in writers:
        writer.start()
    reading = follow_many(
        account(stack),
        jobs,
        written=lambda: {m: at for w in writers for m, at in w.written.items()},
        expected=lines if count == 1 else count,
        state_dir=stack.scratch(f"follow-{count}"),
        writing=lambda: any(w.is_alive() for w in writers),
    )
    for writer in writers:
        writer.join()
    return reading


class _FanWriter(threading.Thread):
    """One line on each of many streams, one stream after another, as fast as PutLogEvents returns."""

    def __init__(self, stack: PrivateStack, streams: list[str]):
        super().__init__(name="writer-fan", daemon=True)
        self.logs = stack.local.client("logs")
        self.streams = streams
        self.written: dict[str, float] = {}

    def run(self) -> None:
        for i, stream in enumerate(self.streams):
            message = f"stream {i:05d} line 0"
            self.logs.put_log_events(
                logGroupName=LOG_GROUP,
                logStreamName=stream,
                logEvents=[{"timestamp": int(time.time() * 1000), "message": message}],
            )
            self.written[message] = time.perf_counter()


def account(stack: PrivateStack) -> Account:
    """The local account, reading logs at the rate an account gets by default."""
    return replace(stack.local, logs_read_rate=RATE)


def bench(stack: PrivateStack, quick: bool, echo: Echo) -> Result:
    count = QUICK_LINES if quick else FULL_LINES
    echo(f"# logs: latency of {count} lines, one every {INTERVAL:g} s")
    ours = _ours(stack, count)
    reference = _tail_reference(stack, count, echo)
    readings = []
    for streams in QUICK_STREAMS if quick else FULL_STREAMS:
        echo(f"# logs: {streams} stream(s) followed together at {RATE:g} GetLogEvents calls/s")
        readings.append(_many(stack, streams, count))
    details = [
        f"ours: LogFollower.read_available() every {POLL:g} s (LogFollower's default poll): "
        f"median {number(statistics.median(ours))} s, worst {number(max(ours))} s, {len(ours)}/{count} lines",
        f"reference: `aws logs filter-log-events` (awscli 1.x) every {TAIL_POLL:g} s, as `aws logs tail "
        f"--follow` (CLI v2 only) polls: median {number(statistics.median(reference))} s, worst "
        f"{number(max(reference))} s, {len(reference)}/{count} lines",
        f"streams followed together, {WORKERS} threads over one LogFollower per stream, one shared bucket:",
        *(f"  {reading.line()}" for reading in readings),
    ]
    return Result("logs", statistics.median(ours), statistics.median(reference), "s median", "lower", details)


def main(argv: list[str] | None = None) -> int:
    return standalone("logs", bench, argv)


if __name__ == "__main__":
    sys.exit(main())
