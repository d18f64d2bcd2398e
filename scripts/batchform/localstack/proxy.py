"""A streaming HTTP/1.1 reverse proxy in front of a registry-style service, to build guards on.

It forwards each request to its upstream unchanged but for hop-by-hop headers, streaming bodies
both ways, and answers in the registry's error format what it cannot forward. Subclasses of
`ProxyHandler` decide what happens to a request in `_route`: the tag guard
(`batchform.localstack.tagguard`) checks tokens and tag pushes, the fault proxy
(`batchform.localstack.faults`) injects failures.

* Request framing is strict: both Transfer-Encoding and Content-Length, a coding other than
  chunked, or a malformed length is refused and the connection closed, so no request is
  smuggled past the proxy; so are absolute-form targets and several Host headers.
* `Expect: 100-continue` is answered only once the body is read, so a request refused up front
  never gets an invitation.
* An unreachable upstream is a 502 with a registry-style error body; an upstream answer that
  breaks off mid-body is a truncated body and a closed connection, the only signal left.
* Location headers naming the upstream point back at the proxy.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import re
import socketserver
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger("batchform.localstack.proxy")

CHUNK = 64 * 1024
UPSTREAM_TIMEOUT = 300.0
# Longer than clients' idle timeouts (90 s in Go's default transport), so the client closes an
# idle connection first instead of racing a request against our close.
CLIENT_TIMEOUT = 300.0
MAX_LINE = 8192
MAX_TRAILERS = 64

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

_CONTENT_LENGTH = re.compile(r"[0-9]{1,18}")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_FOLD = re.compile(r"\r?\n[ \t]*")


class ClientError(Exception):
    """The request is malformed; answer with `status` and close the connection."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class ClientGone(Exception):
    """The client stopped sending or receiving; nothing more can be said to it."""


class TooLarge(Exception):
    pass


class UpstreamError(Exception):
    pass


