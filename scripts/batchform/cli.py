"""Command line: invoke tasks, a thin shell over the package's modules.

`invoke --list` from the repository root, `python -m batchform --list` and the `batchform`
console script all show these tasks. Each one parses its arguments, calls the package and
turns a UserError into a one-line message and a non-zero exit.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from invoke import Collection, Context, Exit, task

from . import errors
from .accounts import Account, Accounts
from .localstack import LocalStack, LocalStackSettings


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
            raise Exit(f"error: {exc}", code=exc.exit_code) from None

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
    from .checks import check_terraform

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
    from .images import build_images

    for result in build_images(select_accounts(account), image, force, echo):
        echo(f"{result.image}: build {result.build}{' (reused)' if result.reused else ''}")


@task(
    iterable=["account", "image"], help={"account": ACCOUNT_HELP, "image": "image (repeatable; default: all)"}
)
@user_errors
def push(c: Context, account: list[str] | None = None, image: list[str] | None = None) -> None:
    """Push the current build of each image to every target account's registry."""
    from .images import push_images

    for result in push_images(select_accounts(account), image, echo):
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
    limit: int = 10,
    json_: bool = False,
) -> None:
    """Show each image's builds in an account's registry, newest first, with revision and date."""
    from dataclasses import asdict

    from .images import discover, list_builds

    target = select_accounts([account] if account else None)[0]
    found = list_builds(target, [spec.name for spec in discover(image)], limit=limit)
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
    """Image by account: the build declared, the build deployed (from AWS) and the newest pushed."""
    from .releases import Releases

    cells = Releases().matrix(account or None)
    if json_:
        echo(json.dumps([cell.as_dict() for cell in cells], indent=2))
    elif not cells:
        echo("no account declares any image")
    else:
        _print_matrix(cells)
    if not all(cell.in_sync for cell in cells):
        raise Exit(code=2)


def _print_matrix(cells: list[Any]) -> None:
    echo(f"{'image':<18} {'account':<12} {'declared':>8} {'deployed':>10} {'newest':>7}  notes")
    for cell in cells:
        deployed = ",".join(str(b) for b in cell.deployed) or "-"
        mark = "  " if cell.in_sync else "* "
        declared = "-" if cell.declared is None else str(cell.declared)
        newest = "-" if cell.newest is None else str(cell.newest)
        echo(
            f"{cell.image:<18} {cell.account:<12} {declared:>8} {deployed:>10} {newest:>7}  "
            f"{mark}{'; '.join(cell.notes) or 'in sync'}"
        )


# ---- jobs -----------------------------------------------------------------------------------


@task(
    iterable=["env"],
    help={
        "account": "account name or alias",
        "env": "NAME=VALUE added to the container (repeatable)",
        "name": "job name (default <job>-<UTC timestamp>)",
        "wait": "wait for the job to end; exit code mirrors it",
        "logs": "with --wait: print the job's log lines at the end",
    },
)
@user_errors
def submit(
    c: Context,
    job: str,
    account: str | None = None,
    env: list[str] | None = None,
    name: str | None = None,
    wait: bool = False,
    logs: bool = False,
) -> None:
    """Submit a job declared in the account's variables."""
    from . import jobs
    from . import logs as joblogs

    target = select_accounts([account] if account else None)[0]
    job_id = jobs.submit(target, job, env=jobs.parse_env(env or []), name=name)
    echo(f"submitted {job} as {job_id} in account {target.name}")
    if wait or logs:
        state = jobs.wait(target, [job_id], echo=echo)[job_id]
        if logs:
            for line in joblogs.lines(target, job_id):
                echo(f"  | {line}")
        if state.status != "SUCCEEDED":
            raise Exit(f"job {job_id} {state.status}: {state.reason or 'no reason given'}", code=1)


@task(help={"account": "account name or alias"})
@user_errors
def jobs_logs(c: Context, job_id: str, account: str | None = None) -> None:
    """Print a job's log lines."""
    from . import logs as joblogs

    target = select_accounts([account] if account else None)[0]
    for line in joblogs.lines(target, job_id):
        echo(line)


# ---- the whole loop -------------------------------------------------------------------------


@task
@user_errors
def demo(c: Context) -> None:
    """Run the main workflow end to end on the local stack and print a real job's output."""
    from .demo import run

    run(echo)


@task(help={"k": "only tests matching this pytest expression", "quick": "skip the slow end-to-end tests"})
def test(c: Context, k: str | None = None, quick: bool = False) -> None:
    """Run the test suite (starts the local stack first)."""
    from .testing import run_suite

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
    for t in (build, push, render, bump, promote, releases, submit, demo, test):
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
    for sub in (local, tf, images_ns, jobs_ns):
        ns.add_collection(sub)
    ns.configure({"run": {"echo": False}})
    _allow_optional_positionals()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    return ns


namespace = _namespace()
