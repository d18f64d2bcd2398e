"""The embedded local stack: an AWS emulator, an OCI registry and a docker engine, on loopback.

It stands in for an AWS account so that every workflow runs, and every test proves it,
without one:

* the emulator is moto's server, launched by `batchform.localstack.emulator` so that Batch jobs run as
  real containers on the host network and can reach the emulator and the registry;
* the registry is the CNCF distribution registry (Debian: docker-registry), standing in for
  ECR's image endpoint behind `batchform.localstack.tagguard`, which refuses to overwrite a tag as an
  immutable ECR repository does (the registry alone would overwrite it) and asks every
  account's repositories for that account's token from the emulator's GetAuthorizationToken
  (both sign tokens with the stack's own key, `<data dir>/registry-auth.key`; the tokens name
  this registry as their `proxyEndpoint`, so clients find it as they find ECR);
* the docker engine must answer; where none does and dockerd is installed and we are root,
  one is started (and stopped again by `down`, since we own it).

Each component is recorded in `<data dir>/stack.json` with its pid and address, which is
how `up` tells "already running" (harmless) from "port taken by another program" (an error).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests

from ..errors import ComponentMissing, UserError
from ..settings import LocalStackSettings, read_state, write_atomic
from . import baseimages, registryauth, tagguard
from .emulator import ACCOUNTS_PATH, HEALTH_PATH, REQUEST_FAILED, SERVICE_NAME

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
PORT_RELEASE_GRACE = 5.0


@dataclass
class ComponentStatus:
    name: str
    address: str
    running: bool
    pid: int | None = None
    owned: bool = True
    detail: str = ""

    def line(self) -> str:
        state = "running" if self.running else "stopped"
        extra = f" (pid {self.pid})" if self.pid and self.running else ""
        note = f" - {self.detail}" if self.detail else ""
        return f"{self.name:<9} {state:<8} {self.address}{extra}{note}"


@dataclass
class StackState:
    """What `up` recorded: enough to find, check and stop every process it started."""

    settings: dict[str, Any] = field(default_factory=dict)
    processes: dict[str, dict[str, Any]] = field(default_factory=dict)


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists"; it is not running.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            return False
    return True


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _registry_answers(address: str) -> bool:
    return _http_ok(
        f"http://{address}/v2/",
        lambda r: r.ok and r.headers.get("Docker-Distribution-Api-Version") == "registry/2.0",
    )


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _port_released(host: str, port: int, grace: float = PORT_RELEASE_GRACE) -> bool:
    """True once nothing holds the port; a port closed a moment ago (a restart) gets a short grace."""
    deadline = time.monotonic() + grace
    while port_in_use(host, port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _http_ok(url: str, check: Callable[[requests.Response], bool]) -> bool:
    try:
        return check(requests.get(url, timeout=2))
    except requests.RequestException:
        return False


class LocalStack:
    """Start, report and stop the local stack described by `settings`."""

    def __init__(self, settings: LocalStackSettings | None = None, echo: Callable[[str], None] | None = None):
        self.settings = settings or LocalStackSettings.load()
        self.echo = echo or (lambda _msg: None)

    # ---- health checks: each also proves the answering process is the component we expect
    def emulator_healthy(self) -> bool:
        url = self.settings.emulator_url + HEALTH_PATH
        return _http_ok(url, lambda r: r.ok and r.json().get("service") == SERVICE_NAME)

    def registry_healthy(self) -> bool:
        """Our tag guard answers, and the registry behind it too.

        The guard says so itself: its `/v2/` asks for a token, and a stack started from another
        checkout keeps its key in that checkout's data directory. A guard that does not say
        (an older one) is taken at its `/v2/`: the registry's answer, or the guard's challenge.
        """
        address = self.settings.registry_address

        def ours(response: requests.Response) -> bool:
            health = response.json() if response.ok else {}
            if health.get("service") != tagguard.SERVICE_NAME:
                return False
            if "upstream_answers" in health:
                return bool(health["upstream_answers"])
            return _http_ok(
                f"http://{address}/v2/",
                lambda r: (
                    r.status_code in (200, 401)
                    and r.headers.get("Docker-Distribution-Api-Version") == "registry/2.0"
                ),
            )

        return _http_ok(f"http://{address}{tagguard.HEALTH_PATH}", ours)

    def _ensure_registry_key(self) -> Path:
        """The key both the emulator and the guard sign tokens with; made once, kept with the data."""
        path = self.settings.registry_key_file
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # readable by us alone
            with os.fdopen(fd, "wb") as out:
                out.write(registryauth.new_auth_key())
        return path

    @staticmethod
    def docker_address() -> str:
        return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")

    @staticmethod
    def docker_healthy() -> bool:
        import docker

        try:
            client = docker.from_env(timeout=5)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:  # noqa: BLE001 - any failure to reach the engine means "not answering"
            return False

    # ---- lifecycle ------------------------------------------------------------------
    def _state(self) -> StackState:
        raw = read_state(self.settings.state_file)
        return StackState(settings=raw.get("settings", {}), processes=raw.get("processes", {}))

    def _save(self, state: StackState) -> None:
        write_atomic(self.settings.state_file, json.dumps(asdict(state), indent=2, sort_keys=True) + "\n")

    def up(self) -> list[ComponentStatus]:
        """Start every component that is not already running; harmless when all are."""
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        state = self._state()
        # Check every port first so that a conflict changes nothing.
        for name, port, healthy in (
            ("emulator", s.emulator_port, self.emulator_healthy),
            ("registry", s.registry_port, self.registry_healthy),
        ):
            recorded = state.processes.get(name, {})
            ours = _pid_alive(recorded.get("pid")) and recorded.get("port") == port and healthy()
            if not ours and not _port_released(s.host, port):
                raise UserError(
                    f"port {port} ({name}) is already in use by another program; choose another with "
                    f"--{name}-port or local_stack.{name}_port in batchform.yaml"
                )
        state.settings = {"emulator_port": s.emulator_port, "registry_port": s.registry_port, "host": s.host}
        self._ensure_docker(state)
        self._save(state)
        self._ensure_registry(state)
        self._save(state)
        self._ensure_emulator(state)
        self._save(state)
        return self.status()

    def _spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log_path = self.settings.data_dir / f"{name}.log"
        with open(log_path, "ab") as log:
            return subprocess.Popen(  # noqa: S603 - fixed argument list, no shell
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                start_new_session=True,  # survives the invoking command; stopped by `down`
                cwd=self.settings.data_dir,
            )

    def _wait(self, name: str, proc: subprocess.Popen[bytes], healthy: Callable[[], bool]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if healthy():
                return
            if proc.poll() is not None:
                log = self.settings.data_dir / f"{name}.log"
                raise UserError(f"{name} exited with code {proc.returncode} while starting: {_tail(log)}")
            time.sleep(0.2)
        _terminate(proc.pid)
        raise UserError(
            f"{name} did not answer within {START_TIMEOUT:.0f} s; see {self.settings.data_dir / name}.log"
        )

    def _ensure_registry(self, state: StackState) -> None:
        """ECR's image endpoint: the distribution registry, behind the tag guard that makes tags immutable.

        Clients only ever see the guard (on registry_port); the registry itself listens on a
        loopback port of its own, so no push can go around the guard.
        """
        s = self.settings
        guard, store = state.processes.get("registry", {}), state.processes.get("registry-store", {})
        if _pid_alive(guard.get("pid")) and _pid_alive(store.get("pid")) and self.registry_healthy():
            self.echo(f"registry already running at {s.registry_address}")
            return
        for leftover in (guard, store):
            if _pid_alive(leftover.get("pid")):
                _terminate(leftover["pid"])
        binary = shutil.which("docker-registry") or shutil.which("registry")
        if not binary:
            raise ComponentMissing(
                "no OCI registry binary found (docker-registry or registry); on Debian: apt-get install "
                "docker-registry, or run ./batchform bootstrap"
            )
        storage = s.data_dir / "registry"
        storage.mkdir(parents=True, exist_ok=True)
        store_address = f"{s.host}:{_free_port(s.host)}"
        config = s.data_dir / "registry.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
            "storage:\n"
            f"  filesystem:\n    rootdirectory: {storage}\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: {store_address}\n"
            "  headers:\n    X-Content-Type-Options: [nosniff]\n"
        )
        proc = self._spawn("registry-store", [binary, "serve", str(config)])
        self._wait("registry-store", proc, lambda: _registry_answers(store_address))
        state.processes["registry-store"] = {"pid": proc.pid, "address": store_address}
        argv = [
            sys.executable,
            "-m",
            "batchform.localstack.tagguard",
            "--host",
            s.host,
            "--port",
            str(s.registry_port),
            "--upstream",
            f"http://{store_address}",
            "--auth-key-file",
            str(self._ensure_registry_key()),
        ]
        proc = self._spawn("registry", argv, {"PYTHONUNBUFFERED": "1"})
        self._wait("registry", proc, self.registry_healthy)
        state.processes["registry"] = {"pid": proc.pid, "port": s.registry_port}
        self.echo(f"registry started at {s.registry_address} (tags immutable, tokens asked, as on ECR)")
        # Base-image stand-ins may serve every local stack, and nothing else.
        baseimages.serve(s.registry_address)

    def _ensure_emulator(self, state: StackState) -> None:
        s = self.settings
        recorded = state.processes.get("emulator", {})
        if _pid_alive(recorded.get("pid")) and self.emulator_healthy():
            self.echo(f"emulator already running at {s.emulator_url}")
            return
        argv = [
            sys.executable,
            "-m",
            "batchform.localstack.emulator",
            "--host",
            s.host,
            "--port",
            str(s.emulator_port),
            "--state-file",
            str(s.data_dir / "emulator-state.pickle"),
            # ECR's authorization tokens name the registry, so no client needs it configured.
            "--registry-url",
            f"http://{s.registry_address}",
            "--registry-key-file",
            str(self._ensure_registry_key()),
        ]
        env = {
            # AWS managed policies (AWSBatchServiceRole, ...) must exist for attachments to work.
            "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
            # Job containers share the host network, so they reach the emulator and registry on loopback.
            "MOTO_DOCKER_NETWORK_MODE": "host",
            "PYTHONUNBUFFERED": "1",
        }
        proc = self._spawn("emulator", argv, env)
        self._wait("emulator", proc, self.emulator_healthy)
        state.processes["emulator"] = {"pid": proc.pid, "port": s.emulator_port}
        self.echo(f"emulator started at {s.emulator_url}")

    def _ensure_docker(self, state: StackState) -> None:
        if self.docker_healthy():
            self.echo(f"docker engine answers at {self.docker_address()}")
            return
        dockerd = shutil.which("dockerd")
        if not (self.settings.start_docker and dockerd and os.geteuid() == 0):
            raise ComponentMissing(
                f"no docker engine answers at {self.docker_address()}; start one, or install Docker "
                "(on Debian as root: ./batchform bootstrap)"
            )
        # overlay2 where the kernel allows it (fast); vfs everywhere else (slow but universal).
        for driver in ("overlay2", "vfs"):
            argv = [dockerd, f"--storage-driver={driver}", "--iptables=false", "--bridge=none"]
            proc = self._spawn("dockerd", argv)
            try:
                self._wait("dockerd", proc, self.docker_healthy)
            except UserError:
                _terminate(proc.pid)
                continue
            state.processes["dockerd"] = {"pid": proc.pid, "driver": driver}
            self.echo(f"docker engine started at {self.docker_address()} (storage driver {driver})")
            return
        raise ComponentMissing(f"dockerd would not start; see {self.settings.data_dir / 'dockerd.log'}")

    def status(self) -> list[ComponentStatus]:
        s = self.settings
        procs = self._state().processes
        docker_running = self.docker_healthy()
        return [
            ComponentStatus(
                "emulator", s.emulator_url, self.emulator_healthy(), procs.get("emulator", {}).get("pid")
            ),
            ComponentStatus(
                "registry", s.registry_address, self.registry_healthy(), procs.get("registry", {}).get("pid")
            ),
            ComponentStatus(
                "docker",
                self.docker_address(),
                docker_running,
                procs.get("dockerd", {}).get("pid"),
                owned="dockerd" in procs,
                detail="" if "dockerd" in procs or not docker_running else "not managed by batchform",
            ),
        ]

    def request_failures(self, limit: int = 20) -> list[str]:
        """The emulator's log lines of requests that failed on its side, the last `limit` of them:
        behind a client's silent retry, the first try may have done its work already."""
        try:
            text = (self.settings.data_dir / "emulator.log").read_text(errors="replace")
        except FileNotFoundError:
            return []
        return [line for line in text.splitlines() if REQUEST_FAILED in line][-limit:]

    def drop_account(self, account_id: str) -> list[str]:
        """Have the emulator forget `account_id` in every service (other accounts untouched);
        returns the services that held something of it."""
        answer = requests.delete(f"{self.settings.emulator_url}{ACCOUNTS_PATH}{account_id}", timeout=60)
        answer.raise_for_status()
        return answer.json()["services"]

    def is_up(self) -> bool:
        return all(c.running for c in self.status())

    def down(self, keep: bool = False) -> None:
        """Stop what `up` started (the emulator first, so no job container is left half-run).

        Without `keep` the data (emulator state, registry storage, logs) is deleted, so the
        next `up` starts empty; with `keep` the next `up` resumes where this one stopped.
        """
        state = self._state()
        for name in ("emulator", "registry", "registry-store", "dockerd"):
            pid = state.processes.get(name, {}).get("pid")
            if _pid_alive(pid):
                _terminate(pid)
                self.echo(f"{name} stopped")
        if "registry" in state.processes:
            baseimages.withdraw(self.settings.registry_address)
        if self.settings.state_file.exists():
            self.settings.state_file.unlink()
        if not keep and self.settings.data_dir.exists():
            shutil.rmtree(self.settings.data_dir, ignore_errors=True)
            self.echo(f"removed {self.settings.data_dir}")


def _terminate(pid: int) -> None:
    """SIGTERM the process group, then SIGKILL what is left after STOP_TIMEOUT."""
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if not _pid_alive(pid):
                return
            time.sleep(0.1)
