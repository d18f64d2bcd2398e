"""Log latency: from a line reaching CloudWatch Logs to the follower printing it.

A writer thread calls PutLogEvents, one line at a time, on the log stream of a submitted job
while the follower runs; each line's latency is the time from PutLogEvents returning to the
follower handing the line on (its echo), on the same clock.

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
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batchform.follow import LogFollower

from bench.stack import LOG_GROUP, Echo, PrivateStack, Result, aws_cli, cli_env, number, standalone

FULL_LINES, QUICK_LINES = 100, 20
INTERVAL = 0.1  # seconds between two lines of the writer
POLL = 2.0  # LogFollower's default
TAIL_POLL = 5.0  # `aws logs tail --follow` polls every 5 seconds
GRACE = 15.0  # after the last line, how long a side may take to print everything


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


def bench(stack: PrivateStack, quick: bool, echo: Echo) -> Result:
    count = QUICK_LINES if quick else FULL_LINES
    echo(f"# logs: latency of {count} lines, one every {INTERVAL:g} s")
    ours = _ours(stack, count)
    reference = _tail_reference(stack, count, echo)
    details = [
        f"ours: LogFollower.read_available() every {POLL:g} s (LogFollower's default poll): "
        f"median {number(statistics.median(ours))} s, worst {number(max(ours))} s, {len(ours)}/{count} lines",
        f"reference: `aws logs filter-log-events` (awscli 1.x) every {TAIL_POLL:g} s, as `aws logs tail "
        f"--follow` (CLI v2 only) polls: median {number(statistics.median(reference))} s, worst "
        f"{number(max(reference))} s, {len(reference)}/{count} lines",
    ]
    return Result("logs", statistics.median(ours), statistics.median(reference), "s median", "lower", details)


def main(argv: list[str] | None = None) -> int:
    return standalone("logs", bench, argv)


if __name__ == "__main__":
    sys.exit(main())
