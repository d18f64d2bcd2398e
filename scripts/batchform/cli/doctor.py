"""`doctor`: is an account ready, and if not, what to type."""

from __future__ import annotations

import json

from invoke import Context, Exit, task

from .common import ACCOUNT_HELP, echo, err, select_accounts, user_errors


@task(
    iterable=["account"],
    help={
        "account": ACCOUNT_HELP,
        "run": "then submit the account's smallest job (hello) and report each stage it passed",
        "json": "print the report as JSON",
    },
)
@user_errors
def doctor(c: Context, account: list[str] | None = None, run: bool = False, json_: bool = False) -> None:
    """Check each account before its first apply, and whenever a job will not start: one line per
    check (ok, warn, fail or unknown), with the fix to type. Exit 1 when any check fails."""
    from ..doctor import as_json, diagnose, lines
    from ..releases import Releases

    releases = Releases()
    reports = []
    for target in select_accounts(account):
        source = releases.load(target.name) if releases.source(target.name).exists() else {}
        report = diagnose(target, source, progress=None if json_ else err, run=run)
        reports.append(report)
        if not json_:
            for line in lines(report):
                echo(line)
    if json_:
        echo(json.dumps(as_json(reports), indent=2))
    if any(report.status == "fail" for report in reports):
        raise Exit(code=1)
