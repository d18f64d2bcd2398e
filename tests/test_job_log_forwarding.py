"""The emulator forwards a job container's lines to its log stream as they come, as awslogs does,
and moto's bulk write at the job's end sends only what the forwarding did not: no line is lost
when the forwarding breaks off, and none is written twice when it does not."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from batchform.localstack import jobcontainers
from batchform.localstack.jobcontainers import _stream_container_logs

STAMP = "2026-12-02T10:00:00.123456789Z"


class RecordingLogs:
    """The part of moto's logs backend the forwarding uses, recording every event written."""

    def __init__(self) -> None:
        self.written: list[str] = []

    def ensure_log_group(self, group: str) -> None:
        pass

    def ensure_log_stream(self, group: str, stream: str) -> None:
        pass

    def put_log_events(self, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        self.written += [event["message"] for event in events]


class Container:
    """A container whose log stream yields `chunks`, then breaks off if `breaks`."""

    def __init__(self, chunks: list[bytes], breaks: bool, answers: threading.Event | None = None):
        self.chunks, self.breaks, self.answers = chunks, breaks, answers

    def logs(self, **_options: Any) -> Iterator[bytes]:
        if self.answers:  # a busy engine: its answer comes only when the test says
            self.answers.wait(timeout=10)
        yield from self.chunks
        if self.breaks:
            raise ConnectionError("engine went away")


def _job_end(chunks: list[bytes], breaks: bool, at_end: list[str], late: bool = False) -> list[str]:
    """What the stream holds after the container wrote `chunks` and moto's write of `at_end`;
    `late`: the engine answers the forwarding only after the job's end stopped waiting for it."""
    backend = RecordingLogs()
    job = SimpleNamespace(_log_backend=backend, _log_group="/aws/batch/job", _stream_name="s", job_id="j")
    answers = threading.Event() if late else None
    _stream_container_logs(job, Container(chunks, breaks, answers))
    forwarding = job._log_backend._forwarder
    job._log_backend.put_log_events("/aws/batch/job", "s", [{"timestamp": 1, "message": m} for m in at_end])
    if answers:
        answers.set()
    forwarding.join(timeout=10)
    assert not forwarding.is_alive()
    return backend.written


def test_forwarded_lines_are_not_written_again_at_the_job_end() -> None:
    chunks = [f"{STAMP} one\n{STAMP} two\n".encode(), f"{STAMP} two".encode()]
    assert _job_end(chunks, breaks=False, at_end=["one", "two", "two"]) == ["one", "two", "two"]


def test_lines_a_broken_forwarding_missed_are_written_at_the_job_end_once() -> None:
    chunks = [f"{STAMP} one\n".encode()]
    assert _job_end(chunks, breaks=True, at_end=["one", "two", "one"]) == ["one", "two", "one"]


def test_a_forwarding_broken_before_any_line_leaves_every_line_to_the_job_end() -> None:
    assert _job_end([], breaks=True, at_end=["only"]) == ["only"]


@pytest.fixture
def impatient_job_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobcontainers, "FORWARDING_WAIT", 0.05)


@pytest.mark.usefixtures("impatient_job_end")
def test_a_forwarding_still_waiting_on_the_engine_at_the_job_end_loses_no_line_when_it_then_fails() -> None:
    chunks = [f"{STAMP} one\n".encode()]
    assert _job_end(chunks, breaks=True, at_end=["one", "two"], late=True) == ["one", "two"]


@pytest.mark.usefixtures("impatient_job_end")
def test_a_forwarding_the_engine_answers_after_the_job_end_wrote_its_lines_sends_none_again() -> None:
    chunks = [f"{STAMP} one\n{STAMP} two\n".encode()]
    assert _job_end(chunks, breaks=False, at_end=["one", "two"], late=True) == ["one", "two"]
