"""Command line: invoke tasks, a thin shell over the package's modules.

`invoke --list` from the repository root, `python -m batchform --list` and the `batchform`
console script all show these tasks. Each one parses its arguments, calls the package and
turns a UserError into a one-line message and a non-zero exit.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from invoke import Collection, Context, Exit, task

from . import errors
from .accounts import Account, Accounts
from .localstack.stack import LocalStack
from .settings import LocalStackSettings


def echo(message: str) -> None:
    print(message, flush=True)


def err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Report a UserError as one line on stderr and exit with its code; change nothing else."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except errors.UserError as exc:
            # Messages quote what services answered, which may hold line breaks: one line anyway.
            message = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
            raise Exit(f"error: {message}", code=exc.exit_code) from None

    return wrapper


def select_accounts(names: list[str] | None) -> list[Account]:
    return Accounts().select(names or None)


ACCOUNT_HELP = "account name or alias (repeatable; 'all' for every account; default: the default account)"


# ---- local stack ----------------------------------------------------------------------------


@task(
    help={
        "emulator_port": "port of the AWS emulator (default 4566)",
        "registry_port": "port of the OCI registry (default 5000)",
        "data_dir": "where the stack keeps its data (default .batchform/local)",
    }
)
@user_errors
def local_up(
    c: Context,
    emulator_port: int | None = None,
    registry_port: int | None = None,
    data_dir: str | None = None,
) -> None:
    """Start the local stack (emulator, registry, docker engine) on loopback; harmless if running."""
    settings = LocalStackSettings.load(
        emulator_port=emulator_port, registry_port=registry_port, data_dir=data_dir
    )
    for component in LocalStack(settings, echo=echo).up():
        echo(component.line())


@task(help={"json": "print the status as JSON"})
@user_errors
def local_status(c: Context, json_: bool = False) -> None:
    """Report each local stack component with its address; exit 1 when one is down."""
    components = LocalStack(LocalStackSettings.load()).status()
    if json_:
        echo(json.dumps([c.__dict__ for c in components], indent=2))
    else:
        for component in components:
            echo(component.line())
    if not all(component.running for component in components):
        raise Exit(code=1)


@task(help={"keep": "keep the emulator's state and the registry's images for the next local.up"})
@user_errors
def local_down(c: Context, keep: bool = False) -> None:
    """Stop the local stack; without --keep its data is deleted."""
    LocalStack(LocalStackSettings.load(), echo=echo).down(keep=keep)


# ---- terraform ------------------------------------------------------------------------------


def _for_accounts(
    names: list[str] | None, action: Callable[[Account, Callable[[str], None]], Any]
) -> list[Any]:
    """Run action per account: one account streams plainly, several run in parallel with a prefix."""
    accounts = select_accounts(names)
    if len(accounts) == 1:
        return [action(accounts[0], echo)]

    def run(account: Account) -> Any:
        return action(account, lambda line: echo(f"[{account.name}] {line}"))

    with ThreadPoolExecutor(max_workers=min(4, len(accounts))) as pool:
        return list(pool.map(run, accounts))


def _check_rendered(names: list[str] | None) -> None:
    from .releases import Releases

    releases = Releases()
    for target in select_accounts(names):
        releases.ensure_rendered(target.name)


@task(iterable=["account"], help={"account": ACCOUNT_HELP, "json": "print a JSON summary per account"})
@user_errors
def tf_plan(c: Context, account: list[str] | None = None, json_: bool = False) -> None:
    """terraform plan for each account (in parallel for several); exit 2 when any has changes."""
    from .terraform import TerraformRunner

    _check_rendered(account)
    results = _for_accounts(account, lambda a, out: TerraformRunner(a, echo=out).plan(capture=json_))
    if json_:
        echo(json.dumps([r.__dict__ for r in results], indent=2))
    else:
        for result in results:
            echo(f"{result.account}: {result.summary or ('changes' if result.changes else 'no changes')}")
    if any(r.changes for r in results):
        raise Exit(code=2)


@task(iterable=["account"], help={"account": ACCOUNT_HELP})
@user_errors
def tf_apply(c: Context, account: list[str] | None = None) -> None:
    """terraform apply for each account, without prompting."""
    from .terraform import TerraformRunner

    _check_rendered(account)
    _for_accounts(account, lambda a, out: TerraformRunner(a, echo=out).apply())


@task(iterable=["account"], help={"account": ACCOUNT_HELP, "yes": "required: confirms the destroy"})
@user_errors
def tf_destroy(c: Context, account: list[str] | None = None, yes: bool = False) -> None:
    """terraform destroy for each account (requires --yes)."""
    from .terraform import TerraformRunner

    if not yes:
        raise Exit("error: tf.destroy deletes every resource of the account; add --yes to confirm", code=2)
    _for_accounts(account, lambda a, out: TerraformRunner(a, echo=out).destroy())


@task(iterable=["account"], help={"account": ACCOUNT_HELP})
@user_errors
def tf_output(c: Context, account: list[str] | None = None) -> None:
    """Print each account's terraform outputs as JSON (refreshing the cached copy)."""
    from .deployment import outputs

    echo(json.dumps({a.name: outputs(a, refresh=True) for a in select_accounts(account)}, indent=2))


