"""A test reaches a component of the local stack only under that component's marker.

Without it the quick lane (`-m "not stack and not terraform and not docker and not checkov and not browser"`)
would rot: a test that quietly starts needing the emulator would still be selected, and fail
or skip there. So while a test runs, connecting to the local stack's ports or to the docker
engine's socket, or starting the terraform, docker or checkov programs, is an error unless
the test carries the marker; a test that did so anyway fails, even if the code under test
swallowed the error.

Python programs the test starts are guarded the same way: the `sitecustomize` beside this
file installs the guard in them and reports what they touched back through a file. This
module imports nothing but the standard library, so that costs those programs no time.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

GUARD_DIR = Path(__file__).resolve().parent

# What a marker lets a test reach. The local stack includes its docker engine.
MARKER_ALLOWS = {
    "stack": {"stack", "docker"},
    "docker": {"docker"},
    "terraform": {"terraform"},
    "checkov": {"checkov"},
    "browser": {"browser"},
}
COMPONENTS = frozenset().union(*MARKER_ALLOWS.values())

# Programs that are a component, or reach one on their own.
PROGRAMS = {
    "terraform": "terraform",
    "docker": "docker",
    "dockerd": "docker",
    "debootstrap": "docker",
    "skopeo": "stack",
    "docker-registry": "stack",
    "registry": "stack",
    "checkov": "checkov",
    "chromium": "browser",
}

LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0", "::"}  # noqa: S104 - names, not a bind

# Passed to guarded child processes.
ENV_FORBID = "BATCHFORM_TEST_GUARD_FORBID"
ENV_PORTS = "BATCHFORM_TEST_GUARD_PORTS"
ENV_REPORT = "BATCHFORM_TEST_GUARD_REPORT"
ENV_WHERE = "BATCHFORM_TEST_GUARD_WHERE"


class UnmarkedComponent(BaseException):
    """A test reached a component without its marker (a BaseException: retry loops must not eat it)."""


class _State:
    allowed: frozenset[str] | None = None  # None: not inside a test, nothing is guarded
    programs: dict[str, str] = {}  # noqa: RUF012 - the real programs' paths, and what they are
    where = ""
    stack_ports: frozenset[int] = frozenset()
    docker_tcp: frozenset[tuple[str, int]] = frozenset()
    report: Path | None = None  # where violations are written (children append, the parent reads)
    violations: list[str] = []  # noqa: RUF012 - one list per process


STATE = _State()


def message(component: str, what: str) -> str:
    return (
        f"{STATE.where or 'a test'} {what} without @pytest.mark.{component}: "
        f"mark the test (or its module: pytestmark = pytest.mark.{component})"
    )


def violate(component: str, what: str) -> None:
    text = message(component, what)
    STATE.violations.append(text)
    if STATE.report is not None:
        with contextlib.suppress(OSError), open(STATE.report, "a") as out:
            out.write(text.replace("\n", " ") + "\n")
    raise UnmarkedComponent(text)


def check(component: str, what: str, allowed: frozenset[str] | None = None) -> None:
    # Read once: a thread a test left running may look while the next test's window opens.
    allowed = STATE.allowed if allowed is None else allowed
    if allowed is not None and component not in allowed:
        violate(component, what)


# ---- sockets --------------------------------------------------------------------------------


def _component_at(family: int, address: object) -> str | None:
    if family == getattr(socket, "AF_UNIX", None):
        path = os.fsdecode(address) if isinstance(address, str | bytes) else ""
        return "docker" if path.endswith("docker.sock") else None
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = str(address[0]), address[1]
        if (host, port) in STATE.docker_tcp:
            return "docker"
        if host in LOOPBACK and port in STATE.stack_ports:
            return "stack"
    return None


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _connect(self: socket.socket, address: object) -> None:
    allowed = STATE.allowed  # once: another thread may end the test meanwhile
    if allowed is not None:
        component = _component_at(self.family, address)
        if component:
            check(component, f"connected to the {component} at {address!r}", allowed)
    return _real_connect(self, address)


def _connect_ex(self: socket.socket, address: object) -> int:
    allowed = STATE.allowed  # once: another thread may end the test meanwhile
    if allowed is not None:
        component = _component_at(self.family, address)
        if component:
            check(component, f"connected to the {component} at {address!r}", allowed)
    return _real_connect_ex(self, address)


# ---- programs -------------------------------------------------------------------------------

_real_popen_init = subprocess.Popen.__init__


def _program(args: object, executable: object, shell: bool) -> str:
    if executable:
        return os.fsdecode(executable)
    if isinstance(args, str | bytes | os.PathLike):
        first = os.fsdecode(args)
        return first.split()[0] if shell and first.split() else first
    try:
        return os.fsdecode(list(args)[0])  # type: ignore[arg-type]
    except (TypeError, IndexError):
        return ""


def _component_run(program: str, env: dict[str, str] | None) -> str | None:
    """What `program` is: a component when it is the real one (a test's stand-in script is not),
    or when it is named like one and cannot be found at all."""
    name = os.path.basename(program)
    if name not in PROGRAMS:
        return None
    search = (env if env is not None else os.environ).get("PATH")
    found = program if os.sep in program else shutil.which(program, path=search)
    if found is None:
        return PROGRAMS[name]
    return STATE.programs.get(os.path.realpath(found))


def _popen_init(self: subprocess.Popen, args: object, *rest: object, **kwargs: object) -> None:
    allowed = STATE.allowed  # once: another thread may end the test meanwhile
    if allowed is not None:
        program = _program(args, kwargs.get("executable"), bool(kwargs.get("shell")))
        component = _component_run(program, kwargs.get("env"))  # type: ignore[arg-type]
        if component:
            check(component, f"ran {os.path.basename(program)}", allowed)
        forbidden = COMPONENTS - allowed
        if forbidden and not rest:  # env passed by keyword, as every caller here does
            kwargs["env"] = child_environment(kwargs.get("env"), forbidden)  # type: ignore[arg-type]
    _real_popen_init(self, args, *rest, **kwargs)


def child_environment(env: dict[str, str] | None, forbidden: Iterable[str]) -> dict[str, str]:
    """`env` (None: this process's) with what a Python child needs to guard itself."""
    env = dict(os.environ if env is None else env)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(GUARD_DIR) + (os.pathsep + path if path else "")
    env[ENV_FORBID] = ",".join(sorted(forbidden))
    env[ENV_PORTS] = ",".join(str(port) for port in sorted(STATE.stack_ports))
    env[ENV_WHERE] = STATE.where
    if STATE.report is not None:
        env[ENV_REPORT] = str(STATE.report)
    return env


# ---- installing, and the test's scope -------------------------------------------------------


def docker_tcp_addresses() -> frozenset[tuple[str, int]]:
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("tcp://"):
        name, _, port = host[len("tcp://") :].partition(":")
        with contextlib.suppress(ValueError):
            return frozenset({(name, int(port.split("/")[0] or 2375))})
    return frozenset()


def install(stack_ports: Iterable[int], report: Path | None) -> None:
    STATE.stack_ports = frozenset(stack_ports)
    STATE.docker_tcp = docker_tcp_addresses()
    STATE.report = report
    STATE.programs = {
        os.path.realpath(found): component
        for name, component in PROGRAMS.items()
        if (found := shutil.which(name))
    }
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
    subprocess.Popen.__init__ = _popen_init  # type: ignore[method-assign]


def allowed_by(markers: Iterable[str]) -> frozenset[str]:
    return frozenset().union(*(MARKER_ALLOWS.get(name, set()) for name in markers))


@contextlib.contextmanager
def scope(allowed: frozenset[str] | None, where: str) -> Iterator[None]:
    before = (STATE.allowed, STATE.where)
    STATE.allowed, STATE.where = allowed, where
    try:
        yield
    finally:
        STATE.allowed, STATE.where = before


def take_violations() -> list[str]:
    """What was touched without a marker since the last call, here and in child processes."""
    found, STATE.violations = STATE.violations, []
    if STATE.report is not None and STATE.report.exists():
        children = [line for line in STATE.report.read_text().splitlines() if line]
        STATE.report.write_text("")
        found += [line for line in children if line not in found]
    return found


def install_in_child() -> None:
    """In a Python program started by a guarded test: forbid what the test may not reach."""
    forbid = {name for name in os.environ.get(ENV_FORBID, "").split(",") if name}
    if not forbid:
        return
    ports = [int(port) for port in os.environ.get(ENV_PORTS, "").split(",") if port]
    report = os.environ.get(ENV_REPORT)
    install(ports, Path(report) if report else None)
    STATE.allowed = COMPONENTS - forbid
    STATE.where = os.environ.get(ENV_WHERE, "")
