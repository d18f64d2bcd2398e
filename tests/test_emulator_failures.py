"""What the emulator failed to answer is in its log, and a failed test run shows it.

A client retries a 5xx or a dropped connection without a word; when the first try had already
made something, the retry meets it ("already exists") and nothing else says why.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from batchform.localstack import emulator
from batchform.localstack.stack import LocalStack
from batchform.settings import LocalStackSettings
from werkzeug.test import Client

SIGNED = {
    "Authorization": (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261202/us-east-1/batch/aws4_request, "
        "SignedHeaders=host, Signature=0"
    ),
    "Content-Type": "application/json",
}


def _failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(emulator.REQUEST_FAILED)]


def test_a_request_that_raises_in_the_emulator_is_logged_with_its_operation(caplog) -> None:  # noqa: ANN001
    client = Client(emulator.make_app())
    with caplog.at_level(logging.WARNING, logger=emulator.log.name), pytest.raises(TypeError):
        client.post("/v1/createcomputeenvironment", data=b"{}", headers=SIGNED)
    assert _failures(caplog) == [
        f"{emulator.REQUEST_FAILED} POST /v1/createcomputeenvironment raised TypeError: "
        "expected string or bytes-like object, got 'NoneType'"
    ]


def test_an_answer_of_500_or_more_is_logged_and_others_are_not(monkeypatch, caplog) -> None:  # noqa: ANN001
    from moto.moto_server import werkzeug_app

    def answering(environ, start_response):  # noqa: ANN001, ANN202
        status = "503 Service Unavailable" if environ["PATH_INFO"] == "/busy" else "404 Not Found"
        start_response(status, [("Content-Length", "0")])
        return [b""]

    monkeypatch.setattr(werkzeug_app, "DomainDispatcherApplication", lambda _create: answering)
    client = Client(emulator.make_app())
    with caplog.at_level(logging.WARNING, logger=emulator.log.name):
        assert (
            client.post(
                "/busy", headers={"X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.PutImage"}
            ).status_code
            == 503
        )
        assert client.get("/missing").status_code == 404
    assert _failures(caplog) == [
        f"{emulator.REQUEST_FAILED} POST /busy AmazonEC2ContainerRegistry_V20150921.PutImage "
        "answered 503 Service Unavailable"
    ]


def test_a_client_gone_before_its_answer_is_logged(caplog) -> None:  # noqa: ANN001
    handler = emulator.request_handler()
    served = object.__new__(handler)  # only the hook is exercised, not a socket
    with caplog.at_level(logging.WARNING, logger=emulator.log.name):
        served.connection_dropped(
            ConnectionResetError("reset by peer"),
            {"REQUEST_METHOD": "POST", "PATH_INFO": "/v1/createjobqueue"},
        )
    assert _failures(caplog) == [
        f"{emulator.REQUEST_FAILED} POST /v1/createjobqueue: "
        "connection dropped before its answer (reset by peer)"
    ]


def test_the_stack_reads_the_last_failed_requests_from_the_emulators_log(tmp_path: Path) -> None:
    stack = LocalStack(LocalStackSettings(data_dir=tmp_path))
    assert stack.request_failures() == []

    lines = ["2026-12-02 emulator WARNING state saved"]
    lines += [
        f"2026-12-02 emulator WARNING {emulator.REQUEST_FAILED} POST /v1/op{i} answered 500" for i in range(5)
    ]
    (tmp_path / "emulator.log").write_text("\n".join(lines) + "\n")

    assert stack.request_failures(limit=2) == lines[-2:]
    assert len(stack.request_failures()) == 5
