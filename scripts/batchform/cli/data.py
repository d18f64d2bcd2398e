"""Tasks over an account's data: `data.put`, `data.get`, `data.ls`, `data.item`."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from invoke import Context, task

from .common import echo, one_account, user_errors


@task(
    help={
        "file": "the local file to upload",
        "key": "where it goes in the bucket, as jobs are given it (inputs/a.csv)",
        "account": "account name or alias",
        "json": "print what was stored as JSON",
    }
)
@user_errors
def data_put(c: Context, file: str, key: str, account: str | None = None, json_: bool = False) -> None:
    """Put FILE in the account's data bucket at KEY (a KEY ending in / takes the file's name)."""
    from .. import data

    stored = data.put(one_account(account), Path(file), key)
    echo(json.dumps(asdict(stored)) if json_ else f"put {stored.url} ({stored.size} bytes)")


@task(help={"account": "account name or alias", "output": "write to this file instead of printing"})
@user_errors
def data_get(c: Context, key: str, account: str | None = None, output: str | None = None) -> None:
    """Print what the account's data bucket holds at KEY (or write it to --output)."""
    from .. import data

    body = data.get(one_account(account), key)
    if output:
        Path(output).write_bytes(body)
        return
    sys.stdout.buffer.write(body)
    sys.stdout.flush()


@task(help={"account": "account name or alias", "json": "print the objects as JSON"})
@user_errors
def data_ls(c: Context, prefix: str = "", account: str | None = None, json_: bool = False) -> None:
    """List the objects of the account's data bucket under PREFIX, with their sizes."""
    from .. import data

    found = data.listing(one_account(account), prefix)
    if json_:
        echo(json.dumps([asdict(item) for item in found], indent=2))
        return
    for item in found:
        echo(f"{item.size:>12}  {item.key}")


@task(help={"account": "account name or alias"})
@user_errors
def data_item(c: Context, table: str, key: str, account: str | None = None) -> None:
    """Print, as JSON, the item of the account's TABLE (its key in the source) whose partition key is KEY."""
    from .. import data

    echo(json.dumps(data.item(one_account(account), table, key), indent=2, sort_keys=True))