@task(help={"json": "print the result as JSON"})
@user_errors
def tf_check(c: Context, json_: bool = False) -> None:
    """checkov over terraform/ and modules/; lists every inline suppression; exit 1 on a finding."""
    from .devtools.checks import check_terraform

    result = check_terraform(err)
    if json_:
        echo(json.dumps(result.as_dict(), indent=2))
    else:
        for line in result.lines():
            echo(line)
    if result.problems:
        raise Exit(code=1)


# ---- images ---------------------------------------------------------------------------------


@task(
    iterable=["account", "image"],
    help={
        "account": ACCOUNT_HELP,
        "image": "image under images/ (repeatable; default: all)",
        "force": "build a new number even when nothing changed",
    },
)
@user_errors
def build(
    c: Context, account: list[str] | None = None, image: list[str] | None = None, force: bool = False
) -> None:
    """Build each image under images/ with the next build number of the target accounts' registries."""
    from .images import build_images, discover

    targets = select_accounts(account)
    discover(image)  # refuse a bad image name before the docker engine or a registry is asked
    for result in build_images(targets, image, force, echo):
        echo(f"{result.image}: build {result.build}{' (reused)' if result.reused else ''}")


@task(
    iterable=["account", "image"], help={"account": ACCOUNT_HELP, "image": "image (repeatable; default: all)"}
)
@user_errors
def push(c: Context, account: list[str] | None = None, image: list[str] | None = None) -> None:
    """Push the current build of each image to every target account's registry."""
    from .images import discover, push_images

    targets = select_accounts(account)
    discover(image)  # refuse a bad image name before the docker engine or a registry is asked
    for result in push_images(targets, image, echo):
        layers = ", ".join(f"{name}: {count}" for name, count in result.uploaded.items())
        echo(f"{result.image}: build {result.build} in every target registry (layers uploaded: {layers})")


@task(
    iterable=["image"],
    help={
        "account": "account name or alias",
        "image": "image (repeatable; default: all)",
        "limit": "builds per image (default 10)",
        "json": "print JSON",
    },
)
@user_errors
def images_list(
    c: Context,
    account: str | None = None,
    image: list[str] | None = None,
    limit: str = "10",
    json_: bool = False,
) -> None:
    """Show each image's builds in an account's registry, newest first, with revision and date."""
    from dataclasses import asdict

    from .images import discover, list_builds

    target = _one_account(account)
    text = str(limit).strip()
    if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
        raise errors.UserError(f"--limit {limit!r}: must be a positive whole number")
    found = list_builds(target, [spec.name for spec in discover(image)], limit=int(text))
    if json_:
        echo(json.dumps([asdict(b) for b in found], indent=2))
        return
    if not found:
        echo(f"no builds in account {target.name}'s registry")
    for b in found:
        echo(f"{b.image:<20} {b.build:>6}  {b.created:<20}  {b.revision[:12]}")


# ---- releases -------------------------------------------------------------------------------


