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


def release_accounts() -> dict[str, dict]:
    """Two accounts of the emulator no other test uses (fresh ids each time): rel-a and rel-b (alias b).

    Their registries and AWS resources start empty, whatever earlier runs left in the stack.
    """
    ids = [f"{random.randint(10**11, 10**12 - 1)}" for _ in range(2)]
    return {
        name: {
            "account_id": account_id,
            "region": "us-east-1",
            "endpoints": "local-stack",
            "role_arn": f"arn:aws:iam::{account_id}:role/batchform-deployer",
            **extra,
        }
        for (name, extra), account_id in zip((("rel-a", {}), ("rel-b", {"aliases": ["b"]})), ids, strict=True)
    }


RELEASE_IMAGES = ("alpha", "beta")


def release_source(images: dict[str, int], comment: str = "") -> str:
    """A readable account source with one job per image."""
    lines = [
        "# What this account runs." + (f" {comment}" if comment else ""),
        "",
        "compute:",
        "  type: FARGATE",
        "  max_vcpus: 4",
        "",
        "force_delete_repositories: true",
        "",
        "images:",
    ]
    for image, build in images.items():
        lines += [f"  {image}:", f"    build: {build}  # bumped by invoke bump"]
    lines += ["", "jobs:"]
    for image in images:
        lines += [f"  {image}:", f"    image: {image}", "    vcpus: 0.25", "    memory: 512"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def release_project(tmp_path: Path) -> Path:
    """A project root of its own: batchform.yaml with accounts rel-a and rel-b (private emulator
    accounts), the real root configuration and modules (linked), images alpha and beta (tiny,
    FROM scratch), and an empty terraform/accounts/ for the test's sources."""
    root = tmp_path / "project"
    (root / "terraform" / "accounts").mkdir(parents=True)
    repo = Path(__file__).resolve().parent.parent
    for tf in (repo / "terraform").glob("*.tf"):
        (root / "terraform" / tf.name).symlink_to(tf)
    (root / "modules").symlink_to(repo / "modules")
    for image in RELEASE_IMAGES:
        context = root / "images" / image
        context.mkdir(parents=True)
        (context / "Dockerfile").write_text("FROM scratch\nCOPY build.txt /build.txt\n")
        (context / "build.txt").write_text(f"{image} 1\n")
    import yaml

    (root / "batchform.yaml").write_text(
        yaml.safe_dump({"default_account": "rel-a", "accounts": release_accounts()})
    )
    (root / ".batchform").mkdir()
    return root


def project_releases(root: Path, echo=None):  # noqa: ANN001, ANN201
    """Releases of a release_project, with its own accounts and paths (nothing global touched)."""
    import yaml
    from batchform.releases import Releases
    from batchform.settings import Paths

    return Releases(
        Accounts(yaml.safe_load((root / "batchform.yaml").read_text())),
        Paths(root=root, home=root / ".batchform"),
        echo=echo or (lambda _line: None),
    )
