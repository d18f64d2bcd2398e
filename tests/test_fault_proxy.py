"""The fault proxy itself: it fails the share of requests it is asked to, in the way asked, and
passes everything else through untouched (so the fault tests on the stack test what they claim)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from batchform.localstack.faults import Fault, FaultPlan, FaultProxy, Request


class Upstream(ThreadingHTTPServer):
    """Answers 200 with the path it was asked for, and remembers every request."""

    daemon_threads = True

    def __init__(self) -> None:
        self.received: list[tuple[str, str, bytes]] = []
        super().__init__(("127.0.0.1", 0), UpstreamHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class UpstreamHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Upstream

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append((self.command, self.path, body))
        answer = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_plan_fails_about_its_rate_of_matching_requests_and_the_same_seed_fails_the_same_ones() -> None:
    def picks(seed: int) -> list[Fault | None]:
        plan = FaultPlan(rate=1 / 3, seed=seed, match=lambda r: r.path != "/skip")
        return [plan.pick(Request("GET", f"/{i}", {})) for i in range(3000)]

    first = picks(1)
    failed = sum(1 for pick in first if pick is not None)
    assert 900 <= failed <= 1100
    assert first == picks(1)
    assert first != picks(2)
    assert FaultPlan(rate=1.0).pick(Request("GET", "/skip", {})) is not None
    assert FaultPlan(rate=1.0, match=lambda r: r.path != "/skip").pick(Request("GET", "/skip", {})) is None


def test_a_plan_of_transient_faults_fails_each_kind_of_request_at_most_once() -> None:
    """Its retry goes through, even in the new upload session a retried upload opens."""
    plan = FaultPlan(rate=1.0, once=True)
    upload = "/v2/app/blobs/uploads/{}"
    first = [plan.pick(Request("PATCH", upload.format(uuid), {})) for uuid in ("0f" * 16, "1e" * 16)]
    assert first[0] is not None and first[1] is None  # a new session of the same upload
    assert plan.pick(Request("PUT", upload.format("2d" * 16), {})) is not None  # another method
    blob = "/v2/app/blobs/sha256:{}"
    assert plan.pick(Request("HEAD", blob.format("a" * 64), {})) is not None
    assert plan.pick(Request("HEAD", blob.format("a" * 64), {})) is None
    assert plan.pick(Request("HEAD", blob.format("b" * 64), {})) is not None  # another blob
    assert plan.pick(Request("GET", "/v2/", {})) is not None
    assert plan.pick(Request("GET", "/v2/", {})) is None
    assert FaultPlan(rate=1.0).pick(Request("GET", "/v2/", {})) is not None  # without once: every time


def test_faults_are_taken_in_turn() -> None:
    faults = (Fault("refuse", 429), Fault("lose", 500), Fault("drop"))
    plan = FaultPlan(faults=faults, rate=1.0)
    assert [plan.pick(Request("GET", "/", {})) for _ in range(4)] == [*faults, faults[0]]


def test_a_refused_request_never_reaches_the_service_and_reads_like_the_service(upstream: Upstream) -> None:
    with FaultProxy.running(upstream.url, FaultPlan(faults=(Fault("refuse", 429),), rate=1.0)) as proxy:
        registry = requests.get(f"{proxy.url}/v2/x/tags/list", timeout=10)
    with FaultProxy.running(
        upstream.url, FaultPlan(faults=(Fault("refuse", 503),), rate=1.0, style="aws")
    ) as proxy:
        aws = requests.post(f"{proxy.url}/v1/submitjob", data=b"{}", timeout=10)
        assert proxy.injected == {"refuse 503": 1}
    assert upstream.received == []
    assert registry.status_code == 429
    assert registry.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert aws.status_code == 503
    assert aws.headers["x-amzn-ErrorType"] == "ServiceUnavailable"
    assert aws.json()["__type"] == "ServiceUnavailable"


def test_a_lost_answer_is_a_request_the_service_did_receive(upstream: Upstream) -> None:
    with FaultProxy.running(upstream.url, FaultPlan(faults=(Fault("lose", 500),), rate=1.0)) as proxy:
        answer = requests.put(f"{proxy.url}/v1/submitjob", data=b"payload", timeout=10)
    assert answer.status_code == 500
    assert upstream.received == [("PUT", "/v1/submitjob", b"payload")]


def test_a_dropped_connection_gets_no_answer(upstream: Upstream) -> None:
    with FaultProxy.running(upstream.url, FaultPlan(faults=(Fault("drop"),), rate=1.0)) as proxy:
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{proxy.url}/anything", timeout=10)
    assert upstream.received == []


def test_requests_the_plan_leaves_alone_pass_through_unchanged(upstream: Upstream) -> None:
    plan = FaultPlan(rate=1.0, match=lambda r: r.operation == "getlogevents")
    with FaultProxy.running(upstream.url, plan) as proxy:
        answer = requests.post(
            f"{proxy.url}/",
            data=b'{"a": 1}',
            headers={"X-Amz-Target": "Logs_20140328.PutLogEvents"},
            timeout=10,
        )
        failed = requests.post(
            f"{proxy.url}/", data=b"{}", headers={"X-Amz-Target": "Logs_20140328.GetLogEvents"}, timeout=10
        )
        assert proxy.seen == {"getlogevents": 1}
    assert answer.status_code == 200 and answer.json() == {"path": "/"}
    assert failed.status_code == 500  # the first of the default faults
    assert upstream.received == [("POST", "/", b'{"a": 1}')]
