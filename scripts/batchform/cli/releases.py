"""Tasks over what each account runs: `render`, `bump`, `promote`, `releases`."""

from __future__ import annotations

import json
from typing import Any

from invoke import Context, Exit, task

from .common import ACCOUNT_HELP, echo, err, user_errors


@task(
    help={
        "check": "change nothing; exit 1 naming each rendered file that is stale or edited by hand",
        "explain": "change nothing; print each job of this account as rendered, and the file of each value",
        "json": "with --explain: print JSON",
    }
)
@user_errors
def render(c: Context, check: bool = False, explain: str | None = None, json_: bool = False) -> None:
    """Render terraform/accounts/<account>.tfvars from each account's YAML source (on _shared.yaml)."""
    from ..releases import Releases

    releases = Releases()
    if explain:
        _print_explained(releases, explain, json_)
        return
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


def _print_explained(releases: Any, account: str, json_: bool) -> None:
    from dataclasses import asdict

    from .common import one_account

    name = one_account(account).name
    jobs = releases.explain(name)
    if json_:
        echo(json.dumps({job: [asdict(row) for row in rows] for job, rows in jobs.items()}, indent=2))
        return
    echo(f"the jobs of account {name}, value by value, with the file each value comes from:")
    for job, rows in jobs.items():
        echo(job)
        shown = [(row.key, json.dumps(row.value), row.source) for row in rows]
        width = max(len(key) for key, _, _ in shown)
        value_width = min(48, max(len(value) for _, value, _ in shown))
        for key, value, source in shown:
            echo(f"  {key:<{width}}  {value:<{value_width}}  {source}")


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

    from ..releases import Releases

    progress = err if json_ else echo
    results = Releases(echo=progress).bump(
        image, build or None, account or None, allow_downgrade=allow_downgrade
    )
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
    from ..releases import Releases

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
    from ..releases import Releases

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
