"""The dashboard: every account's releases, queues and jobs on one page, live, in the browser.

board  what is shown, read from AWS by pollers every open page shares
pages  each page's values, filtered and paginated, from the board
app    the web application: pages, a job's log lines as server-sent events, cancel

`serve` runs it under uvicorn; `./batchform ui` is the command.
"""

from __future__ import annotations

from collections.abc import Callable

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def allowed_hosts(host: str) -> list[str]:
    """The Host header values a server on `host` accepts: the names of loopback for a loopback
    address (a page of another site resolving its name to 127.0.0.1 gets no answer), else the
    address itself; every name only for a server told to listen on all addresses."""
    if host in LOOPBACK:
        return list(LOOPBACK) + ["[::1]"]
    if host in ("0.0.0.0", "::"):  # noqa: S104 - compared, not bound
        return ["*"]
    return [host]


def serve(
    names: list[str] | None,
    host: str = "127.0.0.1",
    port: int = 8765,
    interval: float = 3.0,
    echo: Callable[[str], None] = print,
) -> None:
    """Serve the dashboard of the named accounts (default: every one) until interrupted."""
    import uvicorn

    from .app import create_app
    from .board import Board

    board = Board.of(names, interval)
    for name, view in board.views.items():
        shown = f"{len(view.pollers)} queue{'' if len(view.pollers) == 1 else 's'}"
        echo(f"account {name}: {view.problem or shown}")
    shown_host = f"[{host}]" if ":" in host else host
    echo(f"dashboard on http://{shown_host}:{port}/ (Ctrl-C stops it)")
    uvicorn.run(
        create_app(board, hosts=allowed_hosts(host)),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )
