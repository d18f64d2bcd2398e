"""The dashboard's web application: pages rendered from the board, a job's log lines as
server-sent events, and cancel.

Safe by construction: every page carries a strict Content-Security-Policy (scripts, styles and
connections from this server only, no inline script or style, no framing); cancel is a POST
that must carry the server's CSRF token; the Host header must name the address served, so a
page of another site cannot reach this one through DNS rebinding; environment values whose
name says secret are shown hidden, and secrets appear as their references, as Batch gives them.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jinja2
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import jobs
from ..errors import UserError
from . import pages
from .board import Board

HERE = Path(__file__).resolve().parent

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response, server-sent events included."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
    )
    env.filters.update(when=pages.when, since=pages.since)
    return env


def create_app(board: Board, hosts: list[str] | None = None, start: bool = True) -> Starlette:
    """The application over `board`; `hosts`: the Host header values accepted (the address served)."""
    templates = _templates()
    csrf = secrets.token_urlsafe(32)

    def page(request: Request, template: str, **values: Any) -> HTMLResponse:
        fragment = request.query_params.get("fragment") == "1"
        name = f"{template}.html" if not fragment else f"{template}_body.html"
        html = templates.get_template(name).render(request=request, csrf=csrf, board=board, **values)
        return HTMLResponse(html)

    async def index(request: Request) -> Response:
        return RedirectResponse("/jobs", status_code=302)

    def releases(request: Request) -> HTMLResponse:
        return page(request, "releases", view="releases", **pages.releases(board))

    def queues(request: Request) -> HTMLResponse:
        return page(request, "queues", view="queues", **pages.queues(board))

    def job_list(request: Request) -> HTMLResponse:
        return page(request, "jobs", view="jobs", **pages.job_list(board, request.query_params))

    def job_page(request: Request) -> Response:
        account, job_id = request.path_params["account"], request.path_params["job_id"]
        shown = pages.job_detail(board, account, job_id, request.query_params)
        if shown is None:
            return PlainTextResponse(f"no job {job_id} in account {account}", status_code=404)
        return page(request, "job", view="jobs", **shown)

    def confirm_cancel(request: Request) -> Response:
        account, job_id = request.path_params["account"], request.path_params["job_id"]
        job = board.job(account, job_id)
        if job is None:
            return PlainTextResponse(f"no job {job_id} in account {account}", status_code=404)
        return page(request, "cancel", view="jobs", account=account, job=job)

    async def cancel(request: Request) -> Response:
        account, job_id = request.path_params["account"], request.path_params["job_id"]
        # The one field of a small urlencoded form: the standard library reads it (starlette's
        # form parser would need python-multipart for nothing more).
        body = (await request.body())[:4096].decode("ascii", "replace")
        given = (parse_qs(body).get("csrf") or [request.headers.get("x-csrf-token", "")])[0]
        if not hmac.compare_digest(given.encode(), csrf.encode()):
            return PlainTextResponse("refused: the form's CSRF token is missing or wrong", status_code=403)
        try:
            jobs.check_job_id(job_id)
            view = board.account(account)
            said = await asyncio.to_thread(
                jobs.stop_job, view.account, job_id, "cancelled from the dashboard"
            )
        except UserError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        board.refresh_job(account, job_id)
        return RedirectResponse(f"/jobs/{account}/{job_id}?" + pages.query(said=said), status_code=303)

    async def logs(request: Request) -> Response:
        account, job_id = request.path_params["account"], request.path_params["job_id"]
        try:
            jobs.check_job_id(job_id)
            board.account(account)
        except UserError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        skip = _last_event_id(request)
        return EventSourceResponse(_log_events(request, board, account, job_id, skip), ping=15)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if start:
            board.start()
        try:
            yield
        finally:
            board.stop()

    middleware = [Middleware(SecurityHeaders)]
    if hosts:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=hosts))
    return Starlette(
        routes=[
            Route("/", index),
            Route("/releases", releases),
            Route("/queues", queues),
            Route("/jobs", job_list),
            Route("/jobs/{account}/{job_id}", job_page),
            Route("/jobs/{account}/{job_id}/cancel", confirm_cancel, methods=["GET"]),
            Route("/jobs/{account}/{job_id}/cancel", cancel, methods=["POST"]),
            Route("/jobs/{account}/{job_id}/logs", logs),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )


def _last_event_id(request: Request) -> int:
    """How many lines the page already has: an EventSource reconnecting sends the id of the
    last event it got, and each line's id is its position, so none is sent twice."""
    value = request.headers.get("last-event-id", "")
    return int(value) if value.isdigit() else 0


async def _log_events(
    request: Request, board: Board, account: str, job_id: str, skip: int
) -> AsyncIterator[dict]:
    """The job's log lines, every attempt's, as `jobs.logs --follow` prints them, from the same
    follower; then an `end` event once the job is final and its streams are drained."""
    import tempfile

    from ..follow import LogFollower

    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    view = board.account(account)
    scratch = tempfile.TemporaryDirectory(prefix="batchform-ui-logs-")
    follower = LogFollower(
        view.account,
        job_id,
        echo=lambda line: loop.call_soon_threadsafe(lines.put_nowait, line),
        state_dir=Path(scratch.name),
    )

    def follow() -> None:
        try:
            follower.follow(watcher_poll=lambda: board.job(account, job_id) or {})
        finally:
            loop.call_soon_threadsafe(lines.put_nowait, None)

    thread = threading.Thread(target=follow, name=f"logs {job_id}", daemon=True)
    thread.start()
    position = 0
    try:
        while True:
            line = await lines.get()
            if line is None:
                yield {"event": "end", "data": "the job is over and every line is shown"}
                return
            position += 1
            if position > skip:
                yield {"id": str(position), "data": line}
    finally:
        follower.stop()
        await asyncio.to_thread(thread.join, 10)
        scratch.cleanup()
