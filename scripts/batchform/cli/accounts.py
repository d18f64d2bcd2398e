"""`accounts`: the declared accounts, for people (a table) and for CI (`--json`)."""

from __future__ import annotations

import json

from invoke import Context, task

from ..accounts import Accounts
from .common import echo, user_errors

NOTES = (("default", "default"), ("first_real", "first on AWS"))


@task(help={"json": "print JSON (what the CI workflows read)"})
@user_errors
def accounts(c: Context, json_: bool = False) -> None:
    """List the declared accounts: id, region, AWS or the local stack, the roles CI assumes there."""
    listing = Accounts().describe()
    if json_:
        echo(json.dumps(listing, indent=2))
        return
    rows = [("account", "aliases", "account id", "region", "endpoints", "ci deploy role", "notes")]
    for entry in listing["accounts"]:
        endpoints = entry["endpoints"]
        rows.append(
            (
                entry["name"],
                ",".join(entry["aliases"]) or "-",
                entry["account_id"],
                entry["region"],
                "aws" if endpoints is None else endpoints if isinstance(endpoints, str) else endpoints["aws"],
                entry["ci"]["deploy_role_arn"] or "-",
                ", ".join(label for key, label in NOTES if entry[key]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        echo("  ".join(f"{value:<{width}}" for value, width in zip(row, widths, strict=True)).rstrip())
