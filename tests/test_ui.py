"""The dashboard's server: what it reads from AWS, what it shows, what it refuses.

Against in-process moto and starlette's test client: no browser, no local stack. The browser
tests against the local stack are tests/test_ui_browser.py.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import moto.batch.models
import pytest
from batchform.jobs import listing as listing_module
from batchform.releases import ReleaseCell, _reconciling
from batchform.ui import allowed_hosts
from batchform.ui.app import SECURITY_HEADERS, create_app
from batchform.ui.board import MAX_BACKOFF_SECONDS, Board
from batchform.ui.pages import HIDDEN, shown_environment
from botocore.exceptions import ClientError
from conftest import in_process_aws, offline_cli
from starlette.testclient import TestClient
from test_jobs_list import REGION, StandInAccount, unmanaged_queue

OWNER_TAG = "batchform:owner"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Two queues of one in-process moto account; jobs are never run (they stay where put)."""
    with in_process_aws(monkeypatch, REGION):
        iam, batch = boto3.client("iam", region_name=REGION), boto3.client("batch", region_name=REGION)
        first, _ = unmanaged_queue(iam, batch, "batchform-test-default", "batchform-test-hello", role="r1")
        second, _ = unmanaged_queue(iam, batch, "batchform-test-big", "batchform-test-crunch", role="r2")
        deployed = {"jobs": {"hello": {"queue": first}, "crunch": {"queue": second}}}
        monkeypatch.setattr(listing_module, "outputs", lambda _account: deployed)
        yield {"hello": first, "crunch": second}


def submit(account: StandInAccount, queue: str, job: str, name: str, **extra: Any) -> str:
    return account.batch.submit_job(
        jobName=name, jobQueue=queue, jobDefinition=f"batchform-test-{job}", **extra
    )["jobId"]


def set_status(job_id: str, status: str) -> None:
    backend = moto.batch.models.batch_backends["123456789012"][REGION]
    backend._jobs[job_id].status = status


def board_of(account: StandInAccount) -> Board:
    return Board([account], interval=3.0, matrix=lambda _names: [])  # type: ignore[list-item]


def one_job(aws: dict[str, str]) -> tuple[StandInAccount, str, Board]:
    """An account with one job, hello-1, on a board that has read it."""
    account = StandInAccount()
    job_id = submit(account, aws["hello"], "hello", "hello-1")
    board = board_of(account)
    board.refresh()
    return account, job_id, board


def test_a_round_describes_at_most_ceil_n_over_100_jobs_and_final_jobs_only_once(aws: dict[str, str]) -> None:
    account = StandInAccount()
    ids = [submit(account, aws["hello"], "hello", f"job-{n}") for n in range(250)]
    board = board_of(account)
    board.refresh()
    assert account.describe_calls == math.ceil(250 / 100)
    assert len(board.jobs()) == 250

    for job_id in ids[:230]:
        set_status(job_id, "SUCCEEDED")
    account.describe_calls = 0
    board.refresh()  # 250 not final when last read: all described again
    assert account.describe_calls == 3
    account.describe_calls = 0
    board.refresh()  # 230 final since: only the 20 others
    assert account.describe_calls == 1
    assert sum(job["status"] == "SUCCEEDED" for job in board.jobs()) == 230


def test_a_round_lists_its_queue_once_for_every_status_where_a_listing_per_status_was_seven(
    aws: dict[str, str],
) -> None:
    """AWS-FIDELITY: "ListJobs with filters ignores jobStatus ... jobs with any status are returned"."""
    account = StandInAccount()
    ids = [submit(account, aws["hello"], "hello", f"job-{n}") for n in range(3)]
    set_status(ids[0], "SUCCEEDED")
    set_status(ids[1], "RUNNING")
    listings: list[dict[str, Any]] = []
    account.batch.meta.events.register(
        "provide-client-params.batch.ListJobs", lambda params, **_kw: listings.append(params)
    )
    board = board_of(account)
    board.account("test").pollers[aws["hello"]].poll_once()
    assert len(listings) == 1, listings
    assert {job["jobId"]: job["status"] for job in board.jobs()} == {
        ids[0]: "SUCCEEDED",
        ids[1]: "RUNNING",
        ids[2]: "SUBMITTED",
    }


def test_many_open_pages_make_no_aws_call_of_their_own(aws: dict[str, str]) -> None:
    account = StandInAccount()
    for n in range(5):
        submit(account, aws["hello"], "hello", f"job-{n}")
    board = board_of(account)
    board.refresh()
    calls = account.describe_calls
    with TestClient(create_app(board, start=False)) as client:
        for _ in range(20):
            assert client.get("/jobs").status_code == 200
            assert client.get("/jobs?fragment=1").status_code == 200
    assert account.describe_calls == calls


