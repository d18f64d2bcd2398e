"""The dashboard in a real browser (Debian's chromium, through playwright) against the local stack.

A job submitted from the command line appears on the jobs page; its log lines arrive on its
page while it runs, each once; cancel, after its confirmation, stops it. Each view's
screenshot is taken (written to docs/screenshots/, which the README shows, when
BATCHFORM_SCREENSHOTS says so). The releases view after a
bump and an apply is tests/test_releases.py's matrix test.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
from conftest import REPO, dashboard, screenshot

pytestmark = [pytest.mark.stack, pytest.mark.terraform, pytest.mark.browser]

# A job that prints a numbered line a second for ten minutes, unless stopped.
TICKS = "i=0; while [ $i -lt 600 ]; do i=$((i+1)); echo tick $i; sleep 1; done"
VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def server(demo_run) -> Iterator[str]:  # noqa: ANN001
    with dashboard(None, "local") as url:
        yield url


@pytest.fixture(scope="module")
def ticking_job(local_account) -> Iterator[str]:  # noqa: ANN001
    """A job submitted with the command line, as a person would; terminated at the end."""
    submitted = subprocess.run(
        [
            sys.executable,
            "-m",
            "batchform",
            "submit",
            "hello",
            "--account",
            "local",
            "--json",
            "--command",
            f"sh -c '{TICKS}'",
            "--name",
            "ticking",
            "--token",
            uuid.uuid4().hex,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    job_id = json.loads(submitted.stdout.splitlines()[-1])["job_id"]
    yield job_id
    local_account.client("batch").terminate_job(jobId=job_id, reason="test over")


@pytest.fixture
def page(browser):  # noqa: ANN001, ANN201
    opened = browser.new_page(viewport=VIEWPORT)
    yield opened
    opened.close()


def status(account, job_id: str) -> str:  # noqa: ANN001
    return account.client("batch").describe_jobs(jobs=[job_id])["jobs"][0]["status"]


def line(page, n: int):  # noqa: ANN001, ANN201
    """The page's n-th log line (waiting on it needs no script: the page's CSP allows none of ours)."""
    return page.locator("#logs span.line").nth(n - 1)


def ticks(page) -> list[int]:  # noqa: ANN001
    return [int(n) for n in re.findall(r"^tick (\d+)$", page.inner_text("#logs"), re.MULTILINE)]


def test_a_job_submitted_from_the_cli_appears_and_its_log_lines_arrive_while_it_runs(
    page,  # noqa: ANN001
    server: str,
    ticking_job: str,
    local_account,  # noqa: ANN001
) -> None:
    page.goto(f"{server}/jobs")
    row = f'tr[data-job-id="{ticking_job}"]'
    page.wait_for_selector(row, timeout=30_000)  # the page refreshes itself: no reload
    assert page.inner_text(f"{row} td:nth-child(4)") == "hello"

    page.click(f"{row} a")
    line(page, 3).wait_for(timeout=180_000)
    first = ticks(page)
    assert status(local_account, ticking_job) == "RUNNING"
    line(page, first[-1] + 3).wait_for(timeout=60_000)
    assert status(local_account, ticking_job) == "RUNNING"  # they arrived while it ran
    seen = ticks(page)
    assert seen == list(range(1, len(seen) + 1))  # in order, none lost, none twice
    page.wait_for_selector("#status.status-running", timeout=30_000)
    screenshot(page, "job.png")

    page.goto(f"{server}/jobs")
    page.wait_for_selector(row)
    screenshot(page, "jobs.png")


def test_cancel_after_its_confirmation_stops_a_running_job(
    page,  # noqa: ANN001
    server: str,
    ticking_job: str,
    local_account,  # noqa: ANN001
) -> None:
    page.goto(f"{server}/jobs/local/{ticking_job}")
    line(page, 1).wait_for(timeout=180_000)
    assert status(local_account, ticking_job) == "RUNNING"
    page.click("#cancel")
    assert status(local_account, ticking_job) == "RUNNING"  # nothing happens before the confirmation
    page.click("#confirm-cancel")
    assert f"terminated {ticking_job} (was RUNNING" in page.inner_text(".said")
    page.wait_for_selector("#status.status-failed", timeout=60_000)
    job = local_account.client("batch").describe_jobs(jobs=[ticking_job])["jobs"][0]
    assert job["status"] == "FAILED" and job["statusReason"] == "cancelled from the dashboard"
    page.wait_for_selector("#logs[data-ended='true']", timeout=60_000)  # the stream ends with the job
    last = ticks(page)
    time.sleep(3)
    assert ticks(page) == last  # no line after the end


def test_the_queues_view_shows_each_queue_with_its_job_counts(page, server: str, demo_run) -> None:  # noqa: ANN001
    page.goto(f"{server}/queues")
    section = "section.account[data-account='local']"
    page.wait_for_selector(f"{section} table.queues tr[data-queue]")
    queues = page.eval_on_selector_all(f"{section} tr[data-queue]", "rows => rows.map(r => r.dataset.queue)")
    assert any(name.endswith("-default") for name in queues) and any(
        name.endswith("-shared") for name in queues
    )
    succeeded = page.inner_text(f"{section} tr[data-queue$='-default'] td.count-succeeded")
    assert int(succeeded) >= 1  # the demo's job
    screenshot(page, "queues.png", full_page=True)