@task(help={"check": "change nothing; exit 1 naming each rendered file that is stale or edited by hand"})
@user_errors
def render(c: Context, check: bool = False) -> None:
    """Render terraform/accounts/<account>.tfvars from each account's YAML source."""
    from .releases import Releases

    releases = Releases()
    if check:
        problems = releases.stale()
        for problem in problems:
            err(problem)
        if problems:
            raise Exit(code=1)
        echo("every rendered file matches its source")
        return
    written = releases.render()
    for path in written:
        echo(f"rendered {path.relative_to(releases.paths.root)}")
    if not written:
        echo("every rendered file was up to date")


def _print_bump(result: Any) -> None:
    if not result.changed:
        echo(f"{result.image} is already at build {result.new} in account {result.account}")
        return
    echo(f"{result.image}: {result.old} -> {result.new} in account {result.account}")
    echo(result.diff.rstrip("\n"))


@task(
    positional=["image", "build"],
    iterable=["account"],
    help={
        "image": "image under images/",
        "build": "build number (default: the newest in each account's registry)",
        "account": ACCOUNT_HELP,
        "allow_downgrade": "allow setting an older build than the one declared",
        "json": "print the result as JSON",
    },
)
@user_errors
def bump(
    c: Context,
    image: str,
    build: str | None = None,
    account: list[str] | None = None,
    allow_downgrade: bool = False,
    json_: bool = False,
) -> None:
    """Set the build an account runs of an image, re-render, and print the diff to review."""
    from dataclasses import asdict

    from .releases import Releases

    results = Releases(echo=echo).bump(image, build or None, account or None, allow_downgrade=allow_downgrade)
    if json_:
        echo(json.dumps([asdict(r) for r in results], indent=2))
        return
    for result in results:
        _print_bump(result)


@task(
    positional=["image"],
    help={
        "image": "image under images/",
        "from": "account whose registry has the build",
        "to": "account to copy it to and bump",
        "build": "build number (default: the build the --from account declares)",
        "allow_downgrade": "allow setting an older build than the one declared",
    },
)
@user_errors
def promote(
    c: Context, image: str, from_: str, to: str, build: str | None = None, allow_downgrade: bool = False
) -> None:
    """Copy a build from one account's registry to another's (same digest, no rebuild), then bump it there."""
    from .releases import Releases

    number, digest, result = Releases(echo=echo).promote(
        image, from_, to, build, allow_downgrade=allow_downgrade
    )
    echo(f"{image}:{number} ({digest}) is in account {result.account}'s registry")
    _print_bump(result)


@task(iterable=["account"], help={"account": ACCOUNT_HELP, "json": "print JSON"})
@user_errors
def releases(c: Context, account: list[str] | None = None, json_: bool = False) -> None:
    """Image by account: the build declared, the build deployed (from AWS) and the newest pushed.

    Exit 1 when a build an account declares or runs is missing from its registry (its jobs could
    not start), 2 when anything else differs.
    """
    from .releases import Releases

    cells = Releases().matrix(account or None)
    if json_:
        echo(json.dumps([cell.as_dict() for cell in cells], indent=2))
    elif not cells:
        echo("no account declares any image")
    else:
        _print_matrix(cells)
    if any(cell.missing for cell in cells):
        raise Exit(code=1)
    if not all(cell.in_sync for cell in cells):
        raise Exit(code=2)


def _print_matrix(cells: list[Any]) -> None:
    def shown(build: int | None, cell: Any) -> str:
        if build is None:
            return "-"
        return f"{build} missing" if build in cell.missing else str(build)

    rows = [("image", "account", "declared", "deployed", "newest", "notes")]
    for cell in cells:
        mark = "! " if cell.missing else "  " if cell.in_sync else "* "
        deployed = ",".join(shown(b, cell) for b in cell.deployed) or "-"
        newest = "-" if cell.newest is None else str(cell.newest)
        notes = mark + ("; ".join(cell.notes) or "in sync")
        rows.append((cell.image, cell.account, shown(cell.declared, cell), deployed, newest, notes))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        names = f"{row[0]:<{max(18, widths[0])}} {row[1]:<{max(12, widths[1])}}"
        builds = " ".join(f"{value:>{width}}" for value, width in zip(row[2:5], widths[2:], strict=True))
        echo(f"{names} {builds}  {row[5]}")


# ---- jobs -----------------------------------------------------------------------------------

DETACH_WINDOW = 3.0  # a second Ctrl-C within this many seconds stops the job instead of detaching