class Throttled:
    """A batch client whose every ListJobs is throttled, as AWS answers over its rate."""

    def __init__(self) -> None:
        self.calls = 0

    def get_paginator(self, _name: str) -> Any:
        outer = self

        class Paginator:
            def paginate(self, **_query: Any) -> Any:
                outer.calls += 1
                raise ClientError(
                    {
                        "Error": {"Code": "TooManyRequestsException", "Message": "Too Many Requests"},
                        "ResponseMetadata": {"HTTPStatusCode": 429},
                    },
                    "ListJobs",
                )

        return Paginator()


def test_a_throttled_poller_waits_twice_as_long_each_round_then_returns_to_its_interval(
    aws: dict[str, str],
) -> None:
    account = StandInAccount()
    board = board_of(account)
    poller = board.account("test").pollers[aws["hello"]]
    real = poller.batch
    poller.batch = Throttled()
    waits = [poller.poll_once() for _ in range(7)]
    assert waits == [6.0, 12.0, 24.0, 48.0, MAX_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS]
    assert poller.snapshot.error == "TooManyRequestsException: Too Many Requests"
    poller.batch = real
    assert poller.poll_once() == 3.0
    assert poller.snapshot.error is None


def test_a_refresh_asked_for_during_a_round_waits_for_it_so_the_newer_read_is_the_one_kept(
    aws: dict[str, str],
) -> None:
    account, job_id, board = one_job(aws)
    poller = board.account("test").pollers[aws["hello"]]
    real, described, release = poller.batch, threading.Event(), threading.Event()

    class Stalling:
        """The background round reads the job, then stalls before it keeps what it read."""

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def describe_jobs(self, **query: Any) -> Any:
            answer = real.describe_jobs(**query)
            if threading.current_thread().name == "background":
                described.set()
                release.wait(10)
            return answer

    poller.batch = Stalling()
    background = threading.Thread(target=poller.poll_once, name="background")
    background.start()
    assert described.wait(10)
    set_status(job_id, "FAILED")  # cancelled from the page meanwhile
    refresh = threading.Thread(target=board.refresh_job, args=("test", job_id))
    refresh.start()
    refresh.join(0.5)
    assert refresh.is_alive(), "the page's refresh ran beside the background round"
    release.set()
    background.join(10)
    refresh.join(10)
    assert board.job("test", job_id)["status"] == "FAILED"


def test_the_jobs_page_filters_by_account_queue_job_status_owner_and_text(aws: dict[str, str]) -> None:
    account = StandInAccount()
    hello = submit(account, aws["hello"], "hello", "hello-by-ada", tags={OWNER_TAG: "ada"})
    crunch = submit(account, aws["crunch"], "crunch", "crunch-nightly", tags={OWNER_TAG: "bob"})
    set_status(crunch, "FAILED")
    board = board_of(account)
    board.refresh()
    with TestClient(create_app(board, start=False)) as client:

        def shown(query: str) -> set[str]:
            page = client.get(f"/jobs?{query}").text
            return set(re.findall(r'data-job-id="([^"]+)"', page))

        assert shown("") == {hello, crunch}
        assert shown("queue=batchform-test-big") == {crunch}
        assert shown("job=hello") == {hello}
        assert shown("status=failed") == {crunch}
        assert shown("owner=ada") == {hello}
        assert shown("q=NIGHTLY") == {crunch}
        assert shown(f"q={hello[:8]}") == {hello}
        assert shown("account=test&status=SUCCEEDED") == set()


def test_the_jobs_page_is_paginated_newest_first(aws: dict[str, str]) -> None:
    account = StandInAccount()
    ids = [submit(account, aws["hello"], "hello", f"job-{n:03}") for n in range(7)]
    board = board_of(account)
    board.refresh()
    with TestClient(create_app(board, start=False)) as client:
        first = client.get("/jobs?per_page=3").text
        last = client.get("/jobs?per_page=3&page=3").text
    assert "page 1 of 3" in first and 'rel="next"' in first and 'rel="prev"' not in first
    assert re.findall(r'data-job-id="([^"]+)"', last) == [ids[0]]  # the oldest


def test_every_response_carries_the_strict_security_headers(aws: dict[str, str]) -> None:
    board = board_of(StandInAccount())
    with TestClient(create_app(board, start=False)) as client:
        for path in ("/jobs", "/queues", "/releases", "/static/app.js", "/no-such-page"):
            response = client.get(path)
            for header, value in SECURITY_HEADERS.items():
                assert response.headers[header] == value, (path, header)
    csp = SECURITY_HEADERS["content-security-policy"]
    assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp


