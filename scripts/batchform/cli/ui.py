"""`ui`: the dashboard in the browser."""

from __future__ import annotations

from invoke import Context, task

from .common import echo, seconds, user_errors


@task(
    iterable=["account"],
    help={
        "account": "account name or alias to show (repeatable; default: every account)",
        "host": "address to listen on (default 127.0.0.1: this machine only)",
        "port": "port to listen on (default 8765)",
        "interval": "seconds between two reads of each queue (default 3)",
    },
)
@user_errors
def ui(
    c: Context,
    account: list[str] | None = None,
    host: str = "127.0.0.1",
    port: int = 8765,
    interval: float = 3.0,
) -> None:
    """Serve the dashboard: releases, queues and jobs of every account, live, on one page."""
    from ..errors import UserError
    from ..ui import serve

    every = seconds("--interval", interval)
    if not every or every < 1:
        raise UserError("--interval: must be at least 1 second")
    if not 0 < port < 65536:
        raise UserError(f"--port {port}: must be between 1 and 65535")
    serve(account or None, host, port, every, echo=echo)
