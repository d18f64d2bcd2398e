"""Tasks over terraform: `tf.plan`, `tf.apply`, `tf.destroy`, `tf.output`, `tf.check`."""

from __future__ import annotations

import json
from typing import Any

from invoke import Context, Exit, task

from .common import ACCOUNT_HELP, echo, err, for_accounts, select_accounts, user_errors


def _check_rendered(names: list[str] | None) -> None:
    from ..releases import Releases

    releases = Releases()
    for target in select_accounts(names):
        releases.ensure_rendered(target.name)


VERBOSE_HELP = (
    "print all of terraform's output as it comes (default: a summary; the whole output is in a log file)"
)


@task(
    iterable=["account"],
    help={
        "account": ACCOUNT_HELP,
        "json": "print JSON per account: its summary and plan (progress to standard error)",
        "verbose": VERBOSE_HELP,
    },
)
@user_errors
def tf_plan(c: Context, account: list[str] | None = None, json_: bool = False, verbose: bool = False) -> None:
    """terraform plan for each account (in parallel for several): per account what it would add,
    change and destroy, by module; exit 2 when any has changes."""
    from ..terraform import TerraformRunner

    _check_rendered(account)
    results = for_accounts(
        account,
        lambda a, out: TerraformRunner(a, echo=out, verbose=verbose).plan(capture=json_),
        out=err if json_ else echo,
    )
    if json_:
        echo(json.dumps([r.__dict__ for r in results], indent=2))
    else:
        for result in results:
            echo(f"{result.account}: {result.summary or ('changes' if result.changes else 'no changes')}")
    if any(r.changes for r in results):
        raise Exit(code=2)


def _applying(names: list[str] | None, verbose: bool, command: str) -> None:
    """apply or destroy each account; on a terminal, a line per account says what terraform is
    working on and for how long, in place."""
    from ..terraform import TerraformRunner
    from .live import task_lines

    with task_lines(enabled=None if not verbose else False) as show:

        def run(target: Any, out: Any) -> None:
            shown = (lambda line: show(f"{command} {target.name}", line)) if show else None
            runner = TerraformRunner(target, echo=out, verbose=verbose, progress=shown)
            getattr(runner, command)()

        for_accounts(names, run)


@task(iterable=["account"], help={"account": ACCOUNT_HELP, "verbose": VERBOSE_HELP})
@user_errors
def tf_apply(c: Context, account: list[str] | None = None, verbose: bool = False) -> None:
    """terraform apply for each account, without prompting: per account what it added, changed and
    destroyed, by module (on a terminal, the resource it is working on meanwhile)."""
    _check_rendered(account)
    _applying(account, verbose, "apply")


@task(
    iterable=["account"],
    help={"account": ACCOUNT_HELP, "yes": "required: confirms the destroy", "verbose": VERBOSE_HELP},
)
@user_errors
def tf_destroy(
    c: Context, account: list[str] | None = None, yes: bool = False, verbose: bool = False
) -> None:
    """terraform destroy for each account (requires --yes)."""
    if not yes:
        raise Exit("error: tf.destroy deletes every resource of the account; add --yes to confirm", code=2)
    _applying(account, verbose, "destroy")


@task(iterable=["account"], help={"account": ACCOUNT_HELP})
@user_errors
def tf_output(c: Context, account: list[str] | None = None) -> None:
    """Print each account's terraform outputs as JSON (refreshing the cached copy)."""
    from ..deployment import outputs

    echo(json.dumps({a.name: outputs(a, refresh=True) for a in select_accounts(account)}, indent=2))


@task(help={"json": "print the result as JSON"})
@user_errors
def tf_check(c: Context, json_: bool = False) -> None:
    """checkov over terraform/ and modules/; lists every inline suppression; exit 1 on a finding."""
    from ..devtools.checks import check_terraform

    result = check_terraform(err)
    if json_:
        echo(json.dumps(result.as_dict(), indent=2))
    else:
        for line in result.lines():
            echo(line)
    if result.problems:
        raise Exit(code=1)
