"""Following many submitted jobs to their end: DescribeJobs calls, ours against one job at a time,
then the same jobs' log lines under the account's one read rate.

ours       batchform.follow.JobWatcher(account, echo=..., poll=...).wait(job_ids)
reference  a loop that polls each job alone (DescribeJobs with one id) until every one is final

Calls are counted with a botocore event hook on the client each side uses. Jobs do not run:
the private emulator marks them SUCCEEDED as they are submitted, so every job is already final
at the first poll and both sides finish in one polling round; the calls per round are what a
longer wait repeats every round.

Logs: N = 1, 100, 1,000 of those jobs (quick: 1, 10) each get one line on their log stream
(the stream DescribeJobs names, in the definition's group), written before following starts;
JobWatcher.wait gives the descriptions, and one LogFollower per job prints the lines, all
drawing from the account's one GetLogEvents bucket (bench.logs.follow_many). Reported: the
calls per second against that rate, and each line's latency from being written to being
printed, which here is the time the followers take to come round to its stream.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batchform.follow import FINAL_STATES, JobWatcher

from bench import logs as logbench
from bench.stack import LOG_GROUP, Echo, PrivateStack, Result, call_counter, number, standalone, timed

FULL_JOBS, QUICK_JOBS = 1000, 50
FULL_FOLLOWED, QUICK_FOLLOWED = (1, 100, 1000), (1, 10)
POLL = 2.0  # JobWatcher's default


def _submit(stack: PrivateStack, count: int) -> list[str]:
    """Setup, not measured: `count` jobs submitted straight through boto3."""
    account = stack.local
    target = stack.job_target(account)
    batch = account.client("batch")
    return [
        batch.submit_job(jobName=f"follow-{i}", jobQueue=target.queue, jobDefinition=target.definition)[
            "jobId"
        ]
        for i in range(count)
    ]


def _ours(stack: PrivateStack, job_ids: list[str]) -> tuple[int, int, float, int]:
    """(DescribeJobs calls, polling rounds, seconds, jobs final) for JobWatcher.wait."""
    account = stack.local
    # The watcher's own client: one attempt per call, so each call counted is one sent.
    calls = call_counter(account.client("batch", retries=False), "batch.DescribeJobs")
    rounds = [0]
    printed: list[str] = []
    watcher = JobWatcher(account, echo=printed.append, poll=POLL)
    with timed() as elapsed:
        outcomes = watcher.wait(job_ids, on_poll=lambda _described: rounds.__setitem__(0, rounds[0] + 1))
    succeeded = sum(1 for outcome in outcomes.values() if outcome.status in FINAL_STATES)
    counted = calls.stop()
    if succeeded and not counted:
        raise RuntimeError(
            f"{succeeded} jobs seen final and no DescribeJobs call counted: a counter missed them"
        )
    return counted, rounds[0], elapsed(), succeeded


def _one_at_a_time(stack: PrivateStack, job_ids: list[str]) -> tuple[int, int, float, int]:
    """The same wait, asking about each job alone, as a loop of `aws batch describe-jobs --jobs ID` does."""
    account = stack.local
    batch = account.client("batch")
    calls = call_counter(batch, "batch.DescribeJobs")
    pending = list(job_ids)
    rounds = 0
    with timed() as elapsed:
        while pending:
            rounds += 1
            pending = [
                job_id
                for job_id in pending
                if batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] not in FINAL_STATES
            ]
            if pending:
                time.sleep(POLL)
    return calls.stop(), rounds, elapsed(), len(job_ids) - len(pending)


def _with_logs(stack: PrivateStack, job_ids: list[str]) -> logbench.Reading:
    """The jobs' statuses from JobWatcher.wait, then their log lines, one written on each stream."""
    account = logbench.account(stack)
    described: dict[str, dict] = {}
    JobWatcher(account, echo=lambda _line: None, poll=POLL).wait(job_ids, on_poll=described.update)
    logs = stack.local.client("logs")
    if not logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"]:
        logs.create_log_group(logGroupName=LOG_GROUP)
    written: dict[str, float] = {}
    for n, job_id in enumerate(job_ids):  # setup, before following: these jobs are already final
        stream = described[job_id]["container"]["logStreamName"]
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        message = f"job {n:05d} line 0"
        event = {"timestamp": int(time.time() * 1000), "message": message}
        logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=[event])
        written[message] = time.perf_counter()
    return logbench.follow_many(
        account,
        {job_id: described[job_id] for job_id in job_ids},
        written=lambda: written,
        expected=len(job_ids),
        state_dir=stack.scratch(f"follow-jobs-{len(job_ids)}"),
    )


def bench(stack: PrivateStack, quick: bool, echo: Echo) -> Result:
    count = QUICK_JOBS if quick else FULL_JOBS
    echo(f"# follow: {count} submitted jobs to completion")
    job_ids = _submit(stack, count)
    ours_calls, ours_rounds, ours_seconds, ours_done = _ours(stack, job_ids)
    ref_calls, ref_rounds, ref_seconds, ref_done = _one_at_a_time(stack, job_ids)
    per_round = ours_calls / ours_rounds
    target = math.ceil(count / 100)
    details = [
        f"{count} jobs; ours: JobWatcher(poll={POLL:g}).wait, {ours_rounds} round(s), "
        f"{ours_calls} DescribeJobs call(s) in all, {number(ours_seconds)} s, {ours_done} final",
        f"reference: DescribeJobs per job, {ref_rounds} round(s), {ref_calls} call(s) in all, "
        f"{number(ref_seconds)} s, {ref_done} final",
        f"target <= ceil(N/100) = {target} calls per round: {'met' if per_round <= target else 'NOT met'}",
        "jobs are final when submitted (no containers), so each side needs one round",
    ]
    readings = []
    for followed in QUICK_FOLLOWED if quick else FULL_FOLLOWED:
        echo(f"# follow: {followed} job(s) with their logs at {logbench.RATE:g} GetLogEvents calls/s")
        readings.append(_with_logs(stack, _submit(stack, followed)))
    details.append("jobs followed with their logs, one LogFollower per job, one shared bucket:")
    details += [f"  {reading.line()}" for reading in readings]
    return Result("follow", per_round, ref_calls / ref_rounds, "DescribeJobs calls/round", "lower", details)


def main(argv: list[str] | None = None) -> int:
    return standalone("follow", bench, argv)


if __name__ == "__main__":
    sys.exit(main())
