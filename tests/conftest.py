"""Shared fixtures, and the guard that keeps the test lanes honest.

Tests that need a component of the local stack ask for it through a fixture. Where the
component is missing the test skips -- except under BATCHFORM_REQUIRE_ALL=1 (CI), where it
fails, so that a green run always means every test really ran.

A test that needs a component carries its marker (stack, terraform, docker, checkov), so
that `./batchform test --quick` can leave it out. The markers cannot go stale: a test that
reaches a component without its marker fails (tests/guard/componentguard.py), and so does a
test asking for a fixture of a component (FIXTURE_NEEDS) without it.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from batchform.accounts import Accounts
from batchform.localstack.stack import LocalStack
from batchform.settings import LocalStackSettings, read_state

sys.path.insert(0, str(Path(__file__).resolve().parent / "guard"))
import componentguard  # noqa: E402 - found through the path above

REQUIRE_ALL = os.environ.get("BATCHFORM_REQUIRE_ALL") == "1"
REPO = Path(__file__).resolve().parent.parent
SUMMARY = pytest.StashKey[list[str]]()
TALLY = pytest.StashKey[Counter]()

# What the reliability summary line counts, in its order; tests add to these through `tally`.
TALLIES = {
    "bad inputs refused": "bad inputs refused",
    "faults injected": "faults injected",
    "concurrent operations": "concurrent operations",
    "checkov passed": "checkov checks passed",
    "checkov suppressed": "checkov checks suppressed",
}


# ---- markers, enforced -------------------------------------------------------------------------

# Fixtures that reach a component, and the markers a test asking for them (directly or through
# another fixture) must carry.
FIXTURE_NEEDS = {
    "local_stack": {"stack"},
    "private_stack": {"stack"},
    "private_emulator": {"stack"},
    "demo_run": {"stack", "terraform"},
    "terraform_binary": {"terraform"},
    "checkov": {"checkov"},
    "browser": {"browser"},
}


def stack_ports() -> set[int]:
    """The shared local stack's ports: configured, recorded by a running stack, and the defaults."""
    settings = LocalStackSettings.load()
    ports = {settings.emulator_port, settings.registry_port, 4566, 5000}
    for process in read_state(settings.state_file).get("processes", {}).values():
        if "port" in process:
            ports.add(int(process["port"]))
        if "address" in process:
            ports.add(int(str(process["address"]).rpartition(":")[2]))
    return ports


def pytest_configure(config: pytest.Config) -> None:
    report = Path(tempfile.mkdtemp(prefix="batchform-guard-")) / "violations"
    componentguard.install(stack_ports(), report)


def _allowed(item: pytest.Item) -> frozenset[str]:
    return componentguard.allowed_by(mark.name for mark in item.iter_markers())


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> object:
    # Importing a test module reaches no component: the quick lane collects every module.
    with componentguard.scope(frozenset(), "collecting the tests"):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> object:
    allowed = _allowed(item)
    marks = {mark.name for mark in item.iter_markers()}
    for name in getattr(item, "fixturenames", ()):
        lacking = sorted(FIXTURE_NEEDS.get(name, set()) - marks)
        if lacking:
            with componentguard.scope(frozenset(), item.nodeid):
                componentguard.violate(lacking[0], f"asked for the fixture {name}")
    with componentguard.scope(allowed, item.nodeid):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> object:
    with componentguard.scope(_allowed(item), item.nodeid):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> object:
    # Fixtures of a wider scope end here too, after the last test of their module or session,
    # which may not be one that needed them.
    widest = nextitem is None or nextitem.path != item.path
    with componentguard.scope(None if widest else _allowed(item), item.nodeid):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    report = yield
    found = componentguard.take_violations()
    if found:
        report.outcome = "failed"
        report.longrepr = "\n".join(found)
    return report


