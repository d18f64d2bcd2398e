"""What every benchmark shares: a private local stack, its accounts, the AWS CLI, and results.

The private stack is the project's own `LocalStack` on free ports with a throwaway data
directory, using the docker engine that already runs; it is stopped and deleted at the end.
The shared stack (ports 4566/5000) is never touched.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import math
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from batchform.accounts import Account, Accounts
from batchform.jobs import DeployedJob
from batchform.localstack.stack import LocalStack
from batchform.settings import LocalStackSettings

Echo = Callable[[str], None]

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent

# The AWS CLI the reference loops run: version 1 from PyPI (version 2 is not published there),
# in a virtual environment of its own so that its botocore pin cannot touch the project's.
AWSCLI_VERSION = "1.46.3"
AWSCLI_VENV = BENCH_DIR / ".venv-awscli"

REGION = "us-east-1"
LOG_GROUP = "/batchform/bench/jobs"
LOG_PREFIX = "bench"


def echo_line(message: str) -> None:
    print(message, flush=True)


# ---- results ----------------------------------------------------------------------------------


def number(value: float) -> str:
    """A value with three significant digits or so, without exponent notation."""
    if value == 0 or math.isnan(value) or math.isinf(value):
        return f"{value:g}"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


@dataclass
class Result:
    """One benchmark: a headline value for the project and for the reference, plus details.

    `ratio` is always ours / reference; `better` says which way is good for this measure.
    """

    name: str
    ours: float
    reference: float
    unit: str
    better: str  # "higher" or "lower"
    details: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.ours / self.reference if self.reference else math.inf

    def line(self) -> str:
        return (
            f"{self.name}: ours {number(self.ours)} {self.unit}, "
            f"reference {number(self.reference)} {self.unit}, ratio {number(self.ratio)}"
        )

    def lines(self) -> list[str]:
        return [self.line(), *(f"    {d}" for d in self.details)]


def report(results: list[Result], echo: Echo) -> None:
    for result in results:
        for line in result.lines():
            echo(line)


# ---- the private stack ------------------------------------------------------------------------


def free_port() -> int:
    """A free loopback port below the kernel's ephemeral range (no outgoing connection takes it)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for port in random.sample(range(20000, min(low, 32768)), 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


class PrivateStack:
    """An emulator and a registry of our own, on free ports, with accounts that point at them."""

    def __init__(self, echo: Echo = echo_line):
        self.echo = echo
        self.workdir = Path(tempfile.mkdtemp(prefix="batchform-bench-"))
        self.settings = LocalStackSettings.load(
            data_dir=self.workdir / "stack",
            emulator_port=free_port(),
            registry_port=free_port(),
            start_docker=False,
        )
        self.stack = LocalStack(self.settings)
        self._targets: dict[str, DeployedJob] = {}

    def __enter__(self) -> PrivateStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        started = time.monotonic()
        self.stack.up()
        self.disable_job_containers()
        self.echo(
            f"# private stack: emulator {self.settings.emulator_url}, registry "
            f"{self.settings.registry_address} (up in {time.monotonic() - started:.1f} s)"
        )

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.stack.down()
        shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def emulator_pid(self) -> int:
        return int(json.loads(self.settings.state_file.read_text())["processes"]["emulator"]["pid"])

    def disable_job_containers(self) -> None:
        """Jobs succeed as soon as they are submitted, and no container is started for them."""
        response = requests.post(
            f"{self.settings.emulator_url}/moto-api/config", json={"batch": {"use_docker": False}}, timeout=10
        )
        response.raise_for_status()

    def scratch(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    # ---- accounts -------------------------------------------------------------------------
    def accounts(self, declared: dict[str, str] | None = None) -> Accounts:
        """`local` (the emulator's default account) and one account per name -> id, by role."""
        config = {
            "accounts": {
                name: {
                    "account_id": account_id,
                    "region": REGION,
                    "endpoints": "local-stack",
                    "role_arn": f"arn:aws:iam::{account_id}:role/batchform-deployer",
                }
                for name, account_id in (declared or {}).items()
            }
        }
        return Accounts(config, self.settings)

    @property
    def local(self) -> Account:
        return self.accounts().get("local")

    # ---- a queue and a job definition -------------------------------------------------------
    def job_target(self, account: Account, job: str = "bench") -> DeployedJob:
        """An UNMANAGED compute environment, a queue and a job definition logging to LOG_GROUP."""
        key = f"{account.account_id}/{job}"
        if key in self._targets:
            return self._targets[key]
        suffix = uuid.uuid4().hex[:8]
        queue, definition = unmanaged_queue(
            account.client("iam"),
            account.client("batch"),
            f"bench-{suffix}",
            f"{job}-{suffix}",
            role=f"bench-batch-{suffix}",
            container={
                "image": "batchform-base/busybox:1.36",
                "command": ["true"],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": LOG_GROUP, "awslogs-stream-prefix": LOG_PREFIX},
                },
            },
        )
        # Without the revision, as terraform's outputs give it: the latest ACTIVE revision.
        target = DeployedJob(job, definition.rsplit(":", 1)[0], queue, LOG_GROUP)
        self._targets[key] = target
        return target


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a running process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """User + system CPU seconds of this process's ended children (and theirs), so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def registry_blobs(settings: LocalStackSettings) -> tuple[int, int]:
    """(blob files, bytes) stored by a stack's registry: what pushes have uploaded into it."""
    root = settings.data_dir / "registry" / "docker" / "registry" / "v2" / "blobs"
    files = [p for p in root.rglob("data") if p.is_file()] if root.exists() else []
    return len(files), sum(p.stat().st_size for p in files)


# ---- the AWS CLI ------------------------------------------------------------------------------


