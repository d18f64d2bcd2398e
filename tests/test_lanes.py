"""The quick lane starts nothing and leaves out every test of a component, and it cannot rot: a
test that reaches a component without its marker fails."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from batchform.devtools import testing

REPO = Path(__file__).resolve().parent.parent

INNER_TESTS = """
import socket, subprocess, sys

import pytest

PORT = {port}


def connect():
    socket.create_connection(("127.0.0.1", PORT), timeout=5).close()


def test_unmarked_connecting_to_the_emulator():
    connect()


def test_unmarked_swallowing_the_error():
    try:
        connect()
    except BaseException:
        pass


@pytest.mark.stack
def test_marked_connecting_to_the_emulator():
    connect()


def test_unmarked_reaching_the_docker_socket():
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect("/var/run/docker.sock")


def test_unmarked_running_terraform():
    subprocess.run(["terraform", "version"], capture_output=True)


def test_unmarked_starting_a_python_program_that_connects():
    code = "import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5).close()"
    subprocess.run([sys.executable, "-c", code], capture_output=True)


def test_unmarked_asking_for_the_local_stack(local_stack):
    pass


def test_unmarked_running_a_stand_in_named_terraform(tmp_path):
    stand_in = tmp_path / "terraform"
    stand_in.write_text("#!/bin/sh\\necho stand-in\\n")
    stand_in.chmod(0o755)
    assert subprocess.run([str(stand_in)], capture_output=True, text=True).stdout == "stand-in\\n"


def test_unmarked_in_process_moto():
    import boto3
    from moto import mock_aws

    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        assert sqs.list_queues().get("QueueUrls", []) == []
"""


@pytest.fixture
def listener() -> Iterator[int]:
    """A port that accepts connections, standing in for the emulator's."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                return
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    server.close()


def test_a_test_reaching_a_component_without_its_marker_fails_naming_the_marker(
    tmp_path: Path, listener: int
) -> None:
    (tmp_path / "test_inner.py").write_text(INNER_TESTS.format(port=listener))
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "tests"),
        "BATCHFORM_EMULATOR_PORT": str(listener),  # the guard takes it for the emulator's port
        "BATCHFORM_LOCAL_DIR": str(tmp_path / "no-stack"),  # and finds no running stack
        "BATCHFORM_REQUIRE_ALL": "0",
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(REPO / "pyproject.toml"), "-p", "conftest"]
        + ["-p", "no:cacheprovider", "-rA", "-q", str(tmp_path / "test_inner.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    outcomes = dict(
        (name, outcome)
        for outcome, name in re.findall(r"^(PASSED|FAILED|ERROR) \S*::(test_\w+)", output, re.MULTILINE)
    )
    assert outcomes == {
        "test_unmarked_connecting_to_the_emulator": "FAILED",
        "test_unmarked_swallowing_the_error": "FAILED",
        "test_marked_connecting_to_the_emulator": "PASSED",
        "test_unmarked_reaching_the_docker_socket": "FAILED",
        "test_unmarked_running_terraform": "FAILED",
        "test_unmarked_starting_a_python_program_that_connects": "FAILED",
        "test_unmarked_asking_for_the_local_stack": "ERROR",
        "test_unmarked_running_a_stand_in_named_terraform": "PASSED",
        "test_unmarked_in_process_moto": "PASSED",
    }, output
    for marker, what in [
        ("stack", f"connected to the stack at ('127.0.0.1', {listener})"),
        ("docker", "connected to the docker at '/var/run/docker.sock'"),
        ("terraform", "ran terraform"),
        ("stack", "asked for the fixture local_stack"),
    ]:
        assert f"{what} without @pytest.mark.{marker}" in output, output


def test_the_quick_lane_leaves_out_every_registered_marker_and_ci_prints_the_slowest_tests() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    registered = {line.split(":")[0] for line in config["markers"]}
    assert set(testing.COMPONENT_MARKERS) == registered
    python, full = [sys.executable, "-m", "pytest"], testing.pytest_argv()
    quick = testing.pytest_argv(quick=True)
    assert quick[:3] == full[:3] == python
    assert (
        quick[quick.index("-m", 3) + 1]
        == "not stack and not terraform and not docker and not checkov and not browser"
    )
    assert "--durations=25" in quick and "--durations=25" in full
    assert "-m" not in full[3:]
    assert full[full.index("-n") + 1 :][:3] == [str(testing.workers()), "--dist", "loadgroup"]
    parallel = testing.pytest_argv(parallel=3)
    assert parallel[parallel.index("-n") + 1 :][:3] == ["3", "--dist", "loadgroup"]
    assert "-n" not in testing.pytest_argv(parallel=0)


def test_the_quick_lane_starts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []
    ran: list[list[str]] = []
    monkeypatch.setattr(testing, "bring_up", lambda: started.append("up") or 0)
    monkeypatch.setattr(testing.subprocess, "call", lambda argv, cwd: ran.append(argv) or 0)
    assert testing.run_suite(quick=True) == 0
    assert (started, len(ran)) == ([], 1)
    assert testing.run_suite() == 0
    assert (started, len(ran)) == (["up"], 2)


class _Worker:
    """What xdist's scheduler asks of a worker: it records the tests it is sent."""

    def __init__(self, name: str) -> None:
        self.gateway = type("Gateway", (), {"id": name})()
        self.shutting_down = False
        self.sent: list[int] = []

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent += indexes

    def shutdown(self) -> None:
        self.shutting_down = True


def test_units_that_take_minutes_go_one_to_a_worker_and_each_worker_always_holds_a_next_test(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import conftest

    monkeypatch.setattr(conftest, "LONGEST_FIRST", ("t.py::test_long",))
    long = [f"t.py::test_long_{i}" for i in range(3)]
    collection = [*long, *(f"t.py::test_short_{i}@quick{i}" for i in range(6))]
    config = type("Config", (), {})()
    config.option = type("Option", (), {"loadscopereorder": False})()
    config.getvalue = {"dist": "loadgroup", "tx": ["2*popen"]}.get
    scheduler = conftest.pytest_xdist_make_scheduler(config, None)
    first, second = _Worker("gw0"), _Worker("gw1")
    for worker in (first, second):
        scheduler.add_node(worker)
        scheduler.add_node_collection(worker, collection)
    scheduler.schedule()

    # Each holds one long test and, behind it, a short one (it runs a test once it holds the next).
    assert (first.sent, second.sent) == ([0, 3], [1, 4])
    scheduler.mark_test_complete(second, 1)
    assert second.sent == [1, 4, 2]  # the third long one, to the worker that has none left
    scheduler.mark_test_complete(first, 0)
    assert first.sent == [0, 3, 5]
    scheduler.mark_test_complete(first, 3)
    assert first.sent == [0, 3, 5, 6]  # short ones top it up as xdist's own would
