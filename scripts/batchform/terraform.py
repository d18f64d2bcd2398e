"""Drive terraform for one account at a time, never mixing state between accounts.

Each account gets its own TF_DATA_DIR (`.batchform/terraform/<account>/`), its own backend
file and its own runtime variables (account identity and endpoints, from batchform.yaml),
so switching accounts is a matter of naming one: nothing is remembered by the user.
Credentials reach terraform in its environment, never on its command line: the base ones
(profile, environment or emulator), with the role to assume as a variable, so that terraform
assumes it and renews the session itself.

Argument lists are built by python-terraform; the process is run here, because its runner
inherits os.environ and cannot give two accounts two environments at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tenacity
from botocore.exceptions import ClientError
from python_terraform import IsFlagged, Terraform

from .accounts import Account
from .errors import UserError
from .hcl import hcl
from .settings import Paths, file_lock, paths, project_config, shown_path, write_atomic
from .tfreport import Progress, TerraformReport

Echo = Callable[[str], None]

# Terraform's own exit code for `plan -detailed-exitcode` when there are changes.
PLAN_HAS_CHANGES = 2

# Replacing a compute environment (create before destroy) can fail on AWS even though the queue
# was moved to the new one: Batch is eventually consistent, and the old environment's delete may
# still see the queue (hashicorp/terraform-provider-aws#13221, #46925). The queue update is done
# by then, so applying again after a wait completes the replacement.
QUEUE_STILL_LINKED = "Cannot delete, found existing JobQueue relationship"
_ENVIRONMENT_DELETED = re.compile(r"deleting Batch Compute Environment \(([^)]+)\)")
LOGS_KEPT = 20  # terraform logs kept per account, the newest
QUEUE_LINK_APPLIES = 5  # runs of apply (or destroy) in all, the first included
QUEUE_LINK_FIRST_WAIT = 15.0  # seconds, doubled before each further apply
QUEUE_LINK_MAX_WAIT = 120.0


def cli_config_file(p: Paths | None = None) -> Path | None:
    """The terraform CLI configuration to use, written when a provider mirror is configured.

    TF_CLI_CONFIG_FILE wins when it names an existing file. Otherwise, when the configured
    plugin mirror (terraform.plugin_mirror, or BATCHFORM_TF_PLUGIN_MIRROR) exists, providers
    come from it and nothing is downloaded; elsewhere terraform uses its registry as usual.
    """
    p = p or paths()
    env_file = os.environ.get("TF_CLI_CONFIG_FILE")
    if env_file and Path(env_file).is_file():
        return Path(env_file)
    section = project_config().get("terraform") or {}
    mirror = os.environ.get("BATCHFORM_TF_PLUGIN_MIRROR") or section.get("plugin_mirror")
    if not mirror or not Path(mirror).is_dir():
        return None
    # No plugin_cache_dir: terraform's cache is not safe for concurrent inits (two of them
    # filling it at once fail with "could not find executable file"), and from an unpacked
    # mirror terraform links each provider in place, so the mirror already is the cache.
    rc = p.home / "terraform" / "terraformrc"
    rc.parent.mkdir(parents=True, exist_ok=True)
    text = (
        f"provider_installation {{\n  filesystem_mirror {{\n    path = {json.dumps(str(mirror))}\n  }}\n}}\n"
    )
    _write_if_changed(rc, text)
    return rc


def ensure_state_bucket(account: Account, bucket: str, echo: Echo) -> None:
    """Create the account's state bucket if it does not exist: versioned, encrypted, private."""
    s3 = account.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code not in ("404", "NoSuchBucket", "NotFound"):
            raise UserError(f"account {account.name}: cannot reach state bucket {bucket}: {code}") from None
    echo(f"creating terraform state bucket {bucket} in account {account.name}")
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if account.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": account.region}
    s3.create_bucket(**kwargs)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )


def outputs_cache(account: Account, p: Paths | None = None) -> Path:
    """Where an account's outputs are kept between applies (see batchform.deployment)."""
    return (p or paths()).terraform_data_dir(account.name) / "outputs.json"


def save_outputs(account: Account, outputs: dict[str, Any], p: Paths | None = None) -> None:
    write_atomic(outputs_cache(account, p), json.dumps(outputs, indent=2, sort_keys=True) + "\n")


@dataclass
class PlanResult:
    account: str
    changes: bool
    summary: str
    plan: str = ""  # what terraform printed of the plan itself (refreshing left out), captured runs only


