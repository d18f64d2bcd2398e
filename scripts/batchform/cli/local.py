"""Tasks of the embedded local stack: `local.up`, `local.status`, `local.down`, and `demo` on it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from invoke import Context, Exit, task

from .. import errors
from ..settings import LocalStackSettings
from .common import echo, user_errors

if TYPE_CHECKING:
    from ..localstack.stack import LocalStack


def _stack(settings: LocalStackSettings, out: Callable[[str], None] | None = None) -> LocalStack:
    """The local stack's machinery, imported only by the tasks that drive it: every other
    command (and every command run by a script or a test) starts without it."""
    from ..localstack.stack import LocalStack

    return LocalStack(settings, out)


def _port(flag: str, value: str | int | None) -> int | None:
    """A port given on the command line (invoke hands it over as text), or None."""
    if value is None:
        return None
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise errors.UserError(f"{flag} {str(value)!r}: must be a port number, 1-65535")
    return int(text)


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
    emulator_port: str | None = None,
    registry_port: str | None = None,
    data_dir: str | None = None,
) -> None:
    """Start the local stack (emulator, registry, docker engine) on loopback; harmless if running."""
    settings = LocalStackSettings.load(
        emulator_port=_port("--emulator-port", emulator_port),
        registry_port=_port("--registry-port", registry_port),
        data_dir=data_dir,
    )
    for component in _stack(settings, out=echo).up():
        echo(component.line())


@task(help={"json": "print the status as JSON"})
@user_errors
def local_status(c: Context, json_: bool = False) -> None:
    """Report each local stack component with its address; exit 1 when one is down."""
    components = _stack(LocalStackSettings.load()).status()
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
    _stack(LocalStackSettings.load(), out=echo).down(keep=keep)


@task
@user_errors
def demo(c: Context) -> None:
    """Run the main workflow end to end on the local stack and print a real job's output."""
    from ..localstack.demo import run

    run(echo)
