"""Tasks over images: `build`, `push`, `images.list`."""

from __future__ import annotations

import json
import re

from invoke import Context, task

from .. import errors
from .common import ACCOUNT_HELP, echo, err, one_account, select_accounts, user_errors


@task(
    iterable=["account", "image"],
    help={
        "account": ACCOUNT_HELP,
        "image": "image under images/ (repeatable; default: all)",
        "force": "build a new number even when nothing changed",
        "json": "print what was built as JSON",
    },
)
@user_errors
def build(
    c: Context,
    account: list[str] | None = None,
    image: list[str] | None = None,
    force: bool = False,
    json_: bool = False,
) -> None:
    """Build each image under images/ with the next build number of the target accounts' registries.

    Its report goes to standard error, so that `build push --json` prints push's JSON alone.
    """
    from ..images import build_images, discover
    from .live import image_progress

    targets = select_accounts(account)
    discover(image)  # refuse a bad image name before the docker engine or a registry is asked
    with image_progress(enabled=False if json_ else None) as progress:
        results = build_images(targets, image, force, err, progress)
    if json_:
        built = [
            {"image": r.image, "build": r.build, "reused": r.reused, "content_digest": r.digest}
            for r in results
        ]
        echo(json.dumps(built, indent=2))
        return
    for result in results:
        err(f"{result.image}: build {result.build}{' (reused)' if result.reused else ''}")


@task(
    iterable=["account", "image"],
    help={
        "account": ACCOUNT_HELP,
        "image": "image (repeatable; default: all)",
        "json": "print what was pushed as JSON (progress goes to standard error)",
    },
)
@user_errors
def push(
    c: Context, account: list[str] | None = None, image: list[str] | None = None, json_: bool = False
) -> None:
    """Push the current build of each image to every target account's registry."""
    from dataclasses import asdict

    from ..images import discover, push_images
    from .live import image_progress

    targets = select_accounts(account)
    discover(image)  # refuse a bad image name before the docker engine or a registry is asked
    with image_progress(enabled=False if json_ else None) as progress:
        results = push_images(targets, image, err if json_ else echo, progress)
    if json_:
        pushed = [{"image": r.image, "build": r.build, **asdict(p)} for r in results for p in r.pushed]
        echo(json.dumps(pushed, indent=2))
        return
    for result in results:
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

    from ..images import discover
    from ..registry import list_builds

    target = one_account(account)
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
