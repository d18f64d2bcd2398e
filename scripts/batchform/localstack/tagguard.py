"""An ECR-like guard in front of the local stack's distribution registry: tags are immutable, and
every account's repositories ask for that account's authorization token.

Run as `python -m batchform.localstack.tagguard --host 127.0.0.1 --port PORT --upstream http://127.0.0.1:5000
[--auth-key-file FILE]`.

Authorization (with --auth-key-file, as the local stack runs it): the repositories of account <id>
are `<id>/<name>`, and each asks for that account's token from the emulator's GetAuthorizationToken
(`batchform.localstack.registryauth`). A request without valid credentials is a 401 with a
`WWW-Authenticate: Basic realm=...` challenge, as ECR's, `/v2/` included; valid credentials of
another account are a 403 DENIED (ECR's cross-account repository policies are not modelled). The
password is never logged.

ECR refuses to overwrite a tag in an IMMUTABLE repository; the distribution registry does not.
This reverse proxy forwards every request to the registry unchanged, streaming bodies both ways,
except `PUT /v2/<name>/manifests/<tag>`: when the tag already names a manifest with a different
digest the push is refused with 400 TAG_INVALID, as ECR does. Re-pushing the same manifest, and
pushing by digest, are forwarded.

* `GET /batchform/tagguard/health` names the service, so the local stack can tell the shim from
  another program on the same port, and says whether the registry behind it answers.
* An unreachable registry is a 502 with a registry-style error body.
* The check and the forwarded push of one tag run under one lock, so concurrent pushes of the
  same tag through this process cannot both win.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import logging
import re
import signal
import socketserver
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from . import registryauth
from .registryauth import TOKEN_USER, account_password, new_auth_key  # noqa: F401 - part of this module's interface

log = logging.getLogger("batchform.localstack.tagguard")

HEALTH_PATH = "/batchform/tagguard/health"
SERVICE_NAME = "batchform-tagguard"
# The distribution registry refuses larger manifests too.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
CHUNK = 64 * 1024
UPSTREAM_TIMEOUT = 300.0
# Longer than clients' idle timeouts (90 s in Go's default transport), so the client closes an
# idle connection first instead of racing a request against our close.
CLIENT_TIMEOUT = 300.0
MAX_LINE = 8192
MAX_TRAILERS = 64

# Asked for when reading the tag, so the registry answers with the stored manifest's own digest
# instead of converting it to a type the request did not list.
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "application/vnd.docker.distribution.manifest.v1+json",
    )
)

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

# The name is matched loosely and everything that is not a digest counts as a tag: a reference
# the registry accepts but this pattern misread must err towards being checked, not forwarded.
_MANIFEST_PATH = re.compile(r"/v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_CONTENT_LENGTH = re.compile(r"[0-9]{1,18}")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_FOLD = re.compile(r"\r?\n[ \t]*")


class _ClientError(Exception):
    """The request is malformed; answer with `status` and close the connection."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class _ClientGone(Exception):
    """The client stopped sending or receiving; nothing more can be said to it."""


class _TooLarge(Exception):
    pass


class _UpstreamError(Exception):
    pass


def manifest_tag(path: str) -> tuple[str, str] | None:
    """(name, tag) when `path` (without query) addresses a manifest by tag, else None."""
    # The registry routes on the decoded path, so an encoded tag must be recognised too.
    match = _MANIFEST_PATH.fullmatch(unquote(path))
    if match is None or _DIGEST.fullmatch(match["reference"]):
        return None
    return match["name"], match["reference"]


