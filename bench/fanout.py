"""A large fan-out (`submit --each`): SubmitJob calls, the largest container overrides, the time.

ours       batchform.jobs.Submitter.submit(SubmitRequest(items=N items)) to a job with a data
           bucket: items that do not fit in ECS's 8,192 characters of container overrides go to
           the bucket, one object per array job of up to 10,000 children
reference  the way without fan-out: one `submit-job` per item, N calls (counted, not sent)

Calls are counted on every client of the account (bench.stack.CallCounter: a botocore hook on
its session and its clients), and each SubmitJob's overrides are measured as ECS counts them;
no call counted for work done raises instead of reporting a figure. Jobs do not run: the
private emulator marks them SUCCEEDED at once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batchform.jobs import MAX_OVERRIDES_CHARS, SubmitRequest, Submitter, overrides_chars

from bench.stack import CallCounter, Echo, PrivateStack, Result, number, standalone, timed

FULL_ITEMS, QUICK_ITEMS = 100_000, 1_000
BUCKET = "batchform-bench-data"


class SubmitJobSizes:
    """Every SubmitJob made through an account's clients: how many, and the largest overrides and body."""

    def __init__(self, account: Any):
        self.largest_overrides = 0
        self.largest_body = 0
        self.counter = CallCounter(account, "batch.SubmitJob", on_call=self._seen)

    @property
    def calls(self) -> int:
        return self.counter.count

    def _seen(self, params: dict[str, Any]) -> None:
        self.largest_overrides = max(self.largest_overrides, overrides_chars(params))
        self.largest_body = max(self.largest_body, len(json.dumps(params, default=str).encode()))


def bench(stack: PrivateStack, quick: bool, echo: Echo) -> Result:
    count = QUICK_ITEMS if quick else FULL_ITEMS
    echo(f"# fanout: {count} items")
    account = stack.local
    sizes = SubmitJobSizes(account)
    account.client("s3").create_bucket(Bucket=BUCKET)
    target = stack.job_target(account, "fanout")
    target = type(target)(
        target.job,
        target.definition,
        target.queue,
        target.log_group,
        data_bucket=BUCKET,
        items_prefix="fan-out/fanout/",
    )
    items = [f"s3://bench-data/inputs/part-{i:06d}.csv" for i in range(count)]
    submitter = Submitter(account, journal_dir=stack.scratch("journal-fanout"), rate_per_second=1000.0)
    with timed() as elapsed:
        results = submitter.submit(target, SubmitRequest("fanout", items=items))
    seconds = elapsed()
    sizes.counter.stop(done=f"a fan-out of {count} items in {len(results)} job(s)")
    children = sum(result.children for result in results)
    if children != count:
        # A figure for work that was not done (or not seen) would be worse than none.
        raise RuntimeError(f"fanout: {len(results)} jobs cover {children} of {count} items: items were lost")
    objects = account.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="fan-out/fanout/").get("KeyCount", 0)
    target_calls = -(-count // 10_000)
    details = [
        f"ours: {sizes.calls} SubmitJob call(s), {len(results)} array job(s), {children} children, "
        f"{objects} item object(s) in the data bucket, {number(seconds)} s",
        f"largest container overrides: {sizes.largest_overrides} characters (ECS accepts at most "
        f"{MAX_OVERRIDES_CHARS}: {'met' if sizes.largest_overrides <= MAX_OVERRIDES_CHARS else 'NOT met'}); "
        f"largest SubmitJob request: {sizes.largest_body} bytes",
        f"target at most {target_calls} call(s) for {count} items: "
        f"{'met' if sizes.calls <= target_calls else 'NOT met'}",
        f"reference: {count} calls, one submit-job per item (counted, not sent)",
    ]
    return Result("fanout", sizes.calls, count, "SubmitJob calls", "lower", details)


def main(argv: list[str] | None = None) -> int:
    return standalone("fanout", bench, argv)


if __name__ == "__main__":
    sys.exit(main())