@dataclass(frozen=True)
class ResourceChange:
    """One resource a plan would touch: its address and terraform's actions (update, create+delete...)."""

    address: str
    actions: tuple[str, ...]

    @property
    def replaces(self) -> bool:
        return "create" in self.actions and "delete" in self.actions


class TerraformRunner:
    """terraform init/plan/apply/destroy/output for one account."""

    def __init__(
        self,
        account: Account,
        echo: Echo | None = None,
        p: Paths | None = None,
        sleep: Callable[[float], None] = time.sleep,
        verbose: bool = False,
        progress: Progress | None = None,
    ):
        """`echo` gets a summary of each plan, apply or destroy (and every line terraform prints
        with `verbose`); the whole output is in `log_file` either way. `progress` gets a line
        each time what an apply works on changes: for a terminal to show in place."""
        self.account = account
        self.paths = p or paths()
        self.echo = echo or print
        self.sleep = sleep
        self.verbose, self.progress = verbose, progress
        self.log_file: Path | None = None
        self.report = TerraformReport()
        self.data_dir = self.paths.terraform_data_dir(account.name)
        self.tf = Terraform(working_dir=str(self.paths.terraform_dir))

    # ---- inputs -------------------------------------------------------------------------
    @property
    def account_var_file(self) -> Path:
        """Variables that come from batchform.yaml: who the account is and where it answers."""
        return self.data_dir / "account.tfvars.json"

    @property
    def workload_var_file(self) -> Path:
        """Variables reviewed in git: images, builds, jobs and sizing of this account."""
        return self.paths.terraform_dir / "accounts" / f"{self.account.name}.tfvars"

    @property
    def backend_file(self) -> Path:
        return self.data_dir / "backend.tfbackend"

    def var_files(self, extra: list[Path] | None = None) -> list[str]:
        files = [self.account_var_file]
        if self.workload_var_file.exists():
            files.append(self.workload_var_file)
        return [str(f) for f in [*files, *(extra or [])]]

    def _write_inputs(self) -> None:
        a = self.account
        self.data_dir.mkdir(parents=True, exist_ok=True)
        account_vars = {
            "account_name": a.name,
            "account_id": a.account_id,
            "region": a.region,
            "aws_endpoint_url": a.endpoints.aws,
            "assume_role_arn": a.role_arn,
            "image_registry": a.registry if a.endpoints.aws else None,
            "network": {k: v for k, v in a.network.items()},
        }
        _write_if_changed(self.account_var_file, json.dumps(account_vars, indent=2, sort_keys=True) + "\n")
        backend = a.state_backend
        lines = [f"{key} = {hcl(value)}" for key, value in sorted(backend.items())]
        if a.endpoints.aws:
            url = a.endpoints.aws
            lines.append("endpoints = {")
            lines += [f"  {svc} = {hcl(url)}" for svc in ("dynamodb", "iam", "s3", "sts")]
            lines.append("}")
            lines.append("use_path_style = true")
        if a.role_arn:
            # The backend assumes the role itself, as the provider does: see env().
            lines += [
                "assume_role = {",
                f"  role_arn = {hcl(a.role_arn)}",
                '  session_name = "batchform"',
                "}",
            ]
        _write_if_changed(self.backend_file, "\n".join(lines) + "\n")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for key in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.pop(key, None)
        # The base credentials only: terraform assumes the account's role itself (provider and
        # backend `assume_role`), so it renews the role session on an apply that outlives it.
        env.update(self.account.credentials_env(assume_role=False))
        env["TF_DATA_DIR"] = str(self.data_dir)
        env["TF_IN_AUTOMATION"] = "1"
        env["TF_INPUT"] = "0"
        rc = cli_config_file(self.paths)
        if rc:
            env["TF_CLI_CONFIG_FILE"] = str(rc)
        return env

    # ---- running ------------------------------------------------------------------------
    def run(self, cmd: str, *args: str, capture: bool = False, **options: Any) -> tuple[int, str]:
        """Run one terraform command. Unless capturing, its lines go to a log file of their own
        (`log_file`) and are read by `report`; with `verbose` they are also echoed as they come."""
        argv = self.tf.generate_cmd_string(cmd, *args, **options)
        if capture:
            self.log_file = None  # a failure names the log of the run that failed, or none
            return self._run(argv, lambda _line: None)
        self.report = TerraformReport(progress=self.progress)
        self.log_file = self._new_log(cmd)
        with self.log_file.open("w") as log:

            def take(line: str) -> None:
                log.write(line + "\n")
                log.flush()
                self.report.feed(line)
                if self.verbose:
                    self.echo(line)

            return self._run(argv, take)

    def _new_log(self, cmd: str) -> Path:
        """A log file per run, under the account's data directory; the oldest go beyond LOGS_KEPT."""
        logs = self.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for old in sorted(logs.glob("*.log"))[: -LOGS_KEPT + 1]:
            old.unlink(missing_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"{time.time() % 1:.3f}"[1:]
        return logs / f"{stamp}-{cmd}.log"

    def _told(self, what: str) -> None:
        """The summary of a run that has ended, and where its whole output is."""
        if self.verbose:
            return
        for line in self.report.lines(what):
            self.echo(line)
        if self.log_file:
            self.echo(f"full terraform output: {shown_path(self.log_file)}")

    def _run(self, argv: list[str], take: Callable[[str], None]) -> tuple[int, str]:
        proc = subprocess.Popen(  # noqa: S603 - argument list, no shell
            argv,
            cwd=self.paths.terraform_dir,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            lines.append(line)
            take(line)
        return proc.wait(), "\n".join(lines)

    def _check(self, what: str, code: int, output: str) -> None:
        if code != 0:
            errors = [ln.strip("│ ").strip() for ln in output.splitlines() if "Error:" in ln]
            reason = errors[0] if errors else f"exit code {code}"
            where = (
                f" (full output: {shown_path(self.log_file)})" if self.log_file and not self.verbose else ""
            )
            raise UserError(f"terraform {what} failed for account {self.account.name}: {reason}{where}")

    def init(self) -> None:
        """Initialise this account's data directory; cheap when nothing changed."""
        self._write_inputs()
        # The bucket lives in the account, not in this directory: it can vanish (a reset local
        # stack, a cleaned account) while the stamp below still says "initialised".
        ensure_state_bucket(self.account, self.account.state_backend["bucket"], self.echo)
        stamp = self.data_dir / "init.stamp"
        wanted = self._init_fingerprint()
        if stamp.exists() and stamp.read_text() == wanted:
            return
        # Terraform's plugin cache is not safe for concurrent installs, and a user's own CLI
        # configuration may set one: accounts planned in parallel on a machine whose cache is
        # still empty would race for it. One init at a time.
        with _init_lock(self.paths):
            code, out = self.run(
                "init",
                capture=True,
                reconfigure=IsFlagged,
                input=False,
                no_color=IsFlagged,
                backend_config=str(self.backend_file),
            )
        self._check("init", code, out)
        write_atomic(stamp, wanted)

    def _init_fingerprint(self) -> str:
        """What init depends on: backend settings, provider locks and module sources."""
        tf_dir = self.paths.terraform_dir
        lock = tf_dir / ".terraform.lock.hcl"
        sources = sorted(
            line.strip()
            for f in tf_dir.glob("*.tf")
            for line in f.read_text().splitlines()
            if line.strip().startswith("source")
        )
        return "\n".join([self.backend_file.read_text(), lock.read_text() if lock.exists() else "", *sources])

    def plan(
        self, extra_var_files: list[Path] | None = None, out_file: Path | None = None, capture: bool = False
    ) -> PlanResult:
        self.init()
        code, out = self.run(
            "plan",
            capture=capture,
            input=False,
            no_color=IsFlagged,
            detailed_exitcode=IsFlagged,
            lock_timeout="60s",
            var_file=self.var_files(extra_var_files),
            out=str(out_file) if out_file else None,
        )
        if code not in (0, PLAN_HAS_CHANGES):
            self._check("plan", code, out)
        if not capture:
            self._told("plan")
        summary = _plan_summary(out)
        return PlanResult(
            self.account.name, code == PLAN_HAS_CHANGES, summary, _plan_text(out) if capture else ""
        )

    def planned_changes(self, extra_var_files: list[Path] | None = None) -> list[ResourceChange]:
        """Every resource the plan would create, update, replace or delete (no-ops left out)."""
        plan_file = self.data_dir / "review.tfplan"
        try:
            self.plan(extra_var_files, out_file=plan_file, capture=True)
            code, out = self.run("show", str(plan_file), capture=True, json=IsFlagged, no_color=IsFlagged)
            self._check("show", code, out)
        finally:
            plan_file.unlink(missing_ok=True)
        changes = json.loads(out).get("resource_changes") or []
        return [
            ResourceChange(change["address"], tuple(change["change"]["actions"]))
            for change in changes
            if change["change"]["actions"] not in (["no-op"], ["read"])
        ]

    def apply(self, extra_var_files: list[Path] | None = None) -> None:
        self.init()
        self._until_consistent("apply", extra_var_files)
        save_outputs(self.account, self.outputs(), self.paths)

    def destroy(self, extra_var_files: list[Path] | None = None) -> None:
        self.init()
        self._until_consistent("destroy", extra_var_files)
        outputs_cache(self.account, self.paths).unlink(missing_ok=True)

    def _until_consistent(self, command: str, extra_var_files: list[Path] | None) -> None:
        """Run apply or destroy; again, after a growing wait, while AWS still sees a queue on a
        compute environment being deleted (a bounded number of times)."""
        waited: list[float] = []
        linked = ""

        def pause(seconds: float) -> None:
            self.echo(
                f"compute environment {linked} still linked to its queue (AWS is eventually consistent): "
                f"waiting {seconds:.0f} s, then running terraform {command} again"
            )
            self.sleep(seconds)
            waited.append(seconds)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_QueueStillLinked),
            wait=tenacity.wait_exponential(multiplier=QUEUE_LINK_FIRST_WAIT, max=QUEUE_LINK_MAX_WAIT),
            stop=tenacity.stop_after_attempt(QUEUE_LINK_APPLIES),
            sleep=pause,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    try:
                        self._run_once(command, extra_var_files)
                    except _QueueStillLinked as exc:
                        linked = exc.environment
                        raise
        except _QueueStillLinked:
            raise UserError(
                f"terraform {command} failed for account {self.account.name}: compute environment {linked} "
                f"still linked to its queue after {QUEUE_LINK_APPLIES} runs over {sum(waited):.0f} s "
                f"(AWS is eventually consistent); run tf.{command} again later"
            ) from None
        if waited:
            done = {"apply": "applied", "destroy": "destroyed"}[command]
            again = f"{done} again" if len(waited) == 1 else f"{done} {len(waited)} more times"
            self.echo(
                f"compute environment {linked} still linked to its queue (AWS is eventually consistent): "
                f"waited {sum(waited):.0f} s, {again}"
            )

    def _run_once(self, command: str, extra_var_files: list[Path] | None) -> None:
        # Not python-terraform's destroy(): it passes -force, which terraform >= 0.15 rejects.
        code, out = self.run(
            command,
            input=False,
            no_color=IsFlagged,
            auto_approve=IsFlagged,
            lock_timeout="60s",
            var_file=self.var_files(extra_var_files),
        )
        if code != 0 and QUEUE_STILL_LINKED in " ".join(out.replace("│", " ").split()):
            found = _ENVIRONMENT_DELETED.search(out)
            raise _QueueStillLinked(found.group(1) if found else "(unnamed)")
        self._check(command, code, out)
        self._told(command)

    def outputs(self) -> dict[str, Any]:
        """The root configuration's outputs for this account, as plain values."""
        self.init()
        code, out = self.run("output", capture=True, json=IsFlagged, no_color=IsFlagged)
        self._check("output", code, out)
        return {name: item["value"] for name, item in json.loads(out or "{}").items()}


class _QueueStillLinked(Exception):
    """An apply failed only because AWS still saw a queue on the compute environment it deleted."""

    def __init__(self, environment: str):
        super().__init__(environment)
        self.environment = environment


_SUMMARY = re.compile(r"^(Plan: .*|No changes\..*|Apply complete!.*|Destroy complete!.*)$")


def _plan_summary(output: str) -> str:
    for line in reversed(output.splitlines()):
        if _SUMMARY.match(line.strip()):
            return line.strip()
    return ""


# Where the plan itself begins in terraform's output: after the refresh's lines.
_PLAN_START = re.compile(
    r"^(Terraform used the selected providers|Terraform will perform|No changes\.|"
    r"Changes to Outputs:|Note: Objects have changed outside of Terraform)"
)


def _plan_text(output: str) -> str:
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if _PLAN_START.match(line.strip())), 0)
    return "\n".join(lines[start:]).strip("\n")


@contextlib.contextmanager
def _init_lock(p: Paths) -> Iterator[None]:
    """A machine-wide lock around `terraform init` (a file lock: other processes wait too)."""
    with file_lock(p.home / "terraform" / "init.lock"):
        yield


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        write_atomic(path, text)
