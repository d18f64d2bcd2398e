"""Shared fixtures.

Tests that need a component of the local stack ask for it through a fixture. Where the
component is missing the test skips -- except under BATCHFORM_REQUIRE_ALL=1 (CI), where it
fails, so that a green run always means every test really ran.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from batchform.accounts import Accounts
from batchform.localstack import LocalStack, LocalStackSettings

REQUIRE_ALL = os.environ.get("BATCHFORM_REQUIRE_ALL") == "1"
SUMMARY = pytest.StashKey[list[str]]()


def missing(what: str) -> None:
    """Skip, or fail in CI, because `what` is not available."""
    if REQUIRE_ALL:
        pytest.fail(f"{what} is required (BATCHFORM_REQUIRE_ALL=1)")
    pytest.skip(f"{what} is not available")


def free_port() -> int:
    """A free port below the kernel's ephemeral range, so no outgoing connection can take it meanwhile."""
    low, _ = (int(v) for v in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    for port in random.sample(range(20000, min(low, 32768)), 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


@pytest.fixture(scope="session")
def terraform_binary() -> str:
    """The terraform executable (skips, or fails in CI, when it is not installed)."""
    binary = shutil.which("terraform")
    if binary is None:
        missing("terraform")
    return binary


@pytest.fixture(scope="session")
def checkov() -> Path:
    """The checkov executable (`./batchform test` installs it into .venv-checkov)."""
    from batchform.checks import checkov_binary

    binary = checkov_binary()
    if binary is None:
        missing("checkov")
    return binary


@pytest.fixture(scope="session")
def local_stack() -> LocalStack:
    """The shared local stack (started by `invoke test`, or here when it is not running)."""
    stack = LocalStack(LocalStackSettings.load())
    if not stack.is_up():
        try:
            stack.up()
        except Exception as exc:  # noqa: BLE001
            missing(f"the local stack ({exc})")
    return stack


@pytest.fixture(scope="session")
def local_account(local_stack: LocalStack):  # noqa: ANN201
    return Accounts().get("local")


@pytest.fixture(scope="session")
def demo_run(local_account) -> tuple[str, str]:  # noqa: ANN001
    """The README's demo, run once: every image built and pushed, the local account applied.

    Returns (final job status, everything it printed). Tests of deployed jobs build on it.
    """
    from batchform import demo

    printed: list[str] = []
    status = demo.run(printed.append)
    return status, "\n".join(printed)


@pytest.fixture
def private_stack(tmp_path: Path) -> Iterator[LocalStack]:
    """A second, throwaway local stack on free ports, stopped and deleted afterwards."""
    if not (shutil.which("docker-registry") or shutil.which("registry")):
        missing("the docker-registry binary")
    if not LocalStack.docker_healthy():
        missing("a docker engine")
    settings = LocalStackSettings.load(
        data_dir=tmp_path / "stack", emulator_port=free_port(), registry_port=free_port(), start_docker=False
    )
    stack = LocalStack(settings)
    yield stack
    stack.down()


@pytest.fixture(scope="session")
def suite_summary(request: pytest.FixtureRequest) -> list[str]:
    """Lines a test wants shown at the end of the run (for example the checkov suppressions)."""
    return request.config.stash.setdefault(SUMMARY, [])


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001
    lines = config.stash.get(SUMMARY, [])
    if lines:
        terminalreporter.section("batchform")
        for line in lines:
            terminalreporter.write_line(line)