def registry_error(code: str, message: str, detail: Any = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if detail is not None:
        error["detail"] = detail
    return json.dumps({"errors": [error]}).encode()


def unfold(value: str) -> str:
    # Obsolete line folding must not reach the other side verbatim.
    return _FOLD.sub(" ", value)


def _connection_tokens(headers: Any) -> set[str]:
    tokens = set()
    for value in headers.get_all("Connection") or []:
        tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
    return tokens


def end_to_end(headers: Any, also_drop: Iterable[str] = ()) -> list[tuple[str, str]]:
    drop = HOP_BY_HOP | _connection_tokens(headers) | {h.lower() for h in also_drop}
    return [(k, unfold(v)) for k, v in headers.items() if k.lower() not in drop]


@dataclass(frozen=True)
class Upstream:
    url: str
    scheme: str
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Upstream:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream must be an http(s) URL, got {url!r}")
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise ValueError(f"upstream must name only a scheme, host and port, got {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(url=url.rstrip("/"), scheme=parts.scheme, host=parts.hostname, port=port)

    def connection(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        return cls(self.host, self.port, timeout=UPSTREAM_TIMEOUT)

    def rewrite_location(self, location: str, proxy_authority: str) -> str:
        """`location` pointed back at the proxy when it names this upstream, else unchanged."""
        try:
            parts = urlsplit(location)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return location
        if parts.scheme.lower() != self.scheme or (parts.hostname, port) != (self.host.lower(), self.port):
            return location
        return urlunsplit(("http", proxy_authority, parts.path, parts.query, parts.fragment))


def read_chunked(rfile: BinaryIO) -> Iterator[bytes]:
    while True:
        line = rfile.readline(MAX_LINE + 1)
        if not line:
            raise ClientGone
        if not line.endswith(b"\n") or len(line) > MAX_LINE:
            raise ClientError(400, "malformed chunk size line")
        size_text = line.split(b";", 1)[0].strip()
        if not _CHUNK_SIZE.fullmatch(size_text):
            raise ClientError(400, "malformed chunk size")
        size = int(size_text, 16)
        if size == 0:
            break
        while size:
            data = rfile.read1(min(CHUNK, size))  # type: ignore[attr-defined]
            if not data:
                raise ClientGone
            size -= len(data)
            yield data
        if rfile.readline(3) not in (b"\r\n", b"\n"):
            raise ClientError(400, "chunk not followed by CRLF")
    # Trailers are hop-by-hop here: read and dropped.
    for _ in range(MAX_TRAILERS):
        line = rfile.readline(MAX_LINE + 1)
        if line in (b"\r\n", b"\n"):
            return
        if not line.endswith(b"\n"):
            raise ClientError(400, "malformed trailer")
    raise ClientError(400, "too many trailers")


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], upstream: Upstream):
        self.upstream = upstream
        super().__init__(address, self.handler())

    @staticmethod
    def handler() -> type[BaseHTTPRequestHandler]:
        return ProxyHandler

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall on a broken resolver.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("unexpected error serving %s", client_address[0] if client_address else "?")


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate small writes: without TCP_NODELAY each response waits
    # for the client's delayed ACK (about 40 ms a request).
    disable_nagle_algorithm = True
    server_version = "batchform-proxy"
    sys_version = ""
    timeout = CLIENT_TIMEOUT
    server: ProxyServer
    # Who answers a request that failed inside the proxy.
    title = "the proxy"

    # ---- per-request state -------------------------------------------------------------
    def parse_request(self) -> bool:
        self._expect_continue = False
        self._body_pending = False
        self._response_started = False
        return super().parse_request()

    def handle_expect_100(self) -> bool:
        # Deferred until the body is read, so a request refused up front never gets an invitation.
        self._expect_continue = True
        return True

    def send_response_only(self, code: int, message: str | None = None) -> None:
        self._response_started = True
        super().send_response_only(code, message)

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("%s " + fmt, self.client_address[0], *args)

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_PUT = do_PATCH = do_POST = do_DELETE = do_GET

    # ---- dispatch ----------------------------------------------------------------------
    def _handle(self) -> None:
        try:
            self._dispatch()
        except ClientGone:
            self.close_connection = True
        except Exception:
            log.exception("%s %s failed", self.command, self.path.partition("?")[0])
            self.close_connection = True
            if not self._response_started:
                with contextlib.suppress(ClientGone):
                    self._error(500, "UNKNOWN", f"internal error in {self.title}", close=True)
        if self._body_pending:
            self.close_connection = True

    def _dispatch(self) -> None:
        if not self.path.startswith("/") or self.path.startswith("//"):
            self._error(400, "UNSUPPORTED", "only origin-form request targets are accepted", close=True)
            return
        try:
            framing, length = self._request_framing()
            host = self._request_host()
        except ClientError as exc:
            self._error(exc.status, "UNSUPPORTED", exc.message, close=True)
            return
        self._body_pending = framing == "chunked" or length > 0
        self._route(host, self.path.partition("?")[0], framing, length)

    def _route(self, host: str, path: str, framing: str, length: int) -> None:
        """Answer a well-formed request; a subclass decides, this one forwards it."""
        self._forward(host, framing, length)

    def _request_framing(self) -> tuple[str, int]:
        te = self.headers.get_all("Transfer-Encoding") or []
        cl = self.headers.get_all("Content-Length") or []
        if te:
            if cl:
                # Ambiguous framing is how requests get smuggled past a proxy.
                raise ClientError(400, "both Transfer-Encoding and Content-Length")
            codings = [c.strip().lower() for v in te for c in v.split(",") if c.strip()]
            if codings != ["chunked"]:
                raise ClientError(501, "only the chunked transfer coding is supported")
            return "chunked", -1
        if cl:
            values = {v.strip() for v in ",".join(cl).split(",")}
            if len(values) != 1 or not _CONTENT_LENGTH.fullmatch(value := values.pop()):
                raise ClientError(400, "invalid Content-Length")
            return "length", int(value)
        return "length", 0

    def _request_host(self) -> str:
        hosts = self.headers.get_all("Host") or []
        if len(hosts) > 1:
            raise ClientError(400, "more than one Host header")
        if hosts:
            return unfold(hosts[0]).strip()
        if self.request_version != "HTTP/1.0":
            raise ClientError(400, "missing Host header")
        # The address this connection reached, which is right even when bound to 0.0.0.0.
        host, port = self.connection.getsockname()[:2]
        return f"{host}:{port}"

    # ---- request body ------------------------------------------------------------------
    def _body(self, framing: str, length: int) -> Iterator[bytes]:
        """The request body, de-chunked, in pieces; client read failures become ClientGone."""
        if not self._body_pending:
            return
        if self._expect_continue:
            self._expect_continue = False
            try:
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            except OSError as exc:
                raise ClientGone from exc
        try:
            if framing == "chunked":
                yield from read_chunked(self.rfile)
            else:
                remaining = length
                while remaining:
                    data = self.rfile.read1(min(CHUNK, remaining))
                    if not data:
                        raise ClientGone
                    remaining -= len(data)
                    yield data
        except OSError as exc:
            raise ClientGone from exc
        self._body_pending = False

    def _read_capped(self, framing: str, length: int, cap: int) -> bytes:
        if length > cap:
            raise TooLarge
        parts, size = [], 0
        for piece in self._body(framing, length):
            size += len(piece)
            if size > cap:
                raise TooLarge
            parts.append(piece)
        return b"".join(parts)

    # ---- upstream ----------------------------------------------------------------------
    def _forward_headers(self, host: str) -> list[tuple[str, str]]:
        # Host is kept as the client sent it: the registry builds its Location URLs from it.
        headers = [("Host", host)]
        headers += end_to_end(self.headers, also_drop=("host", "content-length", "expect"))
        return headers

    def _send_upstream(
        self,
        conn: http.client.HTTPConnection,
        headers: list[tuple[str, str]],
        body: Iterable[bytes] | bytes,
        length: int | None,
    ) -> http.client.HTTPResponse:
        """Send the request (chunked when `length` is None) and return the upstream response.

        Raises UpstreamError when the upstream cannot be reached or gives no response.
        """
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            if length is None:
                conn.putheader("Transfer-Encoding", "chunked")
            elif length or self.headers.get("Content-Length") is not None:
                conn.putheader("Content-Length", str(length))
            conn.endheaders()
        except (ValueError, http.client.InvalidURL) as exc:
            raise ClientError(400, f"request cannot be forwarded: {exc}") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise UpstreamError(str(exc)) from exc
        pieces = [body] if isinstance(body, bytes) else body
        try:
            for piece in pieces:
                if not piece:
                    continue
                if length is None:
                    conn.send(b"%X\r\n%s\r\n" % (len(piece), piece))
                else:
                    conn.send(piece)
            if length is None:
                conn.send(b"0\r\n\r\n")
        except OSError as exc:
            # The upstream may have answered early (an error) and closed; its answer may still be
            # readable.
            log.debug("upstream stopped reading the body of %s: %s", self.command, exc)
        try:
            return conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            raise UpstreamError(str(exc) or type(exc).__name__) from exc

    def _forward(self, host: str, framing: str, length: int) -> None:
        conn = self.server.upstream.connection()
        try:
            try:
                resp = self._send_upstream(
                    conn,
                    self._forward_headers(host),
                    self._body(framing, length),
                    None if framing == "chunked" else length,
                )
            except ClientError as exc:
                self._error(exc.status, "UNSUPPORTED", exc.message, close=True)
                return
            except UpstreamError as exc:
                self._bad_gateway(exc)
                return
            self._relay(resp, host)
        finally:
            conn.close()

    # ---- responses ---------------------------------------------------------------------
    def _relay(self, resp: http.client.HTTPResponse, host: str, body: bytes | None = None) -> None:
        no_body = self.command == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
        headers = []
        for name, value in end_to_end(resp.msg):
            if name.lower() == "location":
                value = self.server.upstream.rewrite_location(value, host)
            if name.lower() == "content-length" and not no_body:
                continue
            headers.append((name, value))
        # A request body left unread (the upstream answered early) makes the connection unusable.
        close = self.close_connection or self._body_pending or self.request_version == "HTTP/1.0"
        if no_body:
            mode = "none"
        elif body is not None:
            mode, headers = "buffer", [*headers, ("Content-Length", str(len(body)))]
        elif not resp.chunked and resp.length is not None:
            mode, headers = "length", [*headers, ("Content-Length", str(resp.length))]
        elif not close:
            mode, headers = "chunked", [*headers, ("Transfer-Encoding", "chunked")]
        else:
            mode, close = "until-close", True
        try:
            self.send_response_only(resp.status, resp.reason)
            for name, value in headers:
                self.send_header(name, value)
            if close:
                self.send_header("Connection", "close")
            self.end_headers()
            if mode == "buffer":
                self.wfile.write(body or b"")
            elif mode != "none":
                self._stream(resp, mode)
        except OSError as exc:
            raise ClientGone from exc
        self.log_request(resp.status)

    def _stream(self, resp: http.client.HTTPResponse, mode: str) -> None:
        remaining = resp.length if mode == "length" else None
        broken = False
        while True:
            try:
                data = resp.read1(CHUNK)
            except (OSError, http.client.HTTPException) as exc:
                log.warning("upstream response to %s broke off: %s", self.command, exc)
                broken = True
                break
            if not data:
                break
            if remaining is not None:
                remaining -= len(data)
            self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data) if mode == "chunked" else data)
        if broken or remaining:
            # Headers are out; the only way left to signal the failure is a truncated body.
            self.close_connection = True
            return
        if mode == "chunked":
            self.wfile.write(b"0\r\n\r\n")

    def _send_json(
        self, status: int, body: bytes, close: bool = False, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        try:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
            self.send_header("Content-Length", str(len(body)))
            if close or self._body_pending:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError as exc:
            raise ClientGone from exc

    def _error(self, status: int, code: str, message: str, detail: Any = None, close: bool = False) -> None:
        self._send_json(status, registry_error(code, message, detail), close)

    def _bad_gateway(self, exc: Exception) -> None:
        upstream = self.server.upstream.url
        log.warning(
            "upstream %s failed for %s %s: %s", upstream, self.command, self.path.partition("?")[0], exc
        )
        self._error(
            502, "UNAVAILABLE", f"the registry at {upstream} did not answer", {"reason": str(exc)}, close=True
        )