def test_pages_have_no_inline_script_or_style_and_load_nothing_from_elsewhere(aws: dict[str, str]) -> None:
    account, job_id, board = one_job(aws)
    with TestClient(create_app(board, start=False)) as client:
        for path in ("/jobs", "/queues", "/releases", f"/jobs/test/{job_id}", f"/jobs/test/{job_id}/cancel"):
            page = client.get(path).text
            assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", page), path
            assert not re.search(r"\sstyle=|<style|\son[a-z]+=", page), path
            assert not re.search(r"(src|href)=\"(https?:)?//", page), path


def test_a_host_header_naming_another_site_is_refused() -> None:
    board = Board([], matrix=lambda _names: [])
    with TestClient(create_app(board, hosts=allowed_hosts("127.0.0.1"), start=False)) as client:
        assert client.get("/jobs", headers={"host": "127.0.0.1:8765"}).status_code == 200
        assert client.get("/jobs", headers={"host": "localhost:8765"}).status_code == 200
        assert client.get("/jobs", headers={"host": "evil.example:8765"}).status_code == 400
    assert allowed_hosts("0.0.0.0") == ["*"]


def test_cancel_without_the_csrf_token_is_refused_and_stops_nothing(aws: dict[str, str]) -> None:
    account, job_id, board = one_job(aws)
    with TestClient(create_app(board, start=False)) as client:
        for form in ({}, {"csrf": "guessed"}):
            response = client.post(f"/jobs/test/{job_id}/cancel", data=form, follow_redirects=False)
            assert response.status_code == 403
    assert not moto.batch.models.batch_backends["123456789012"][REGION]._jobs[job_id].stop


def test_cancel_after_the_confirmation_terminates_the_job(aws: dict[str, str]) -> None:
    account, job_id, board = one_job(aws)
    with TestClient(create_app(board, start=False)) as client:
        confirmation = client.get(f"/jobs/test/{job_id}/cancel").text
        token = re.search(r'name="csrf" value="([^"]+)"', confirmation).group(1)
        response = client.post(f"/jobs/test/{job_id}/cancel", data={"csrf": token}, follow_redirects=False)
        assert response.status_code == 303
        page = client.get(response.headers["location"]).text
    assert f"terminated {job_id} (was SUBMITTED" in page
    terminated = moto.batch.models.batch_backends["123456789012"][REGION]._jobs[job_id]
    assert terminated.stop and terminated.job_stopped_reason == "cancelled from the dashboard"


def test_environment_values_named_as_secrets_are_hidden_and_secrets_shown_as_references(
    aws: dict[str, str],
) -> None:
    assert shown_environment(
        [
            {"name": "DB_PASSWORD", "value": "hunter2"},
            {"name": "MODE", "value": "fast"},
            {"name": "AWS_SECRET_ACCESS_KEY", "value": "x"},
            {"name": "api_token", "value": "y"},
        ]
    ) == [("DB_PASSWORD", HIDDEN), ("MODE", "fast"), ("AWS_SECRET_ACCESS_KEY", HIDDEN), ("api_token", HIDDEN)]
    account = StandInAccount()
    job_id = submit(
        account,
        aws["hello"],
        "hello",
        "hello-1",
        containerOverrides={"environment": [{"name": "DB_PASSWORD", "value": "hunter2"}]},
    )
    board = board_of(account)
    board.refresh()
    with TestClient(create_app(board, start=False)) as client:
        page = client.get(f"/jobs/test/{job_id}").text
    assert "DB_PASSWORD" in page and "hunter2" not in page


class Lines:
    """Stands in for LogFollower: five lines, then the job is over."""

    def __init__(self, _account: Any, _job_id: str, echo: Any, **_kw: Any):
        self.echo = echo

    def follow(self, watcher_poll: Any = None) -> int:
        for n in range(1, 6):
            self.echo(f"line {n}")
        return 5

    def stop(self) -> None:
        pass


def events(text: str) -> list[tuple[str | None, str | None, str]]:
    found = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":")
        )
        if "data" in fields:
            found.append((fields.get("event"), fields.get("id"), fields["data"]))
    return found