def _one_account(account: str | None) -> Account:
    return select_accounts([account] if account is not None else None)[0]


def _seconds(flag: str, value: str | float | None) -> float | None:
    """A number of seconds given on the command line (invoke hands it over as text), or None."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise errors.UserError(f"{flag} {str(value)!r}: must be a positive number of seconds")
    return seconds


def _attend(target: Account, job_ids: list[str], follow_logs: bool, runnable_timeout: float | None) -> dict:
    """Follow jobs to their end. Ctrl-C once detaches; twice within a few seconds stops the jobs."""
    import signal
    import time

    from . import jobs
    from .follow import JobWatcher, LogFollower

    watcher = JobWatcher(target, echo=echo)
    followers = [LogFollower(target, job_id, echo=lambda line: echo(f"  | {line}")) for job_id in job_ids]
    pressed: list[float] = []
    stopped: list[bool] = []

    def interrupt(_signum: int, _frame: Any) -> None:
        now = time.monotonic()
        if pressed and now - pressed[-1] <= DETACH_WINDOW:
            if not stopped:
                stopped.append(True)
                for job_id in job_ids:
                    echo(jobs.stop_job(target, job_id, "stopped from the command line (Ctrl-C twice)"))
            return
        pressed.append(now)
        echo(f"detaching (Ctrl-C again within {DETACH_WINDOW:.0f} s stops the job); to follow again:")
        for job_id in job_ids:
            echo(f"  invoke jobs.follow {job_id} --account {target.name}")
        watcher.stop()
        for follower in followers:
            follower.stop()

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        if follow_logs and len(job_ids) == 1:
            # One DescribeJobs per poll serves both: status lines and new log lines interleave.
            follower, job_id = followers[0], job_ids[0]
            outcomes = watcher.wait(
                job_ids,
                runnable_timeout=runnable_timeout,
                on_poll=lambda described: follower.read_available(described.get(job_id)),
            )
            if not pressed:
                follower.follow()  # the job is over: drain what is left
        else:
            outcomes = watcher.wait(job_ids, runnable_timeout=runnable_timeout)
        # Detached by a first Ctrl-C: the second may still come, and must find us here to stop the job.
        while pressed and not stopped and time.monotonic() - pressed[-1] <= DETACH_WINDOW:
            time.sleep(0.1)
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise Exit(code=130)
    return outcomes


def _report(outcomes: dict, as_json: bool, submitted: list | None = None) -> None:
    from dataclasses import asdict

    if as_json:
        echo(
            json.dumps(
                {
                    "submitted": [asdict(r) for r in submitted or []],
                    "outcomes": {job_id: asdict(o) for job_id, o in outcomes.items()},
                },
                indent=2,
            )
        )
    failed = [o for o in outcomes.values() if not o.succeeded]
    for outcome in failed:
        code = f", exit code {outcome.exit_code}" if outcome.exit_code is not None else ""
        reason = outcome.reason or "no reason given"
        err(f"job {outcome.name} ({outcome.job_id}) {outcome.status}: {reason}{code}")
        for child, reason, child_code in outcome.failed_children:
            err(
                f"  child {child}: {reason or 'no reason given'}"
                + (f", exit code {child_code}" if child_code is not None else "")
            )
    if failed:
        raise Exit(code=1)


@task(
    iterable=["env", "param", "tag", "depends_on"],
    help={
        "account": "account name or alias",
        "env": "NAME=VALUE added to the container's environment (repeatable)",
        "param": "NAME=VALUE job definition parameter (repeatable)",
        "command": "command to run instead of the definition's (one string, split like a shell)",
        "array_size": "run an array job of this many children (2-10000)",
        "depends_on": "JOB_ID, JOB_ID:N_TO_N or SEQUENTIAL (repeatable, at most 20)",
        "each": "one child per line (or JSON array item) of FILE; a child's item is BATCHFORM_ITEMS[index]",
        "name": "job name (default <job>-<UTC timestamp>)",
        "tag": "KEY=VALUE tag of the job (repeatable)",
        "timeout": "attempt timeout in seconds (at least 60)",
        "retries": "attempts (1-10)",
        "share": "share identifier, for a queue with a fair-share policy (default: the job's declared share)",
        "priority": "scheduling priority within the share (0-9999; fair-share queues only)",
        "token": "idempotency token (default: derived from the job, account and overrides)",
        "wait": "wait for the end, printing each status change; the exit code mirrors the outcome",
        "follow": "like --wait, and print the job's log lines as they arrive",
        "runnable_timeout": "with --wait/--follow: terminate a job stuck in RUNNABLE this many seconds",
        "json": "print what was submitted (and, with --wait, the outcome) as JSON",
    },
)
@user_errors
def submit(
    c: Context,
    job: str,
    account: str | None = None,
    env: list[str] | None = None,
    param: list[str] | None = None,
    command: str | None = None,
    array_size: int | None = None,
    depends_on: list[str] | None = None,
    each: str | None = None,
    name: str | None = None,
    tag: list[str] | None = None,
    timeout: int | None = None,
    retries: int | None = None,
    share: str | None = None,
    priority: int | None = None,
    token: str | None = None,
    wait: bool = False,
    follow: bool = False,
    runnable_timeout: float | None = None,
    json_: bool = False,
) -> None:
    """Submit a job declared in the account's variables; --wait or --follow it to the end."""
    import shlex

    from . import jobs

    target = _one_account(account)
    limit = _seconds("--runnable-timeout", runnable_timeout)
    request = jobs.SubmitRequest(
        job=job,
        name=name,
        env=jobs.parse_env(env or []),
        params=jobs.parse_pairs(param or [], "--param"),
        command=shlex.split(command) if command is not None else None,
        array_size=array_size,
        depends_on=jobs.parse_depends_on(depends_on or []),
        tags=jobs.parse_pairs(tag or [], "--tag"),
        timeout=timeout,
        retries=retries,
        items=jobs.load_items(each) if each else None,
        share=share,
        priority=priority,
    )
    jobs.validate(request)
    results = jobs.Submitter(target).submit(jobs.deployed_job(target, job), request, token=token)
    if not json_ or not (wait or follow):
        for r in results:
            verb = "reattached to" if r.reattached else "submitted"
            size = f" (array of {r.array_size})" if r.array_size else ""
            line = f"{verb} {job} as {r.job_id}{size} in account {target.name}"
            echo(json.dumps(asdict_(r)) if json_ else line)
    if wait or follow:
        outcomes = _attend(target, [r.job_id for r in results], follow, limit)
        _report(outcomes, json_, results)


