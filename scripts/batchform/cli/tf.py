"""Tasks over terraform: `tf.plan`, `tf.apply`, `tf.destroy`, `tf.output`, `tf.check`."""

from __future__ import annotations

import json

from invoke import Context, Exit, task

from .common import ACCOUNT_HELP, echo, err, for_accounts, select_accounts, user_errors


def _check_rendered(names: list[str] | None) -> None:
    from ..releases import Releases

    releases = Releases()
    for target in select_accounts(names):
        releases.ensure_rendered(target.name)


@task(
    iterable=["account"],
    help={
        "account": ACCOUNT_HELP,
        "json": "print JSON per account: its summary and plan (progress to standard error)",
    },
)
@user_errors
def tf_plan(c: Context, account: list[str] | None = None, json_: bool = False) -> None:
    """terraform plan for each account (in parallel for several); exit 2 when any has changes."""
    from ..terraform import TerraformRunner

    _check_rendered(account)
    results = for_accounts(
        account, lambda a, out: TerraformRunner(a, echo=out).plan(capture=json_), out=err if json_ else echo
    )
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
    from ..terraform import TerraformRunner

    _check_rendered(account)
    for_accounts(account, lambda a, out: TerraformRunner(a, echo=out).apply())


@task(iterable=["account"], help={"account": ACCOUNT_HELP, "yes": "required: confirms the destroy"})
@user_errors
def tf_destroy(c: Context, account: list[str] | None = None, yes: bool = False) -> None:
    """terraform destroy for each account (requires --yes)."""
    from ..terraform import TerraformRunner

    if not yes:
        raise Exit("error: tf.destroy deletes every resource of the account; add --yes to confirm", code=2)
    for_accounts(account, lambda a, out: TerraformRunner(a, echo=out).destroy())


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
