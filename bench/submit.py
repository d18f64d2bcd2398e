"""Submitting many independent jobs: the project's Submitter against the AWS CLI and naive boto3.

ours       batchform.jobs.Submitter(account, rate_per_second=1000).submit(...) in a plain loop,
           one request per job (each with its own ITEM, hence its own idempotency token), journal
           and all; the default pacing (50/s) is measured too
reference  a shell loop of `aws batch submit-job` (AWS CLI v1 from PyPI, pinned), and a loop
           creating one boto3 client per job
array      the same work as one request: SubmitRequest(array_size=N), and SubmitRequest(items=...)

SubmitJob calls are counted on every client of the account (bench.stack.CallCounter); a count
of zero for work that was done raises instead of reporting a figure.

Jobs do not run: the private emulator marks them SUCCEEDED at once, without containers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
from batchform.accounts import EMULATOR_CREDENTIALS
from batchform.jobs import SubmitRequest, Submitter

from bench.stack import (
    Echo,
    MiscountError,
    PrivateStack,
    Result,
    aws_cli,
    call_counter,
    cli_env,
    number,
    standalone,
    timed,
)

FULL_JOBS, QUICK_JOBS = 1000, 50
FULL_CLI_JOBS, QUICK_CLI_JOBS = 1000, 3
FAST_RATE = 1000.0
DATA_BUCKET = "batchform-bench-submit-data"
JOURNAL_BACKLOG = 6000  # records of earlier submissions (a busy day) for the "warm journal" case


def _ours(stack: PrivateStack, count: int, rate: float, journal: Path, start: int = 0) -> float:
    account = stack.local
    target = stack.job_target(account)
    submits = call_counter(account, "batch.SubmitJob")
    submitter = Submitter(account, journal_dir=journal, rate_per_second=rate)
    with timed() as elapsed:
        for i in range(start, start + count):
            submitter.submit(target, SubmitRequest(target.job, env={"ITEM": str(i)}))
    calls = submits.stop(done=f"{count} independent jobs")
    if calls != count:
        raise MiscountError(f"counted {calls} SubmitJob calls for {count} new jobs, one each")
    return count / elapsed()


def _cli_loop(stack: PrivateStack, count: int, echo: Echo) -> float:
    """`for i in $(seq N); do aws batch submit-job ...; done`, timed as a whole."""
    aws = aws_cli(echo)
    account = stack.local
    target = stack.job_target(account)
    script = (
        'for i in $(seq 1 "$COUNT"); do\n'
        '  "$AWS" batch submit-job --endpoint-url "$ENDPOINT" --job-name "cli-$i" '
        '--job-queue "$QUEUE" --job-definition "$DEFINITION" '
        '--container-overrides "environment=[{name=ITEM,value=$i}]" > /dev/null || exit 1\n'
        "done\n"
    )
    env = {
        **cli_env(account, stack.workdir),
        "AWS": str(aws),
        "COUNT": str(count),
        "ENDPOINT": stack.settings.emulator_url,
        "QUEUE": target.queue,
        "DEFINITION": target.definition,
    }
    with timed() as elapsed:
        subprocess.run(["bash", "-c", script], env=env, check=True)
    return count / elapsed()


def _naive_boto3(stack: PrivateStack, count: int) -> float:
    """A new boto3 client for every job, as a quick script often does."""
    target = stack.job_target(stack.local)
    with timed() as elapsed:
        for i in range(count):
            client = boto3.client(
                "batch",
                region_name="us-east-1",
                endpoint_url=stack.settings.emulator_url,
                **EMULATOR_CREDENTIALS,
            )
            client.submit_job(
                jobName=f"naive-{i}",
                jobQueue=target.queue,
                jobDefinition=target.definition,
                containerOverrides={"environment": [{"name": "ITEM", "value": str(i)}]},
            )
    return count / elapsed()


def _one_request(stack: PrivateStack, request: SubmitRequest, journal: Path) -> tuple[int, int, float, int]:
    """(SubmitJob calls, Batch calls, seconds, jobs made) for one request sent through the Submitter."""
    account = stack.local
    target = stack.job_target(account)
    if request.items is not None:
        # Items beyond ECS's 8,192 characters of overrides go to a data bucket, as terraform makes one.
        account.client("s3").create_bucket(Bucket=DATA_BUCKET)
        target = replace(target, data_bucket=DATA_BUCKET, items_prefix=f"fan-out/{target.job}/")
    # On the account, not on one client: the Submitter's client is its own (one attempt a call).
    submits = call_counter(account, "batch.SubmitJob")
    every = call_counter(account, "batch")
    submitter = Submitter(account, journal_dir=journal, rate_per_second=FAST_RATE)
    with timed() as elapsed:
        results = submitter.submit(target, request)
    done = f"{len(results)} job(s) submitted"
    return submits.stop(done=done), every.stop(done=done), elapsed(), len(results)


def _journal_backlog(path: Path, records: int) -> None:
    """Records of other submissions made earlier today, as a busy account's journal holds them."""
    now = time.time()
    with open(path, "a") as journal:
        for i in range(records):
            record = {
                "at": now - 3600 + i * 0.5,
                "chunk": 0,
                "job": "bench",
                "job_id": f"{i:08d}-0000-0000-0000-000000000000",
                "name": f"bench-earlier-{i}",
                "state": "submitted" if i % 2 else "submitting",
                "token": f"{i:032x}",
            }
            journal.write(json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n")


def bench(stack: PrivateStack, quick: bool, echo: Echo) -> Result:
    jobs = QUICK_JOBS if quick else FULL_JOBS
    cli_jobs = QUICK_CLI_JOBS if quick else FULL_CLI_JOBS
    echo(f"# submit: {jobs} independent jobs")

    ours_fast = _ours(stack, jobs, FAST_RATE, stack.scratch("journal-fast"))
    ours_default = _ours(stack, jobs, 50.0, stack.scratch("journal-default"))
    naive = _naive_boto3(stack, jobs)
    cli = _cli_loop(stack, cli_jobs, echo)

    array_calls, array_all, array_seconds, _ = _one_request(
        stack, SubmitRequest("bench", array_size=jobs), stack.scratch("journal-array")
    )
    items = [f"s3://bench-data/inputs/part-{i:05d}.csv" for i in range(jobs)]
    items_calls, _, items_seconds, items_jobs = _one_request(
        stack, SubmitRequest("bench", items=items), stack.scratch("journal-items")
    )
    details = [
        f"ours: Submitter(rate_per_second={FAST_RATE:g}), one request per job, {jobs} jobs in one thread",
        f"ours at the default pacing (rate_per_second=50): {number(ours_default)} jobs/s",
        f"reference: bash loop of `aws batch submit-job` (awscli 1.x), {cli_jobs} jobs; "
        f"naive boto3 (one client per job): {number(naive)} jobs/s",
        f"ours vs naive boto3: {number(ours_fast / naive)}x; target >= 50x the CLI loop: "
        f"{'met' if ours_fast >= 50 * cli else 'NOT met'} ({number(ours_fast / cli)}x)",
        f"array of {jobs} (array_size={jobs}): {array_calls} SubmitJob call(s) "
        f"({array_all} Batch API call(s) in all) in {number(array_seconds)} s "
        f"(vs {jobs} calls, {number(jobs / ours_fast)} s as independent jobs); "
        f"target one call: {'met' if array_calls == 1 else 'NOT met'}",
        f"fan-out of {jobs} items (items=...): {items_calls} SubmitJob call(s), {items_jobs} array job(s), "
        f"{number(items_seconds)} s",
    ]
    if not quick:
        journal = stack.scratch("journal-backlog")
        _journal_backlog(journal / "local.jsonl", JOURNAL_BACKLOG)
        backlog = _ours(stack, 200, FAST_RATE, journal, start=jobs)
        details.append(
            f"ours with {JOURNAL_BACKLOG} earlier records already in the journal (a busy day): "
            f"{number(backlog)} jobs/s over 200 jobs"
        )
    return Result("submit", ours_fast, cli, "jobs/s", "higher", details)


def main(argv: list[str] | None = None) -> int:
    return standalone("submit", bench, argv)


if __name__ == "__main__":
    sys.exit(main())
