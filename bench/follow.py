"""Following many submitted jobs to their end: DescribeJobs calls, ours against one job at a time.

ours       batchform.follow.JobWatcher(account, echo=..., poll=...).wait(job_ids)
reference  a loop that polls each job alone (DescribeJobs with one id) until every one is final

Calls are counted with a botocore event hook on the client each side uses. Jobs do not run:
the private emulator marks them SUCCEEDED as they are submitted, so every job is already final
at the first poll and both sides finish in one polling round; the calls per round are what a
longer wait repeats every round.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batchform.follow import FINAL_STATES, JobWatcher

from bench.stack import Echo, PrivateStack, Result, call_counter, number, standalone, timed

FULL_JOBS, QUICK_JOBS = 1000, 50
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
    calls = call_counter(account.client("batch"), "batch.DescribeJobs")
    rounds = [0]
    printed: list[str] = []
    watcher = JobWatcher(account, echo=printed.append, poll=POLL)
    with timed() as elapsed:
        outcomes = watcher.wait(job_ids, on_poll=lambda _described: rounds.__setitem__(0, rounds[0] + 1))
    succeeded = sum(1 for outcome in outcomes.values() if outcome.status in FINAL_STATES)
    return calls.stop(), rounds[0], elapsed(), succeeded


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
    return Result("follow", per_round, ref_calls / ref_rounds, "DescribeJobs calls/round", "lower", details)


def main(argv: list[str] | None = None) -> int:
    return standalone("follow", bench, argv)


if __name__ == "__main__":
    sys.exit(main())