@contextlib.contextmanager
def exclusive(name: str) -> Iterator[None]:
    """Hold a machine-wide lock named `name` (benchmark runs at the same time take turns)."""
    with open(Path(tempfile.gettempdir()) / f"batchform-bench-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def aws_cli(echo: Echo = echo_line) -> Path:
    """The `aws` executable of the pinned AWS CLI, installed into bench/.venv-awscli on first use."""
    binary = AWSCLI_VENV / "bin" / "aws"
    stamp = AWSCLI_VENV / "awscli-version"
    with exclusive("awscli"):
        if binary.exists() and stamp.exists() and stamp.read_text().strip() == AWSCLI_VERSION:
            return binary
        echo(f"# installing awscli=={AWSCLI_VERSION} into {AWSCLI_VENV.relative_to(REPO_ROOT)}")
        shutil.rmtree(AWSCLI_VENV, ignore_errors=True)
        for argv in (
            [sys.executable, "-m", "venv", str(AWSCLI_VENV)],
            [str(AWSCLI_VENV / "bin" / "python"), "-m", "pip", "install", "-q", f"awscli=={AWSCLI_VERSION}"],
        ):
            done = subprocess.run(argv, capture_output=True, text=True)
            if done.returncode != 0:
                output = (done.stderr or done.stdout).strip()[-2000:]
                raise RuntimeError(f"{' '.join(argv[:4])} failed: {output}")
        stamp.write_text(AWSCLI_VERSION + "\n")
    return binary


def cli_env(account: Account, workdir: Path) -> dict[str, str]:
    """The environment of an AWS CLI process acting as `account`: its keys, no user config."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") or key in ("AWS_CA_BUNDLE",)
    }
    env.update(account.credentials_env())
    env["AWS_CONFIG_FILE"] = str(workdir / "aws-config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(workdir / "aws-credentials")
    env["AWS_PAGER"] = ""
    return env


# ---- running one benchmark alone ------------------------------------------------------------


def standalone(name: str, bench: Callable[[PrivateStack, bool, Echo], Result], argv: list[str] | None) -> int:
    """`python bench/<name>.py [--quick]`: one benchmark on a private stack of its own."""
    parser = argparse.ArgumentParser(prog=f"bench/{name}.py", description=f"the {name} benchmark")
    parser.add_argument("--quick", action="store_true", help="small sizes: proves it works, in little time")
    args = parser.parse_args(argv)
    with PrivateStack(echo_line) as stack:
        result = bench(stack, args.quick, echo_line)
    report([result], echo_line)
    return 0


@contextlib.contextmanager
def timed() -> Iterator[Callable[[], float]]:
    """`with timed() as elapsed:` ... `elapsed()` is the seconds since the block began (frozen at its end)."""
    started = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - started
    end.append(time.perf_counter())


class MiscountError(RuntimeError):
    """A benchmark counted no calls for work that was done: its figure would be false."""


class CallCounter:
    """Counts the calls of one operation (e.g. "batch.SubmitJob"), or a whole service ("batch"), with
    a botocore event hook, through one boto3 client or through every client of an `Account`.

    For an account the hook goes on its session, which every client made from it later copies,
    and on each client it has already made: no client of the account's can be missed, whichever
    one the code under test uses. `on_call(params)` sees each call's parameters as given.
    """

    def __init__(self, source: Any, operation: str, on_call: Callable[[dict[str, Any]], None] | None = None):
        self.event = f"provide-client-params.{operation}"
        self.operation = operation
        self.count = 0
        self._on_call = on_call
        self._source = source
        for emitter in self._emitters():
            emitter.register(self.event, self._seen)

    def _emitters(self) -> list[Any]:
        if not isinstance(self._source, Account):
            return [self._source.meta.events]
        made = vars(self._source).get("_clients", {})  # the account's cache, when it has made any
        return [self._source.session.events, *(client.meta.events for client in list(made.values()))]

    def _seen(self, params: dict[str, Any], **_kwargs: Any) -> None:
        self.count += 1
        if self._on_call is not None:
            self._on_call(params)

    def stop(self, done: str | None = None) -> int:
        """Stop counting; the count. With `done` (the work that was done), a count of zero raises."""
        for emitter in self._emitters():  # the clients made meanwhile copied the hook too
            emitter.unregister(self.event, self._seen)
        if done is not None and self.count == 0:
            raise MiscountError(f"counted 0 {self.operation} calls for {done}: they went past the counter")
        return self.count


def call_counter(source: Any, operation: str) -> CallCounter:
    """A CallCounter on a client, or on every client of an Account (see CallCounter)."""
    return CallCounter(source, operation)


def unmanaged_queue(
    iam: Any,
    batch: Any,
    queue: str,
    definition: str,
    *,
    environment: str | None = None,
    role: str | None = None,
    container: dict[str, Any] | None = None,
) -> tuple[str, str]:
    """An UNMANAGED compute environment, a queue on it and a job definition of 1 vCPU and 512 MiB
    (`container` adds to or replaces its properties); returns (queue ARN, definition ARN).

    Nothing runs on an UNMANAGED environment by itself, so what is submitted stays to be read."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "batch.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role_arn = iam.create_role(RoleName=role or f"{queue}-batch", AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]["Arn"]
    environment_arn = batch.create_compute_environment(
        computeEnvironmentName=environment or queue, type="UNMANAGED", state="ENABLED", serviceRole=role_arn
    )["computeEnvironmentArn"]
    queue_arn = batch.create_job_queue(
        jobQueueName=queue,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment_arn}],
    )["jobQueueArn"]
    properties = {
        "image": "busybox",
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        **(container or {}),
    }
    definition_arn = batch.register_job_definition(
        jobDefinitionName=definition, type="container", containerProperties=properties
    )["jobDefinitionArn"]
    return queue_arn, definition_arn