def offline_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m batchform ARGS` from the repository with its own empty home: for commands that
    must refuse their input before reaching any account."""
    return subprocess.run(
        [sys.executable, "-m", "batchform", *args],
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "BATCHFORM_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextlib.contextmanager
def in_process_aws(monkeypatch: pytest.MonkeyPatch, region: str = "us-east-1") -> Iterator[None]:
    """In-process moto with test credentials and no endpoint of the user's; a submitted job is
    never run (moto would start its container with docker): it stays where it was put."""
    import moto.batch.models
    from moto import mock_aws

    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BATCH", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    monkeypatch.setattr(moto.batch.models.Job, "run", lambda self: None)
    with mock_aws():
        yield


REDRAW = re.compile(rb"(?=\r\x1b\[)")  # a live display goes back to its first line to draw anew


@dataclass
class Terminal:
    """What a program drew in a pseudo-terminal: every screen it showed, the last, its exit code."""

    code: int
    frames: list[str]
    screen: str
    raw: bytes


def in_terminal(
    argv: list[str],
    env: dict[str, str] | None = None,
    columns: int = 140,
    rows: int = 60,
    timeout: float = 300,
) -> Terminal:
    """Run `argv` on a pseudo-terminal of `columns` x `rows`, its output read by pyte, a terminal
    emulator: each screen it drew is a frame, as a person would have seen it."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    import pyte

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    shown_env = {**(env or os.environ), "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(rows)}
    if env is None:
        shown_env.pop("NO_COLOR", None)  # a terminal of the usual kind unless the caller says
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=REPO, env=shown_env)
    os.close(slave)
    screen = pyte.Screen(columns, rows)
    stream = pyte.ByteStream(screen)
    frames: list[str] = []
    raw = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"{' '.join(argv)} did not end within {timeout:.0f} s")
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # the program ended: its side of the terminal is closed
                break
            if not data:
                break
            raw += data
            # A frame before each redraw too: one read may hold a screen and the erasing of it
            # (rich's last refresh and its clearing at the end, on a loaded machine).
            for drawn in REDRAW.split(bytes(data)):
                stream.feed(drawn)
                frames.append("\n".join(line.rstrip() for line in screen.display))
    finally:
        os.close(master)
        if proc.poll() is None and time.monotonic() > deadline:
            proc.kill()
    return Terminal(proc.wait(timeout=60), frames, frames[-1] if frames else "", bytes(raw))


def missing(what: str) -> None:
    """Skip, or fail in CI, because `what` is not available."""
    if REQUIRE_ALL:
        pytest.fail(f"{what} is required (BATCHFORM_REQUIRE_ALL=1)")
    pytest.skip(f"{what} is not available")


def free_port() -> int:
    """A free port below the kernel's ephemeral range, so no outgoing connection can take it meanwhile,
    and in a slice of that range of this worker's own, so that parallel workers never pick the same."""
    low, _ = (int(v) for v in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    top = min(low, 32768)
    workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0) % workers
    width = (top - 20000) // workers
    ports = range(20000 + worker * width, 20000 + (worker + 1) * width)
    for port in random.sample(ports, min(200, len(ports))):
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
def schema_only_provider(terraform_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """TF_REATTACH_PROVIDERS naming one hashicorp/aws provider, started once in debug mode.

    For terraform commands that only read the provider's schema and validate against it (`validate`,
    `test` with a mocked provider): they otherwise start the plugin afresh for each run block and
    again for each step, about 2.5 starts a run block at a second of CPU each. Never for commands
    that configure the provider (plan, apply): a reattached process holds one configuration.
    """
    work = tmp_path_factory.mktemp("aws-provider")
    shutil.copy(REPO / "terraform" / "versions.tf", work / "versions.tf")
    initialised(terraform_binary, work, work / ".terraform", "-backend=false")
    (plugin,) = (work / ".terraform" / "providers").glob(
        "registry.terraform.io/hashicorp/aws/*/*/terraform-provider-aws*"
    )
    announced = work / "provider.out"
    with announced.open("w") as out:
        process = subprocess.Popen([plugin, "-debug"], stdout=out, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r"TF_REATTACH_PROVIDERS='(.+)'", announced.read_text())):
            assert process.poll() is None and time.monotonic() < deadline, announced.read_text()
            time.sleep(0.1)
        yield found.group(1)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def checkov() -> Path:
    """The checkov executable (`./batchform test` installs it into .venv-checkov)."""
    from batchform.devtools.checks import checkov_binary

    binary = checkov_binary()
    if binary is None:
        missing("checkov")
    return binary


CHROMIUM = "/usr/bin/chromium"  # Debian's (the bootstrap installs it); `playwright install` is never run
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def screenshot(page, name: str, **options: object) -> None:  # noqa: ANN001 - a playwright Page
    """Take the page's screenshot `name`; write it only where BATCHFORM_SCREENSHOTS names a directory.

    The README shows docs/screenshots/, which `BATCHFORM_SCREENSHOTS=docs/screenshots ./batchform
    test` refreshes; any other run takes the picture and keeps it in memory, so a run leaves the
    clone as it found it."""
    directory = os.environ.get("BATCHFORM_SCREENSHOTS")
    path = str(REPO / directory / name) if directory else None
    taken = page.screenshot(path=path, **options)
    assert taken.startswith(PNG_SIGNATURE), f"{name}: not a PNG"


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless chromium driven by playwright."""
    if not os.path.exists(CHROMIUM):
        missing("chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@contextlib.contextmanager
def dashboard(env: dict[str, str] | None = None, *accounts: str) -> Iterator[str]:
    """`batchform ui` in a process of its own on a free port, polling every second; its URL."""
    import requests

    port = free_port()
    command = [sys.executable, "-m", "batchform", "ui", "--port", str(port), "--interval", "1"]
    for account in accounts:
        command += ["--account", account]
    server = subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if server.poll() is not None:
                raise AssertionError(f"the dashboard exited: {server.stdout.read() if server.stdout else ''}")
            try:
                if requests.get(f"{url}/jobs", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        else:
            raise AssertionError("the dashboard did not answer within 30 s")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


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
    from batchform.localstack import demo

    printed: list[str] = []
    status = demo.run(printed.append)
    return status, "\n".join(printed)


def _private_local_stack(data_dir: Path) -> LocalStack:
    """A throwaway local stack on free ports, using the docker engine that runs (not started yet)."""
    if not (shutil.which("docker-registry") or shutil.which("registry")):
        missing("the docker-registry binary")
    if not LocalStack.docker_healthy():
        missing("a docker engine")
    return LocalStack(
        LocalStackSettings.load(
            data_dir=data_dir, emulator_port=free_port(), registry_port=free_port(), start_docker=False
        )
    )


@pytest.fixture
def private_stack(tmp_path: Path) -> Iterator[LocalStack]:
    """A second, throwaway local stack on free ports, stopped and deleted afterwards."""
    stack = _private_local_stack(tmp_path / "stack")
    yield stack
    stack.down()


@contextlib.contextmanager
def private_emulator_stack(data_dir: Path) -> Iterator[LocalStack]:
    """A private stack for what needs no job container: up on free ports, with job containers off (a
    submitted job succeeds at once); stopped and its data deleted afterwards."""
    import requests

    stack = _private_local_stack(data_dir)
    try:
        stack.up()
        config = f"{stack.settings.emulator_url}/moto-api/config"
        requests.post(config, json={"batch": {"use_docker": False}}, timeout=10).raise_for_status()
        yield stack
    finally:
        stack.down()


@pytest.fixture(scope="module")
def private_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """private_emulator_stack, for the tests of one file (each makes what it uses under names of its own)."""
    with private_emulator_stack(tmp_path_factory.mktemp("stack")) as stack:
        yield stack


@pytest.fixture(scope="session")
def suite_summary(request: pytest.FixtureRequest) -> list[str]:
    """Lines a test wants shown at the end of the run (for example the checkov suppressions)."""
    return request.config.stash.setdefault(SUMMARY, [])


@pytest.fixture(scope="session")
def tally(request: pytest.FixtureRequest) -> Counter:
    """Counts for the run's reliability summary line: `tally["faults injected"] += n`.

    Keys are those of TALLIES; a test adds what it really did (inputs refused, faults the proxy
    injected, operations it ran at once), so the line reports what was proven, not planned.
    """
    counts = request.config.stash.setdefault(TALLY, Counter())
    return counts


def reliability_line(counts: Counter) -> str:
    unknown = set(counts) - set(TALLIES)
    if unknown:
        raise KeyError(f"unknown tally keys: {', '.join(sorted(unknown))}")
    return "reliability: " + ", ".join(f"{counts[key]} {label}" for key, label in TALLIES.items())


# ---- running in parallel (pytest-xdist, as `./batchform test` does) ----------------------------

# Tests of one account's terraform data directory or deployment, wherever they are, run in one
# worker, one after the other; so do the tests of a file that reaches a component (its module
# fixtures are set up once, and its tests may build on each other). The rest spread freely.
LOCAL_ACCOUNT_FIXTURES = {"demo_run", "local_account"}
LOCAL_B_FILES = {"test_terraform_state.py", "test_terraform_credentials.py"}  # local-b's terraform
# Files whose every test works in emulator accounts and directories of its own: spread freely.
INDEPENDENT_FILES = {"test_faults.py", "test_interrupted.py", "test_releases.py", "test_security.py"}
# What takes minutes (most of it waiting: the engine's pauses between push retries, terraform),
# longest first as measured, so that no worker is still busy with one when the others are done.
LONGEST_FIRST = (
    "test_terraform_lifecycle",
    "local-account",
    "tests/test_releases.py::test_the_matrix_shows_declared_ahead_of_deployed",
    "local-b",
    "test_schedules_and_notifications",
    "tests/test_security.py::test_terraform_gets_aws_credentials_only_in_its_environment",
    "test_bench",
    "test_modules",
)


def parallel_group(item: pytest.Item) -> str | None:
    marks = {mark.name for mark in item.iter_markers()}
    if not marks & set(componentguard.MARKER_ALLOWS):
        return None
    if LOCAL_ACCOUNT_FIXTURES & set(getattr(item, "fixturenames", ())):
        return "local-account"
    if item.path.name in LOCAL_B_FILES:
        return "local-b"
    if item.path.name in INDEPENDENT_FILES:
        return None
    return item.path.stem


def _start_rank(item: pytest.Item, group: str | None) -> int:
    return _rank(item.nodeid, group)


def _rank(nodeid: str, group: str | None) -> int:
    for rank, what in enumerate(LONGEST_FIRST):
        if what == group or nodeid.startswith(what):
            return rank
    return len(LONGEST_FIRST)


def _long(scope: str) -> bool:
    """Whether an xdist work unit (a group's name, or an ungrouped test's id) is of LONGEST_FIRST."""
    return _rank(scope, scope) < len(LONGEST_FIRST)


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """loadgroup, handing out what takes minutes one unit at a time (see LongestFirstScheduling)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class LongestFirstScheduling(LoadGroupScheduling):
        """xdist's loadgroup tops a worker up whenever it has 2 tests or fewer pending, so the first
        worker took the three one-test units that take minutes, to run one after the other. Here a
        worker that still has one of LONGEST_FIRST pending is topped up with the first other unit
        instead (a worker runs a test only once it holds the next one or is told to stop, so it
        must get something). The queue keeps the collection's order (`--no-loadscope-reorder`),
        which puts LONGEST_FIRST first."""

        def _reschedule(self, node) -> None:  # noqa: ANN001 - xdist's WorkerController
            if self.workqueue and not node.shutting_down:
                pending = [
                    scope for scope, tests in self.assigned_work[node].items() if not all(tests.values())
                ]
                if _long(next(iter(self.workqueue))) and any(_long(scope) for scope in pending):
                    short = next((scope for scope in self.workqueue if not _long(scope)), None)
                    if short is not None:
                        self.workqueue.move_to_end(short, last=False)
            super()._reschedule(node)

    return LongestFirstScheduling(config, log)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    parallel = getattr(config.option, "numprocesses", None) or hasattr(config, "workerinput")
    if not (config.pluginmanager.hasplugin("xdist") and parallel):
        return
    groups = {}
    for item in items:
        groups[item] = group = parallel_group(item)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
    # Stable: a file's tests keep their order.
    items.sort(key=lambda item: _start_rank(item, groups[item]))


@pytest.hookimpl(tryfirst=True)  # before the worker sends the ids to the controller
def pytest_collection_finish(session: pytest.Session) -> None:
    """xdist 3.8 sets a private attribute that pytest 9 no longer reads, so its groups are lost:
    the group is named in the id here instead, as xdist means to (`id@group`)."""
    if not (hasattr(session.config, "workerinput") and getattr(session.config.option, "loadgroup", False)):
        return
    from _pytest.nodeid import coerce_node_id

    for item in session.items:
        mark = item.get_closest_marker("xdist_group")
        if mark and "@" not in item.nodeid and hasattr(item, "_id"):
            item._id = coerce_node_id(f"{item.nodeid}@{mark.args[0]}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A worker hands what it counted and the lines it wants shown to the controller."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["batchform"] = json.dumps(
            {"lines": session.config.stash.get(SUMMARY, []), "tally": session.config.stash.get(TALLY, {})}
        )


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:  # noqa: ANN001
    handed = json.loads(getattr(node, "workeroutput", {}).get("batchform", "{}"))
    config = node.config
    config.stash.setdefault(SUMMARY, []).extend(handed.get("lines", []))
    config.stash.setdefault(TALLY, Counter()).update(handed.get("tally", {}))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001
    lines = config.stash.get(SUMMARY, [])
    counts = config.stash.get(TALLY, None)
    if lines or counts:
        terminalreporter.section("batchform")
        for line in lines:
            terminalreporter.write_line(line)
        if counts:
            terminalreporter.write_line(reliability_line(counts))


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
def release_project(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A project root of its own: batchform.yaml with accounts rel-a and rel-b (private emulator
    accounts), the real root configuration and modules (linked), images alpha and beta (tiny,
    FROM scratch), and an empty terraform/accounts/ for the test's sources.

    With the local stack, the emulator forgets both accounts afterwards, whatever the test
    applied there: no `terraform destroy` needed (a minute at least, for the job queue alone)."""
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

    accounts = release_accounts()
    (root / "batchform.yaml").write_text(yaml.safe_dump({"default_account": "rel-a", "accounts": accounts}))
    (root / ".batchform").mkdir()
    yield root
    if "local_stack" in request.fixturenames:
        stack = request.getfixturevalue("local_stack")
        for account in accounts.values():
            stack.drop_account(account["account_id"])


def project_env(root: Path) -> dict[str, str]:
    """The environment of a batchform process working in a release_project."""
    return dict(
        os.environ,
        BATCHFORM_ROOT=str(root),
        BATCHFORM_CONFIG=str(root / "batchform.yaml"),
        BATCHFORM_HOME=str(root / ".batchform"),
    )


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


@dataclass(frozen=True)
class BatchQueue:
    """A job queue of a private emulator account, with one job definition (busybox, exits 0)."""

    config: dict  # the account's batchform.yaml entry
    account: object  # batchform.accounts.Account
    target: object  # batchform.jobs.DeployedJob


JOB_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")


def queue_job_ids(batch, queue: str) -> list[str]:  # noqa: ANN001
    """Every job of `queue`, in every status: ListJobs without a status lists only RUNNING ones."""
    found: dict[str, None] = {}
    for status in JOB_STATUSES:
        for page in batch.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus=status):
            found.update(dict.fromkeys(summary["jobId"] for summary in page["jobSummaryList"]))
    return list(found)


def private_account_config() -> dict:
    account_id = f"{random.randint(10**11, 10**12 - 1)}"
    return {
        "account_id": account_id,
        "region": "us-east-1",
        "endpoints": "local-stack",
        "role_arn": f"arn:aws:iam::{account_id}:role/batchform-deployer",
    }


@pytest.fixture(scope="module")
def batch_queue(local_stack: LocalStack) -> Iterator[BatchQueue]:
    """A Fargate queue in an emulator account no other test uses, made with boto3 (no terraform),
    deleted afterwards with whatever jobs it still holds."""
    from batchform.jobs import DeployedJob
    from batchform.localstack.baseimages import BUSYBOX_LOCAL

    config = private_account_config()
    account = Accounts({"accounts": {"queued": config}}).get("queued")
    ec2, iam, batch = (account.client(service) for service in ("ec2", "iam", "batch"))
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "batch.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName="queued-batch", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    environment = batch.create_compute_environment(
        computeEnvironmentName="queued",
        type="MANAGED",
        state="ENABLED",
        serviceRole=role["Arn"],
        computeResources={"type": "FARGATE", "maxvCpus": 4, "subnets": [subnet], "securityGroupIds": [group]},
    )["computeEnvironmentArn"]
    queue = batch.create_job_queue(
        jobQueueName="queued",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
    )["jobQueueArn"]
    definition = batch.register_job_definition(
        jobDefinitionName="queued-work",
        type="container",
        platformCapabilities=["FARGATE"],
        containerProperties={
            "image": BUSYBOX_LOCAL,  # made by `./batchform test`, so no pull is needed
            "command": ["true"],
            "resourceRequirements": [{"type": "VCPU", "value": "0.25"}, {"type": "MEMORY", "value": "512"}],
        },
    )["jobDefinitionArn"]
    yield BatchQueue(config, account, DeployedJob("work", definition.rsplit(":", 1)[0], queue))

    for job_id in queue_job_ids(batch, queue):
        batch.terminate_job(jobId=job_id, reason="test over")
    batch.deregister_job_definition(jobDefinition=definition)
    batch.update_job_queue(jobQueue=queue, state="DISABLED")
    batch.delete_job_queue(jobQueue=queue)
    batch.update_compute_environment(computeEnvironment=environment, state="DISABLED")
    batch.delete_compute_environment(computeEnvironment=environment)
    iam.delete_role(RoleName=role["RoleName"])


def push_manifest_only(account, image: str, tag: int) -> None:  # noqa: ANN001
    """A minimal image straight through the registry API: fast, for tests that need many builds."""
    import hashlib

    import requests
    from batchform.registry import Registry

    registry = Registry(account)
    credentials = registry.credentials()
    auth = (credentials.username, credentials.password)  # the registry asks for the account's token
    base = f"{registry.base_url}/v2/{registry.repository_path(image)}"
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []},
            "config": {"Labels": {"org.opencontainers.image.version": str(tag)}},
        }
    ).encode()
    digest = "sha256:" + hashlib.sha256(config).hexdigest()
    upload = requests.post(f"{base}/blobs/uploads/", auth=auth, timeout=30)
    location = upload.headers["Location"]
    separator = "&" if "?" in location else "?"
    location = location if location.startswith("http") else f"{registry.base_url}{location}"
    requests.put(
        f"{location}{separator}digest={digest}", data=config, auth=auth, timeout=30
    ).raise_for_status()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest,
            "size": len(config),
        },
        "layers": [],
    }
    requests.put(
        f"{base}/manifests/{tag}",
        data=json.dumps(manifest),
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        auth=auth,
        timeout=30,
    ).raise_for_status()


@pytest.fixture(scope="module")
def root_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The root configuration with a local backend (an override file), beside the real modules."""
    base = tmp_path_factory.mktemp("root")
    copy = base / "terraform"
    copy.mkdir()
    for tf in (REPO / "terraform").glob("*.tf"):
        shutil.copy(tf, copy / tf.name)
    (copy / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    (base / "modules").symlink_to(REPO / "modules")
    return copy


@pytest.fixture(scope="module")
def tf_env(
    tmp_path_factory: pytest.TempPathFactory, root_copy: Path, terraform_binary: str
) -> dict[str, str]:
    return initialised(terraform_binary, root_copy, tmp_path_factory.mktemp("tfdata"))


def initialised(terraform_binary: str, cwd: Path, data_dir: Path, *options: str) -> dict[str, str]:
    """Run `terraform init` in `cwd` with a data directory of its own; the environment it ran in."""
    env = dict(os.environ, TF_DATA_DIR=str(data_dir), TF_IN_AUTOMATION="1")
    from batchform.terraform import cli_config_file

    rc = cli_config_file()
    if rc:
        env["TF_CLI_CONFIG_FILE"] = str(rc)
    init = subprocess.run(
        [terraform_binary, "init", *options, "-input=false", "-no-color"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    return env


ROOT_VARIABLES = {
    "account_name": "check",
    "account_id": "123456789012",
    "region": "us-east-1",
    "images": {"hello": {"build": 1}},
    "jobs": {},
}


@pytest.fixture(scope="module")
def schema_env(tf_env: dict[str, str], schema_only_provider: str) -> dict[str, str]:
    """tf_env for commands that only validate (validate, test with a mocked provider)."""
    return {**tf_env, "TF_REATTACH_PROVIDERS": schema_only_provider}


# What a plan of the root reads from AWS, mocked in `terraform test` as in terraform/tests.
MOCKED_DATA = {
    "aws_vpc": {"defaults": {"id": "vpc-0d0d0d0d"}},
    "aws_subnets": {"defaults": {"ids": ["subnet-0a0a0a0a", "subnet-0b0b0b0b"]}},
    "aws_partition": {"defaults": {"partition": "aws"}},
    "aws_caller_identity": {"defaults": {"account_id": "123456789012"}},
}


def refused_plans(tf_env: dict[str, str], root_copy: Path, cases: dict[str, dict]) -> dict[str, str]:
    """Plan the root with ROOT_VARIABLES overridden by each case's variables; every plan must fail.

    All in one `terraform test` (a file per case, so that one refusal skips no other), which
    loads the providers once instead of once a plan. Returns each case's output on one line
    (terraform wraps long messages).
    """
    directory = root_copy / "refusals"
    directory.mkdir(exist_ok=True)
    for name, variables in cases.items():
        test = {
            "mock_provider": {"aws": {"mock_data": MOCKED_DATA}},
            "variables": {**ROOT_VARIABLES, **variables},
            "run": {"refused": {"command": "plan"}},
        }
        (directory / f"{name}.tftest.json").write_text(json.dumps(test))
    result = subprocess.run(
        ["terraform", "test", "-no-color", f"-test-directory={directory.name}"],
        cwd=root_copy,
        env={**tf_env, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one stream: each file's errors follow its name
        text=True,
        timeout=600,
    )
    output = result.stdout
    assert result.returncode != 0, output
    # Each file's part of the output begins with its name.
    parts = re.split(rf"^{directory.name}/(\S+)\.tftest\.json\.\.\. in progress$", output, flags=re.MULTILINE)
    found = {parts[i]: " ".join(parts[i + 1].split()) for i in range(1, len(parts) - 1, 2)}
    assert set(found) == set(cases), output
    for name, text in found.items():
        assert 'run "refused"... fail' in text, f"{name} was not refused: {text}"
    return found