def asdict_(value: Any) -> dict:
    from dataclasses import asdict

    return asdict(value)


@task(
    help={
        "account": "account name or alias",
        "logs": "print the log lines as they arrive (default)",
        "runnable_timeout": "terminate the job if it stays in RUNNABLE this many seconds",
        "json": "print the outcome as JSON",
    }
)
@user_errors
def jobs_follow(
    c: Context,
    job_id: str,
    account: str | None = None,
    logs: bool = True,
    runnable_timeout: float | None = None,
    json_: bool = False,
) -> None:
    """Follow a submitted job to its end (status and log lines); the exit code mirrors the outcome."""
    from . import jobs

    jobs.check_job_id(job_id)
    target = _one_account(account)
    limit = _seconds("--runnable-timeout", runnable_timeout)
    _report(_attend(target, [job_id], logs, limit), json_)


@task(help={"account": "account name or alias", "follow": "keep printing new lines until the job ends"})
@user_errors
def jobs_logs(c: Context, job_id: str, account: str | None = None, follow: bool = False) -> None:
    """Print a job's log lines (every attempt); --follow keeps printing until the job ends."""
    import tempfile
    from pathlib import Path

    from . import jobs
    from .follow import LogFollower

    jobs.check_job_id(job_id)  # it names the position file of --follow: no path separators get there
    target = _one_account(account)
    if follow:
        LogFollower(target, job_id, echo=echo).follow()
        return
    # A one-off read keeps no position: a fresh, throwaway state directory.
    with tempfile.TemporaryDirectory(prefix="batchform-logs-") as scratch:
        LogFollower(target, job_id, echo=echo, state_dir=Path(scratch)).read_available()  # prints as it reads


