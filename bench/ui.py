"""The dashboard's jobs page of 1,000 jobs: served and rendered in a real browser, and what a
refresh costs in DescribeJobs calls.

ours       `batchform ui`'s application over a Board polling the queue (uvicorn, in this process),
           `/jobs?per_page=1000` loaded in headless chromium until its table holds every job;
           the median of a few loads. Then ten pages loaded at once, and the DescribeJobs calls
           a poll round makes, against the target of ceil(N/100).
reference  the same jobs listed with the AWS CLI, as a person without the dashboard would:
           `aws batch list-jobs --job-queue Q --job-status S` for each of the seven statuses.

Jobs do not run: the private emulator marks them SUCCEEDED as they are submitted.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batchform.jobs import LOOKUP_STATUSES
from batchform.ui.app import create_app
from batchform.ui.board import Board

from bench.stack import (
    Echo,
    PrivateStack,
    Result,
    aws_cli,
    call_counter,
    cli_env,
    free_port,
    number,
    standalone,
    timed,
)

FULL_JOBS, QUICK_JOBS = 1000, 100
LOADS = 3
TARGET_SECONDS = 1.0
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


@contextmanager
def _serving(board: Board) -> Iterator[str]:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(board, start=False), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _page_loads(url: str, count: int) -> tuple[list[float], float]:
    """Seconds per load of the page until its table holds `count` rows; and ten pages at once."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{url}/jobs")  # warm: the first load also starts the browser's own machinery
        loads = []
        for _ in range(LOADS):
            with timed() as elapsed:
                page.goto(f"{url}/jobs?per_page=1000", wait_until="load")
                page.locator("#jobs tbody tr").nth(count - 1).wait_for()
            loads.append(elapsed())
        pages = [browser.new_page() for _ in range(10)]
        with timed() as together:
            for other in pages:
                other.goto(f"{url}/jobs?per_page=1000", wait_until="commit")
            for other in pages:
                other.locator("#jobs tbody tr").nth(count - 1).wait_for()
        browser.close()
    return loads, together()


def _cli_listing(stack: PrivateStack, queue: str, echo: Echo) -> tuple[float, int]:
    aws = aws_cli(echo)
    env = cli_env(stack.local, stack.workdir)
    listed = 0
    with timed() as elapsed:
        for status in LOOKUP_STATUSES:
            out = subprocess.run(
                [
                    str(aws),
                    "batch",
                    "list-jobs",
                    "--endpoint-url",
                    stack.settings.emulator_url,
                    "--job-queue",
                    queue,
                    "--job-status",
                    status,
                    "--output",
                    "text",
                    "--query",
                    "jobSummaryList[].jobId",
                ],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            listed += len(out.stdout.split())
    return elapsed(), listed


def bench(stack: PrivateStack, quick: bool, echo: Echo) -> Result:
    count = QUICK_JOBS if quick else FULL_JOBS
    echo(f"# ui: the jobs page of {count} jobs")
    account = stack.local
    target = stack.job_target(account, "ui")
    batch = account.client("batch")
    for i in range(count):
        batch.submit_job(jobName=f"ui-{i}", jobQueue=target.queue, jobDefinition=target.definition)
    board = Board([account], queues={account.name: [target.queue]}, matrix=lambda _names: [])
    # The poller's own client: one attempt per call, so each call counted is one sent.
    calls = call_counter(account.client("batch", retries=False), "batch.DescribeJobs")
    board.refresh()
    first_round = calls.stop()
    calls = call_counter(account.client("batch", retries=False), "batch.DescribeJobs")
    board.refresh()
    final_round = calls.stop()
    shown = len(board.jobs())
    if shown != count:
        raise RuntimeError(f"the board has {shown} jobs, {count} were submitted")
    with _serving(board) as url:
        page_calls = call_counter(account.client("batch", retries=False), "batch.DescribeJobs")
        loads, ten_pages = _page_loads(url, count)
        during_pages = page_calls.stop()
    ours = statistics.median(loads)
    reference, listed = _cli_listing(stack, target.queue, echo)
    details = [
        f"{count} jobs in one queue; page /jobs?per_page=1000 in headless chromium, load to last row: "
        f"median {number(ours)} s of {LOADS} ({', '.join(number(s) for s in loads)}); "
        f"target <= {TARGET_SECONDS:g} s: {'met' if ours <= TARGET_SECONDS else 'NOT met'}",
        f"ten such pages at once: {number(ten_pages)} s, {during_pages} DescribeJobs calls while they loaded "
        "(pages read the pollers' snapshot, never AWS)",
        f"a poll round: {first_round} DescribeJobs calls when every job is new, {final_round} once all are "
        f"final; target <= ceil(N/100) = {math.ceil(count / 100)}: "
        f"{'met' if first_round <= math.ceil(count / 100) else 'NOT met'}",
        f"reference: awscli `batch list-jobs` per status, 7 runs: {number(reference)} s, {listed} ids",
    ]
    return Result("ui", ours, reference, "s to load the jobs page", "lower", details)


def main(argv: list[str] | None = None) -> int:
    return standalone("ui", bench, argv)


if __name__ == "__main__":
    sys.exit(main())
