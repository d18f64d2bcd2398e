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
This reverse proxy (built on `batchform.localstack.proxy`) forwards every request to the registry
unchanged, streaming bodies both ways, except `PUT /v2/<name>/manifests/<tag>`: when the tag
already names a manifest with a different digest the push is refused with 400 TAG_INVALID, as ECR
does. Re-pushing the same manifest, and pushing by digest, are forwarded.

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
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from . import registryauth
from .proxy import (
    ClientError,
    ProxyHandler,
    ProxyServer,
    TooLarge,
    Upstream,
    UpstreamError,
    registry_error,
    unfold,
)

log = logging.getLogger("batchform.localstack.tagguard")

HEALTH_PATH = "/batchform/tagguard/health"
SERVICE_NAME = "batchform-tagguard"
# The distribution registry refuses larger manifests too.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024

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


# The name is matched loosely and everything that is not a digest counts as a tag: a reference
# the registry accepts but this pattern misread must err towards being checked, not forwarded.
_MANIFEST_PATH = re.compile(r"/v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")


def manifest_tag(path: str) -> tuple[str, str] | None:
    """(name, tag) when `path` (without query) addresses a manifest by tag, else None."""
    # The registry routes on the decoded path, so an encoded tag must be recognised too.
    match = _MANIFEST_PATH.fullmatch(unquote(path))
    if match is None or _DIGEST.fullmatch(match["reference"]):
        return None
    return match["name"], match["reference"]


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


class TagGuardServer(ProxyServer):
    def __init__(self, address: tuple[str, int], upstream: Upstream, auth_key: bytes | None = None):
        self.auth_key = auth_key  # None: no authorization asked (the guard alone, in its own tests)
        self.tag_locks = KeyedLocks()
        super().__init__(address, upstream)

    @staticmethod
    def handler() -> type[ProxyHandler]:
        return TagGuardHandler


class TagGuardHandler(ProxyHandler):
    server_version = SERVICE_NAME
    server: TagGuardServer
    title = "the tag guard"

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

    def _existing_digest(self, host: str, name: str, tag: str) -> str | None:
        """The digest the tag names upstream, or None when the tag does not exist."""
        conn = self.server.upstream.connection()
        headers = {"Host": host, "Accept": MANIFEST_TYPES}
        if self.headers.get("Authorization"):
            headers["Authorization"] = unfold(self.headers["Authorization"])
        try:
            conn.request(
                "HEAD", f"/v2/{quote(name, safe='/')}/manifests/{quote(tag, safe='')}", headers=headers
            )
            resp = conn.getresponse()
            resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise UpstreamError(str(exc) or type(exc).__name__) from exc
        finally:
            conn.close()
        if resp.status == 404:
            return None
        digest = resp.getheader("Docker-Content-Digest")
        if resp.status == 200 and digest:
            return digest.strip()
        # Unknown state: refusing is safe, overwriting an immutable tag is not.
        raise UpstreamError(f"checking the tag answered {resp.status} {resp.reason}")

    def _guarded_put(self, host: str, name: str, tag: str, framing: str, length: int) -> None:
        try:
            body = self._read_capped(framing, length, MAX_MANIFEST_BYTES)
        except TooLarge:
            self._error(
                413, "MANIFEST_INVALID", f"manifest larger than {MAX_MANIFEST_BYTES} bytes", close=True
            )
            return
        except ClientError as exc:
            self._error(exc.status, "UNSUPPORTED", exc.message, close=True)
            return
        pushed = "sha256:" + hashlib.sha256(body).hexdigest()
        # Held across check and forward, so two pushes of one tag cannot both see it absent.
        with self.server.tag_locks.hold((name, tag)):
            try:
                existing = self._existing_digest(host, name, tag)
            except UpstreamError as exc:
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
            except ClientError as exc:
                self._error(exc.status, "UNSUPPORTED", exc.message, close=True)
                return
            except (UpstreamError, OSError, http.client.HTTPException) as exc:
                self._bad_gateway(exc)
                return
            finally:
                conn.close()
        self._relay(resp, host, answer)

    def _unauthorized(self, host: str) -> None:
        # ECR's challenge names the registry itself as the realm.
        challenge = ("WWW-Authenticate", f'Basic realm="http://{host}/",service="ecr.amazonaws.com"')
        body = registry_error("UNAUTHORIZED", "authentication required")
        self._send_json(401, body, headers=[challenge])

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