@task(
    iterable=["status"],
    help={
        "account": "account name or alias",
        "status": "only jobs in this status (repeatable; default: every status)",
        "json": "print JSON",
    },
)
@user_errors
def jobs_list(
    c: Context, account: str | None = None, status: list[str] | None = None, json_: bool = False
) -> None:
    """List the jobs of the account's queue, newest first."""
    from . import jobs

    target = _one_account(account)
    found = jobs.list_jobs(target, status or None)
    if json_:
        echo(json.dumps(found, indent=2))
        return
    for item in found:
        echo(f"{item['jobId']}  {item['status']:<10} {item['jobName']}")
    if not found:
        echo(f"no jobs in account {target.name}")


@task(help={"account": "account name or alias", "reason": "reason recorded on the job"})
@user_errors
def jobs_cancel(
    c: Context, job_id: str, account: str | None = None, reason: str = "cancelled from the command line"
) -> None:
    """Stop a job in whatever state it is (started or not), then say what it was and is now."""
    from . import jobs

    jobs.check_job_id(job_id)
    echo(jobs.stop_job(_one_account(account), job_id, reason))


# ---- the whole loop -------------------------------------------------------------------------


@task
@user_errors
def demo(c: Context) -> None:
    """Run the main workflow end to end on the local stack and print a real job's output."""
    from .localstack.demo import run

    run(echo)


@task(
    iterable=["only"],
    help={
        "quick": "small sizes: proves every benchmark works (what CI runs)",
        "only": "run only this benchmark (repeatable): submit, follow, logs, images, plan",
    },
)
def bench(c: Context, quick: bool = False, only: list[str] | None = None) -> None:
    """Measure the project against the reference ways on a private local stack (see bench/RESULTS.md)."""
    import subprocess

    from .settings import paths

    root = paths().root
    argv = [sys.executable, str(root / "bench" / "run.py"), *(["--quick"] if quick else [])]
    for name in only or []:
        argv += ["--only", name]
    code = subprocess.call(argv, cwd=root)  # noqa: S603 - fixed argument list
    if code:
        raise Exit(code=code)


@task(help={"k": "only tests matching this pytest expression", "quick": "skip the slow end-to-end tests"})
def test(c: Context, k: str | None = None, quick: bool = False) -> None:
    """Run the test suite (starts the local stack first)."""
    from .devtools.testing import run_suite

    code = run_suite(k=k, quick=quick)
    if code:
        raise Exit(code=code)


# Positional arguments a task may omit: `invoke bump IMAGE [BUILD]`. invoke itself requires
# every positional; this lets the named ones end the command empty (the task sees "").
OPTIONAL_POSITIONALS = {"bump": ("build",)}


def _allow_optional_positionals() -> None:
    from invoke.parser.parser import ParseMachine

    if getattr(ParseMachine.complete_context, "batchform", False):
        return
    original = ParseMachine.complete_context

    def complete_context(self: Any) -> None:
        if self.context is not None:
            for argument in self.context.positional_args:
                if argument.value is None and argument.name in OPTIONAL_POSITIONALS.get(
                    self.context.name, ()
                ):
                    argument.value = ""
        original(self)

    complete_context.batchform = True  # type: ignore[attr-defined]
    ParseMachine.complete_context = complete_context  # type: ignore[method-assign]


def _namespace() -> Collection:
    ns = Collection()
    for t in (build, push, render, bump, promote, releases, submit, demo, bench, test):
        ns.add_task(t)
    local = Collection("local")
    local.add_task(local_up, "up")
    local.add_task(local_status, "status")
    local.add_task(local_down, "down")
    tf = Collection("tf")
    tf.add_task(tf_plan, "plan")
    tf.add_task(tf_apply, "apply")
    tf.add_task(tf_destroy, "destroy")
    tf.add_task(tf_output, "output")
    tf.add_task(tf_check, "check")
    images_ns = Collection("images")
    images_ns.add_task(images_list, "list")
    jobs_ns = Collection("jobs")
    jobs_ns.add_task(jobs_logs, "logs")
    jobs_ns.add_task(jobs_follow, "follow")
    jobs_ns.add_task(jobs_list, "list")
    jobs_ns.add_task(jobs_cancel, "cancel")
    for sub in (local, tf, images_ns, jobs_ns):
        ns.add_collection(sub)
    ns.configure({"run": {"echo": False}})
    _allow_optional_positionals()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    return ns


namespace = _namespace()