def registry_error(code: str, message: str, detail: Any = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if detail is not None:
        error["detail"] = detail
    return json.dumps({"errors": [error]}).encode()


def _unfold(value: str) -> str:
    # Obsolete line folding must not reach the other side verbatim.
    return _FOLD.sub(" ", value)


def _connection_tokens(headers: Any) -> set[str]:
    tokens = set()
    for value in headers.get_all("Connection") or []:
        tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
    return tokens


def _end_to_end(headers: Any, also_drop: Iterable[str] = ()) -> list[tuple[str, str]]:
    drop = HOP_BY_HOP | _connection_tokens(headers) | {h.lower() for h in also_drop}
    return [(k, _unfold(v)) for k, v in headers.items() if k.lower() not in drop]


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


class KeyedLocks:
    """One lock per key, created on first use and dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Any, list[Any]] = {}

    @contextlib.contextmanager
    def hold(self, key: Any) -> Iterator[None]:
        with self._guard:
            entry = self._locks.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._guard:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._locks[key]

    def __len__(self) -> int:
        with self._guard:
            return len(self._locks)


def _read_chunked(rfile: BinaryIO) -> Iterator[bytes]:
    while True:
        line = rfile.readline(MAX_LINE + 1)
        if not line:
            raise _ClientGone
        if not line.endswith(b"\n") or len(line) > MAX_LINE:
            raise _ClientError(400, "malformed chunk size line")
        size_text = line.split(b";", 1)[0].strip()
        if not _CHUNK_SIZE.fullmatch(size_text):
            raise _ClientError(400, "malformed chunk size")
        size = int(size_text, 16)
        if size == 0:
            break
        while size:
            data = rfile.read1(min(CHUNK, size))  # type: ignore[attr-defined]
            if not data:
                raise _ClientGone
            size -= len(data)
            yield data
        if rfile.readline(3) not in (b"\r\n", b"\n"):
            raise _ClientError(400, "chunk not followed by CRLF")
    # Trailers are hop-by-hop here: read and dropped.
    for _ in range(MAX_TRAILERS):
        line = rfile.readline(MAX_LINE + 1)
        if line in (b"\r\n", b"\n"):
            return
        if not line.endswith(b"\n"):
            raise _ClientError(400, "malformed trailer")
    raise _ClientError(400, "too many trailers")


class TagGuardServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], upstream: Upstream, auth_key: bytes | None = None):
        self.upstream = upstream
        self.auth_key = auth_key  # None: no authorization asked (the guard alone, in its own tests)
        self.tag_locks = KeyedLocks()
        super().__init__(address, self.handler())

    @staticmethod
    def handler() -> type[BaseHTTPRequestHandler]:
        return TagGuardHandler

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall on a broken resolver.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("unexpected error serving %s", client_address[0] if client_address else "?")


class TagGuardHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate small writes: without TCP_NODELAY each response waits
    # for the client's delayed ACK (about 40 ms a request).
    disable_nagle_algorithm = True
    server_version = SERVICE_NAME
    sys_version = ""
    timeout = CLIENT_TIMEOUT
    server: TagGuardServer

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
        except _ClientGone:
            self.close_connection = True
        except Exception:
            log.exception("%s %s failed", self.command, self.path.partition("?")[0])
            self.close_connection = True
            if not self._response_started:
                with contextlib.suppress(_ClientGone):
                    self._error(500, "UNKNOWN", "internal error in the tag guard", close=True)
        if self._body_pending:
            self.close_connection = True

    def _dispatch(self) -> None:
        if not self.path.startswith("/") or self.path.startswith("//"):
            self._error(400, "UNSUPPORTED", "only origin-form request targets are accepted", close=True)
            return
        try:
            framing, length = self._request_framing()
            host = self._request_host()
        except _ClientError as exc:
            self._error(exc.status, "UNSUPPORTED", exc.message, close=True)
            return
        self._body_pending = framing == "chunked" or length > 0
        self._route(host, self.path.partition("?")[0], framing, length)

    def _route(self, host: str, path: str, framing: str, length: int) -> None:
        """Answer a well-formed request: the health check, a guarded tag push, or a forward."""
        if self.command in ("GET", "HEAD") and path == HEALTH_PATH:
            self._health()
            return
        if not self._authorized(host, path):
            return
        target = manifest_tag(path) if self.command == "PUT" else None
        if target is not None:
            self._guarded_put(host, *target, framing, length)
        else:
            self._forward(host, framing, length)

    def _authorized(self, host: str, path: str) -> bool:
        """True when the request may go on; otherwise it has been answered 401 or 403, as ECR does."""
        key = self.server.auth_key
        if key is None:
            return True
        caller = registryauth.token_account(key, self.headers.get("Authorization"))
        if caller is None:
            log.info("refused %s %s: no valid authorization token", self.command, path)
            self._unauthorized(host)
            return False
        owner = registryauth.repository_account(path)
        if owner is not None and owner != caller:
            log.info("refused %s %s: a token of account %s", self.command, path, caller)
            message = f"account {caller} is not authorized to use the repositories of account {owner}"
            self._error(403, "DENIED", message)
            return False
        return True

    def _request_framing(self) -> tuple[str, int]:
        te = self.headers.get_all("Transfer-Encoding") or []
        cl = self.headers.get_all("Content-Length") or []
        if te:
            if cl:
                # Ambiguous framing is how requests get smuggled past a proxy.
                raise _ClientError(400, "both Transfer-Encoding and Content-Length")
            codings = [c.strip().lower() for v in te for c in v.split(",") if c.strip()]
            if codings != ["chunked"]:
                raise _ClientError(501, "only the chunked transfer coding is supported")
            return "chunked", -1
        if cl:
            values = {v.strip() for v in ",".join(cl).split(",")}
            if len(values) != 1 or not _CONTENT_LENGTH.fullmatch(value := values.pop()):
                raise _ClientError(400, "invalid Content-Length")
            return "length", int(value)
        return "length", 0

    def _request_host(self) -> str:
        hosts = self.headers.get_all("Host") or []
        if len(hosts) > 1:
            raise _ClientError(400, "more than one Host header")
        if hosts:
            return _unfold(hosts[0]).strip()
        if self.request_version != "HTTP/1.0":
            raise _ClientError(400, "missing Host header")
        # The address this connection reached, which is right even when bound to 0.0.0.0.
        host, port = self.connection.getsockname()[:2]
        return f"{host}:{port}"

    # ---- request body ------------------------------------------------------------------
    def _body(self, framing: str, length: int) -> Iterator[bytes]:
        """The request body, de-chunked, in pieces; client read failures become _ClientGone."""
        if not self._body_pending:
            return
        if self._expect_continue:
            self._expect_continue = False
            try:
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            except OSError as exc:
                raise _ClientGone from exc
        try:
            if framing == "chunked":
                yield from _read_chunked(self.rfile)
            else:
                remaining = length
                while remaining:
                    data = self.rfile.read1(min(CHUNK, remaining))
                    if not data:
                        raise _ClientGone
                    remaining -= len(data)
                    yield data
        except OSError as exc:
            raise _ClientGone from exc
        self._body_pending = False

    def _read_capped(self, framing: str, length: int, cap: int) -> bytes:
        if length > cap:
            raise _TooLarge
        parts, size = [], 0
        for piece in self._body(framing, length):
            size += len(piece)
            if size > cap:
                raise _TooLarge
            parts.append(piece)
        return b"".join(parts)

    # ---- upstream ----------------------------------------------------------------------
    def _forward_headers(self, host: str) -> list[tuple[str, str]]:
        # Host is kept as the client sent it: the registry builds its Location URLs from it.
        headers = [("Host", host)]
        headers += _end_to_end(self.headers, also_drop=("host", "content-length", "expect"))
        return headers

    def _send_upstream(
        self,
        conn: http.client.HTTPConnection,
        headers: list[tuple[str, str]],
        body: Iterable[bytes] | bytes,
        length: int | None,
    ) -> http.client.HTTPResponse:
        """Send the request (chunked when `length` is None) and return the upstream response.

        Raises _UpstreamError when the upstream cannot be reached or gives no response.
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
            raise _ClientError(400, f"request cannot be forwarded: {exc}") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise _UpstreamError(str(exc)) from exc
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
            raise _UpstreamError(str(exc) or type(exc).__name__) from exc

    def _existing_digest(self, host: str, name: str, tag: str) -> str | None:
        """The digest the tag names upstream, or None when the tag does not exist."""
        conn = self.server.upstream.connection()
        headers = {"Host": host, "Accept": MANIFEST_TYPES}
        if self.headers.get("Authorization"):
            headers["Authorization"] = _unfold(self.headers["Authorization"])
        try:
            conn.request(
                "HEAD", f"/v2/{quote(name, safe='/')}/manifests/{quote(tag, safe='')}", headers=headers
            )
            resp = conn.getresponse()
            resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise _UpstreamError(str(exc) or type(exc).__name__) from exc
        finally:
            conn.close()
        if resp.status == 404:
            return None
        digest = resp.getheader("Docker-Content-Digest")
        if resp.status == 200 and digest:
            return digest.strip()
        # Unknown state: refusing is safe, overwriting an immutable tag is not.
        raise _UpstreamError(f"checking the tag answered {resp.status} {resp.reason}")

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
            except _ClientError as exc:
                self._error(exc.status, "UNSUPPORTED", exc.message, close=True)
                return
            except _UpstreamError as exc:
                self._bad_gateway(exc)
                return
            self._relay(resp, host)
        finally:
            conn.close()

    def _guarded_put(self, host: str, name: str, tag: str, framing: str, length: int) -> None:
        try:
            body = self._read_capped(framing, length, MAX_MANIFEST_BYTES)
        except _TooLarge:
            self._error(
                413, "MANIFEST_INVALID", f"manifest larger than {MAX_MANIFEST_BYTES} bytes", close=True
            )
            return
        except _ClientError as exc:
            self._error(exc.status, "UNSUPPORTED", exc.message, close=True)
            return
        pushed = "sha256:" + hashlib.sha256(body).hexdigest()
        # Held across check and forward, so two pushes of one tag cannot both see it absent.
        with self.server.tag_locks.hold((name, tag)):
            try:
                existing = self._existing_digest(host, name, tag)
            except _UpstreamError as exc:
                self._bad_gateway(exc)
                return
            if existing is not None and existing != pushed:
                log.warning("refused push of %s:%s: tag holds %s, push was %s", name, tag, existing, pushed)
                message = (
                    f"The image tag '{tag}' already exists in the '{name}' repository and cannot be "
                    "overwritten because the repository is immutable."
                )
                detail = {"existingDigest": existing, "pushedDigest": pushed}
                self._error(400, "TAG_INVALID", message, detail)
                return
            conn = self.server.upstream.connection()
            try:
                resp = self._send_upstream(conn, self._forward_headers(host), body, len(body))
                # Read inside the lock (the answer is small) so a slow client cannot hold it.
                answer = resp.read()
            except _ClientError as exc:
                self._error(exc.status, "UNSUPPORTED", exc.message, close=True)
                return
            except (_UpstreamError, OSError, http.client.HTTPException) as exc:
                self._bad_gateway(exc)
                return
            finally:
                conn.close()
        self._relay(resp, host, answer)

    # ---- responses ---------------------------------------------------------------------
    def _relay(self, resp: http.client.HTTPResponse, host: str, body: bytes | None = None) -> None:
        no_body = self.command == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
        headers = []
        for name, value in _end_to_end(resp.msg):
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
            raise _ClientGone from exc
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
            raise _ClientGone from exc

    def _error(self, status: int, code: str, message: str, detail: Any = None, close: bool = False) -> None:
        self._send_json(status, registry_error(code, message, detail), close)

    def _unauthorized(self, host: str) -> None:
        # ECR's challenge names the registry itself as the realm.
        challenge = ("WWW-Authenticate", f'Basic realm="http://{host}/",service="ecr.amazonaws.com"')
        body = registry_error("UNAUTHORIZED", "authentication required")
        self._send_json(401, body, headers=[challenge])

    def _bad_gateway(self, exc: Exception) -> None:
        upstream = self.server.upstream.url
        log.warning(
            "upstream %s failed for %s %s: %s", upstream, self.command, self.path.partition("?")[0], exc
        )
        self._error(
            502, "UNAVAILABLE", f"the registry at {upstream} did not answer", {"reason": str(exc)}, close=True
        )

    def _health(self) -> None:
        health = {
            "service": SERVICE_NAME,
            "upstream": self.server.upstream.url,
            # Asked here, so that whoever checks needs no token: the guard's /v2/ asks for one.
            "upstream_answers": self._upstream_answers(),
        }
        self._send_json(200, json.dumps(health).encode())

    def _upstream_answers(self) -> bool:
        conn = self.server.upstream.connection()
        conn.timeout = 5
        try:
            conn.request("GET", "/v2/")
            resp = conn.getresponse()
            resp.read()
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()
        return resp.status == 200 and resp.getheader("Docker-Distribution-Api-Version") == "registry/2.0"


def make_server(host: str, port: int, upstream: str, auth_key: bytes | None = None) -> TagGuardServer:
    """A bound, not yet serving, tag guard; port 0 picks a free port (see `server_address`).

    With `auth_key`, every request but the health check needs an authorization token (see above).
    """
    return TagGuardServer((host, port), Upstream.parse(upstream), auth_key)


def serve(host: str, port: int, upstream: str, auth_key: bytes | None = None) -> None:
    """Serve until SIGTERM or SIGINT."""
    server = make_server(host, port, upstream, auth_key)

    def stop(_signum: int, _frame: Any) -> None:
        # shutdown() waits for serve_forever, which runs in this (the signalled) thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("tag guard on %s:%d in front of %s", server.server_name, server.server_port, upstream)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    log.info("tag guard stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m batchform.localstack.tagguard", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the registry's URL, e.g. http://127.0.0.1:5000")
    parser.add_argument(
        "--auth-key-file", type=Path, help="the key of the emulator's authorization tokens: ask for them"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        Upstream.parse(args.upstream)
    except ValueError as exc:
        parser.error(str(exc))
    key = registryauth.read_auth_key(args.auth_key_file) if args.auth_key_file else None
    serve(args.host, args.port, args.upstream, key)


if __name__ == "__main__":
    main()