def test_log_lines_stream_with_their_position_and_a_reconnect_gets_only_the_lines_after_it(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import batchform.follow

    monkeypatch.setattr(batchform.follow, "LogFollower", Lines)
    account, job_id, board = one_job(aws)
    with TestClient(create_app(board, start=False)) as client:
        first = events(client.get(f"/jobs/test/{job_id}/logs").text)
        again = events(client.get(f"/jobs/test/{job_id}/logs", headers={"last-event-id": "3"}).text)
    assert first[:5] == [(None, str(n), f"line {n}") for n in range(1, 6)]
    assert first[5][0] == "end" and len(first) == 6
    assert again == [(None, "4", "line 4"), (None, "5", "line 5"), first[5]]


def test_the_logs_of_a_malformed_job_id_are_refused_before_any_aws_call(aws: dict[str, str]) -> None:
    board = board_of(StandInAccount())
    with TestClient(create_app(board, start=False)) as client:
        assert client.get("/jobs/test/..%2Fetc/logs").status_code in (400, 404)
        assert client.get("/jobs/test/not-a-job-id/logs").status_code == 400
        assert client.get("/jobs/nobody/not-a-job-id/logs").status_code == 400


@pytest.mark.parametrize(
    ("cell", "commands"),
    [
        (ReleaseCell("alpha", "dev", 3, [3], 3), []),
        (
            ReleaseCell("alpha", "dev", 3, [3], 4),
            ["invoke bump alpha --account dev", "invoke tf.apply --account dev"],
        ),
        (ReleaseCell("alpha", "dev", 4, [3], 4), ["invoke tf.apply --account dev"]),
        (ReleaseCell("alpha", "dev", 4, [], 4), ["invoke tf.apply --account dev"]),
        (
            ReleaseCell("alpha", "dev", 5, [3], 4, missing=[5]),
            [
                "invoke build --image alpha --account dev push --image alpha --account dev",
                "invoke tf.apply --account dev",
            ],
        ),
        (ReleaseCell("alpha", "dev", None, [3], 3), ["invoke tf.apply --account dev"]),
    ],
)
def test_each_difference_comes_with_the_commands_that_reconcile_it(
    cell: ReleaseCell, commands: list[str]
) -> None:
    assert _reconciling(cell) == commands


def test_the_package_ships_every_template_and_asset_the_pages_name() -> None:
    root = Path(__file__).resolve().parents[1] / "scripts" / "batchform" / "ui"
    for template in (root / "templates").glob("*.html"):
        for asset in re.findall(r'"/static/([^"]+)"', template.read_text()):
            assert (root / "static" / asset).is_file(), (template.name, asset)


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--interval", "0"], "must be a positive number of seconds"),
        (["--interval", "0.5"], "--interval: must be at least 1 second"),
        (["--port", "70000"], "--port 70000: must be between 1 and 65535"),
        (["--account", "nobody"], "unknown account 'nobody'"),
    ],
)
def test_bad_ui_flags_are_refused_in_one_line_before_anything_is_served(
    tmp_path: Path, flags: list[str], said: str
) -> None:
    result = offline_cli(tmp_path / "home", "ui", *flags)
    assert result.returncode == 2, result.stdout + result.stderr
    assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_an_array_parent_shows_its_childrens_progress_and_its_page_lists_failed_children_first(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    account = StandInAccount()
    parent = submit(account, aws["hello"], "hello", "many")
    board = board_of(account)
    board.refresh()
    poller = board.account("test").pollers[aws["hello"]]
    summary = {"SUCCEEDED": 6, "FAILED": 1, "RUNNING": 3}
    poller.snapshot.jobs[parent] = {
        **poller.snapshot.jobs[parent],
        "arrayProperties": {"size": 10, "statusSummary": summary},
    }
    children = {
        f"{parent}:{i}": {"jobId": f"{parent}:{i}", "status": status, "arrayProperties": {"index": i}}
        for i, status in enumerate(["SUCCEEDED", "RUNNING", "FAILED", "SUCCEEDED"])
    }
    monkeypatch.setattr("batchform.jobs.queue_summaries", lambda _batch, _queue, _statuses, **query: children)
    with TestClient(create_app(board, start=False)) as client:
        listing = client.get("/jobs").text
        page = client.get(f"/jobs/test/{parent}").text
    assert '<progress max="10" value="7">' in listing and "7/10: 3 running, 6 succeeded, 1 failed" in listing
    indexes = re.findall(r'<a href="/jobs/test/[^":]+:(\d+)">', page)
    assert indexes == ["2", "0", "1", "3"]  # the failed child first, then by index


def test_the_dashboard_listens_on_loopback_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    import batchform.ui
    import uvicorn
    from batchform.ui import board as board_module

    served: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.append(options))
    monkeypatch.setattr(board_module.Board, "of", classmethod(lambda cls, names, interval: cls([])))
    said: list[str] = []
    batchform.ui.serve(None, echo=said.append)
    assert served[0]["host"] == "127.0.0.1" and served[0]["port"] == 8765
    assert said[-1] == "dashboard on http://127.0.0.1:8765/ (Ctrl-C stops it)"
    batchform.ui.serve(None, host="::1", port=9000, echo=said.append)
    assert served[1]["host"] == "::1" and said[-1].startswith("dashboard on http://[::1]:9000/")
