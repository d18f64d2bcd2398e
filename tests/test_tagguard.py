"""The tag guard refuses to overwrite a tag, as ECR does for an immutable repository, and otherwise
passes the registry's API through unchanged, streaming bodies both ways."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from batchform.localstack import registryauth, tagguard
from conftest import free_port, missing

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
TIMEOUT = 30


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _wait_until(check: Callable[[], bool], what: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if check():
                return
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what} exited with code {proc.returncode} while starting")
        time.sleep(0.1)
    pytest.fail(f"{what} did not answer within {TIMEOUT} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private distribution registry, configured as the local stack configures its own."""
    binary = shutil.which("docker-registry")
    if binary is None:
        missing("the docker-registry binary")
    root = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = root / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {root / 'storage'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        "  headers:\n    X-Content-Type-Options: [nosniff]\n"
    )
    url = f"http://127.0.0.1:{port}"
    with open(root / "registry.log", "wb") as log:
        proc = subprocess.Popen(
            [binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        try:
            _wait_until(
                lambda: (
                    requests.get(f"{url}/v2/", timeout=2).headers.get("Docker-Distribution-Api-Version")
                    == "registry/2.0"
                ),
                "docker-registry",
                proc,
            )
            yield url
        finally:
            _stop(proc)


@dataclass
class Guard:
    url: str
    server: tagguard.TagGuardServer


@contextlib.contextmanager
def _running_guard(upstream: str, auth_key: bytes | None = None) -> Iterator[Guard]:
    server = tagguard.make_server("127.0.0.1", free_port(), upstream, auth_key)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Guard(f"http://127.0.0.1:{server.server_port}", server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture(scope="module")
def guard(registry: str) -> Iterator[Guard]:
    with _running_guard(registry) as running:
        yield running


# ---- registry API helpers -------------------------------------------------------------------
def _start_upload(base: str, repo: str) -> str:
    started = requests.post(f"{base}/v2/{repo}/blobs/uploads/", timeout=TIMEOUT)
    assert started.status_code == 202, started.text
    return started.headers["Location"]


def _push_blob(base: str, repo: str, data: bytes) -> str:
    """Monolithic upload: POST for a location, then one PUT with the whole blob."""
    digest = _digest(data)
    finished = requests.put(
        _start_upload(base, repo),
        params={"digest": digest},
        data=data,
        headers={"Content-Type": "application/octet-stream"},
        timeout=TIMEOUT,
    )
    assert finished.status_code == 201, finished.text
    assert finished.headers["Docker-Content-Digest"] == digest
    return digest


def _descriptor(media_type: str, data: bytes) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": _digest(data), "size": len(data)}


@dataclass
class Image:
    repo: str
    config: dict[str, Any]
    layer: dict[str, Any]

    def manifest(self, **annotations: str) -> bytes:
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": self.config,
            "layers": [self.layer],
        }
        if annotations:
            manifest["annotations"] = annotations
        return json.dumps(manifest, sort_keys=True).encode()


def _put_manifest(base: str, repo: str, reference: str, body: bytes, **headers: str) -> requests.Response:
    return requests.put(
        f"{base}/v2/{repo}/manifests/{reference}",
        data=body,
        headers={"Content-Type": OCI_MANIFEST, **headers},
        timeout=TIMEOUT,
    )


def _get_manifest(base: str, repo: str, reference: str) -> requests.Response:
    return requests.get(
        f"{base}/v2/{repo}/manifests/{reference}", headers={"Accept": OCI_MANIFEST}, timeout=TIMEOUT
    )


def _errors(response: requests.Response) -> list[dict[str, Any]]:
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()["errors"]


@pytest.fixture(scope="module")
def source_image(guard: Guard) -> Image:
    """A config and a layer blob, pushed once through the guard."""
    repo = f"tagguard/source-{uuid.uuid4().hex[:8]}"
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}).encode()
    layer = os.urandom(256 * 1024)
    _push_blob(guard.url, repo, config)
    _push_blob(guard.url, repo, layer)
    return Image(repo, _descriptor(OCI_CONFIG, config), _descriptor(OCI_LAYER, layer))


@pytest.fixture
def image(guard: Guard, source_image: Image) -> Image:
    """A fresh repository holding the source image's blobs (mounted across repositories)."""
    repo = f"tagguard/{uuid.uuid4().hex[:12]}"
    for blob in (source_image.config, source_image.layer):
        mounted = requests.post(
            f"{guard.url}/v2/{repo}/blobs/uploads/",
            params={"mount": blob["digest"], "from": source_image.repo},
            timeout=TIMEOUT,
        )
        assert mounted.status_code == 201, mounted.text
    return Image(repo, source_image.config, source_image.layer)


# ---- pass-through ---------------------------------------------------------------------------
@pytest.mark.stack
def test_a_chunked_blob_upload_streams_through_and_locations_point_back_at_the_guard(guard: Guard) -> None:
    repo = f"tagguard/{uuid.uuid4().hex[:12]}"
    blob = os.urandom(3 * 1024 * 1024 + 12345)
    digest = _digest(blob)

    location = _start_upload(guard.url, repo)
    assert location.startswith(guard.url + "/v2/")

    def pieces() -> Iterator[bytes]:
        for offset in range(0, len(blob), 256 * 1024):
            yield blob[offset : offset + 256 * 1024]

    patched = requests.patch(
        location, data=pieces(), headers={"Content-Type": "application/octet-stream"}, timeout=TIMEOUT
    )
    assert patched.request.headers.get("Transfer-Encoding") == "chunked"
    assert patched.status_code == 202, patched.text
    assert patched.headers["Range"] == f"0-{len(blob) - 1}"
    assert patched.headers["Location"].startswith(guard.url + "/v2/")

    finished = requests.put(patched.headers["Location"], params={"digest": digest}, timeout=TIMEOUT)
    assert finished.status_code == 201, finished.text

    head = requests.head(f"{guard.url}/v2/{repo}/blobs/{digest}", timeout=TIMEOUT)
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(blob))
    assert head.headers["Docker-Content-Digest"] == digest
    with requests.get(f"{guard.url}/v2/{repo}/blobs/{digest}", stream=True, timeout=TIMEOUT) as got:
        assert got.status_code == 200
        assert hashlib.sha256(b"".join(got.iter_content(65536))).hexdigest() == digest.split(":")[1]


@pytest.mark.stack
def test_a_new_tag_is_pushed_and_reads_back_with_the_pushed_digest(guard: Guard, image: Image) -> None:
    manifest = image.manifest()
    pushed = _put_manifest(guard.url, image.repo, "1", manifest)
    assert pushed.status_code == 201, pushed.text
    assert pushed.headers["Docker-Content-Digest"] == _digest(manifest)
    assert pushed.headers["Location"].startswith(guard.url + "/v2/")

    got = _get_manifest(guard.url, image.repo, "1")
    assert got.status_code == 200
    assert got.headers["Docker-Content-Digest"] == _digest(manifest)
    assert got.content == manifest


@pytest.mark.stack
def test_re_pushing_the_same_manifest_to_a_tag_succeeds(guard: Guard, image: Image) -> None:
    manifest = image.manifest()
    assert _put_manifest(guard.url, image.repo, "1", manifest).status_code == 201
    again = _put_manifest(guard.url, image.repo, "1", manifest)
    assert again.status_code == 201, again.text
    assert again.headers["Docker-Content-Digest"] == _digest(manifest)


@pytest.mark.stack
def test_overwriting_a_tag_with_another_manifest_is_refused_as_tag_invalid(
    guard: Guard, registry: str, image: Image
) -> None:
    first, second = image.manifest(), image.manifest(build="second")
    assert _put_manifest(guard.url, image.repo, "1", first).status_code == 201

    refused = _put_manifest(guard.url, image.repo, "1", second)
    assert refused.status_code == 400
    assert _errors(refused) == [
        {
            "code": "TAG_INVALID",
            "message": f"The image tag '1' already exists in the '{image.repo}' repository and cannot be "
            "overwritten because the repository is immutable.",
            "detail": {"existingDigest": _digest(first), "pushedDigest": _digest(second)},
        }
    ]
    for base in (guard.url, registry):
        assert _get_manifest(base, image.repo, "1").headers["Docker-Content-Digest"] == _digest(first)
    # Refused before reaching the registry: the second manifest was never stored.
    assert _get_manifest(registry, image.repo, _digest(second)).status_code == 404


@pytest.mark.stack
def test_pushes_by_digest_are_forwarded_even_when_the_tag_is_taken(guard: Guard, image: Image) -> None:
    first, second = image.manifest(), image.manifest(build="by-digest")
    assert _put_manifest(guard.url, image.repo, "1", first).status_code == 201

    by_digest = _put_manifest(guard.url, image.repo, _digest(second), second)
    assert by_digest.status_code == 201, by_digest.text
    assert _get_manifest(guard.url, image.repo, _digest(second)).content == second
    assert _get_manifest(guard.url, image.repo, "1").headers["Docker-Content-Digest"] == _digest(first)

    # The registry, not the guard, checks a digest reference against the body.
    mismatched = _put_manifest(guard.url, image.repo, _digest(first), second)
    assert mismatched.status_code == 400
    assert _errors(mismatched)[0]["code"] == "DIGEST_INVALID"


@pytest.mark.stack
def test_concurrent_pushes_of_one_tag_let_exactly_one_win(guard: Guard, image: Image) -> None:
    manifests = [image.manifest(build=str(i)) for i in range(8)]
    barrier = threading.Barrier(len(manifests))
    results: list[requests.Response | None] = [None] * len(manifests)

    def push(i: int) -> None:
        barrier.wait(TIMEOUT)
        results[i] = _put_manifest(guard.url, image.repo, "2", manifests[i])

    threads = [threading.Thread(target=push, args=(i,)) for i in range(len(manifests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    statuses = sorted(r.status_code for r in results if r is not None)
    assert statuses == [201] + [400] * 7, statuses
    winner = next(i for i, r in enumerate(results) if r is not None and r.status_code == 201)
    assert {_errors(r)[0]["code"] for r in results if r is not None and r.status_code == 400} == {
        "TAG_INVALID"
    }
    got = _get_manifest(guard.url, image.repo, "2")
    assert got.headers["Docker-Content-Digest"] == _digest(manifests[winner])
    assert len(guard.server.tag_locks) == 0, "per-tag locks are dropped once released"


@pytest.mark.stack
def test_an_oversized_manifest_is_refused_with_413(guard: Guard, image: Image) -> None:
    def oversized() -> Iterator[bytes]:
        for _ in range(5):
            yield b" " * (1024 * 1024)

    refused = requests.put(
        f"{guard.url}/v2/{image.repo}/manifests/big",
        data=oversized(),
        headers={"Content-Type": OCI_MANIFEST},
        timeout=TIMEOUT,
    )
    assert refused.status_code == 413
    assert _errors(refused)[0]["code"] == "MANIFEST_INVALID"


def _raw_exchange(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        return sock.recv(65536)


@pytest.mark.stack
def test_an_oversized_manifest_announced_with_expect_continue_is_refused_before_it_is_sent(
    guard: Guard,
) -> None:
    answer = _raw_exchange(
        guard.url,
        b"PUT /v2/tagguard/expect/manifests/big HTTP/1.1\r\nHost: guard\r\n"
        b"Content-Type: " + OCI_MANIFEST.encode() + b"\r\nContent-Length: 5242880\r\n"
        b"Expect: 100-continue\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:100]


@pytest.mark.stack
def test_a_request_with_both_content_length_and_chunked_framing_is_refused(guard: Guard) -> None:
    answer = _raw_exchange(
        guard.url,
        b"PUT /v2/tagguard/smuggle/manifests/1 HTTP/1.1\r\nHost: guard\r\n"
        b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:100]
    assert b"Connection: close" in answer


@pytest.mark.stack
def test_client_connections_are_kept_alive_across_requests(guard: Guard, image: Image) -> None:
    port = int(guard.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/v2/")
        first = conn.getresponse()
        assert first.status == 200 and first.read() == b"{}"
        sock = conn.sock
        conn.request("HEAD", f"/v2/{image.repo}/blobs/{image.layer['digest']}")
        head = conn.getresponse()
        assert head.status == 200 and head.read() == b""
        assert head.getheader("Content-Length") == str(image.layer["size"])
        conn.request(
            "PUT",
            f"/v2/{image.repo}/manifests/kept",
            body=image.manifest(),
            headers={"Content-Type": OCI_MANIFEST},
        )
        put = conn.getresponse()
        assert put.status == 201 and put.read() == b""
        assert conn.sock is sock, "the guard closed a keep-alive connection"
    finally:
        conn.close()


# ---- framing and Location rewriting, against an upstream that frames responses in every way ---
class _FramingUpstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = b"".join(b"%06d\n" % i for i in range(20000))

    def log_message(self, fmt: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for offset in range(0, len(self.body), 10000):
                piece = self.body[offset : offset + 10000]
                self.wfile.write(b"%X\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/until-close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(self.body)
        elif self.path == "/redirect":
            host, port = self.server.server_address[:2]
            self.send_response(307)
            self.send_header("Location", f"http://{host}:{port}/elsewhere?x=1")
            self.send_header("Content-Length", "0")
            self.end_headers()


@pytest.fixture(scope="module")
def framing_upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _FramingUpstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_chunked_and_unframed_upstream_bodies_arrive_intact_on_a_kept_alive_connection(
    framing_upstream: str,
) -> None:
    with _running_guard(framing_upstream) as running:
        conn = http.client.HTTPConnection("127.0.0.1", running.server.server_port, timeout=TIMEOUT)
        try:
            conn.request("GET", "/chunked")
            chunked = conn.getresponse()
            assert chunked.read() == _FramingUpstream.body
            sock = conn.sock
            conn.request("GET", "/until-close")
            unframed = conn.getresponse()
            assert unframed.getheader("Transfer-Encoding") == "chunked"
            assert unframed.read() == _FramingUpstream.body
            assert conn.sock is sock
        finally:
            conn.close()


def test_a_location_naming_the_upstream_is_rewritten_to_the_guard(framing_upstream: str) -> None:
    with _running_guard(framing_upstream) as running:
        redirect = requests.get(f"{running.url}/redirect", allow_redirects=False, timeout=TIMEOUT)
    assert redirect.status_code == 307
    assert redirect.headers["Location"] == f"{running.url}/elsewhere?x=1"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v2/team/app/manifests/1", ("team/app", "1")),
        ("/v2/app/manifests/v1.2-rc_3", ("app", "v1.2-rc_3")),
        ("/v2/a/manifests/b/manifests/latest", ("a/manifests/b", "latest")),
        ("/v2/app/manifests/%6Catest", ("app", "latest")),
        ("/v2/app/manifests/sha256:" + "a" * 64, None),
        ("/v2/app/blobs/uploads/abc", None),
        ("/v2/app/tags/list", None),
    ],
)
def test_manifest_paths_are_told_apart_by_tag_or_digest(path: str, expected: tuple[str, str] | None) -> None:
    assert tagguard.manifest_tag(path) == expected


# ---- health, failure and the process --------------------------------------------------------
@pytest.mark.stack
def test_the_health_route_names_the_service_its_upstream_and_whether_that_answers(
    locked_guard: Guard, registry: str
) -> None:
    """Without a token: whoever checks the stack (another checkout, without its key) needs none."""
    health = requests.get(f"{locked_guard.url}{tagguard.HEALTH_PATH}", timeout=TIMEOUT)
    assert health.status_code == 200
    assert health.json() == {"service": "batchform-tagguard", "upstream": registry, "upstream_answers": True}
    with _running_guard(f"http://127.0.0.1:{free_port()}") as unreachable:
        assert (
            requests.get(f"{unreachable.url}{tagguard.HEALTH_PATH}", timeout=TIMEOUT).json()[
                "upstream_answers"
            ]
            is False
        )


@pytest.mark.stack
def test_an_unreachable_upstream_is_a_502_registry_error(image: Image) -> None:
    with _running_guard(f"http://127.0.0.1:{free_port()}") as running:
        for response in (
            requests.get(f"{running.url}/v2/", timeout=TIMEOUT),
            requests.patch(f"{running.url}/v2/app/blobs/uploads/x", data=b"x" * 100000, timeout=TIMEOUT),
            _put_manifest(running.url, image.repo, "1", image.manifest()),
        ):
            assert response.status_code == 502
            assert _errors(response)[0]["code"] == "UNAVAILABLE"
            assert "Traceback" not in response.text


@pytest.mark.stack
def test_the_module_runs_as_a_process_logs_refusals_without_secrets_and_stops_on_sigterm(
    registry: str, image: Image, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "tagguard.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "batchform.localstack.tagguard",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ]
            + ["--upstream", registry],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        _wait_until(
            lambda: (
                requests.get(f"{url}{tagguard.HEALTH_PATH}", timeout=2).json()["service"]
                == tagguard.SERVICE_NAME
            ),
            "python -m batchform.localstack.tagguard",
            proc,
        )
        secret = {"Authorization": "Bearer not-to-be-logged-" + uuid.uuid4().hex}
        first, second = image.manifest(), image.manifest(marker="body-not-to-be-logged")
        assert _put_manifest(url, image.repo, "1", first, **secret).status_code == 201
        assert _put_manifest(url, image.repo, "1", second, **secret).status_code == 400

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        _stop(proc)
    logged = log_path.read_text()
    refusals = [line for line in logged.splitlines() if "refused" in line]
    assert len(refusals) == 1, logged
    assert all(part in refusals[0] for part in (image.repo, ":1", _digest(first), _digest(second)))
    assert "not-to-be-logged" not in logged
    assert "Traceback" not in logged


# ---- authorization, as ECR asks for it -------------------------------------------------------
ACCOUNT, OTHER = "123456789012", "210987654321"


@pytest.fixture(scope="module")
def key() -> bytes:
    return registryauth.new_auth_key()


@pytest.fixture(scope="module")
def locked_guard(registry: str, key: bytes) -> Iterator[Guard]:
    """A guard asking for authorization tokens, as the local stack runs it."""
    with _running_guard(registry, key) as running:
        yield running


def _token(key: bytes, account: str) -> tuple[str, str]:
    return registryauth.TOKEN_USER, registryauth.account_password(key, account)


@pytest.mark.stack
def test_without_the_accounts_token_every_repository_and_v2_itself_answer_ecrs_basic_challenge(
    locked_guard: Guard, key: bytes
) -> None:
    """As ECR: a request without valid Basic credentials (`AWS:<password of the account's token>`) is
    401 with `WWW-Authenticate: Basic realm=...`, the base check `/v2/` included."""
    repo = f"{ACCOUNT}/check-{uuid.uuid4().hex[:8]}"
    wrong = [
        None,
        ("AWS", "wrong"),
        ("AWS", f"{ACCOUNT}-auth-token"),  # moto's fixed password
        ("someone", registryauth.account_password(key, ACCOUNT)),
        _token(b"another stack's key", ACCOUNT),
    ]
    for auth in wrong:
        for method, path in (
            ("GET", "/v2/"),
            ("GET", f"/v2/{repo}/tags/list"),
            ("POST", f"/v2/{repo}/blobs/uploads/"),
        ):
            answer = requests.request(method, f"{locked_guard.url}{path}", auth=auth, timeout=TIMEOUT)
            assert answer.status_code == 401, (method, path, auth and auth[0])
            challenge = answer.headers["WWW-Authenticate"]
            assert challenge.startswith(f'Basic realm="{locked_guard.url}/"'), challenge
            assert _errors(answer)[0]["code"] == "UNAUTHORIZED"
    bearer = requests.get(f"{locked_guard.url}/v2/", headers={"Authorization": "Bearer x"}, timeout=TIMEOUT)
    assert bearer.status_code == 401
    assert requests.get(f"{locked_guard.url}{tagguard.HEALTH_PATH}", timeout=TIMEOUT).ok  # no token needed


@pytest.mark.stack
def test_the_accounts_token_opens_its_repositories_and_v2_and_another_accounts_is_denied(
    locked_guard: Guard, key: bytes
) -> None:
    repo = f"{ACCOUNT}/check-{uuid.uuid4().hex[:8]}"
    own = _token(key, ACCOUNT)
    base = requests.get(f"{locked_guard.url}/v2/", auth=own, timeout=TIMEOUT)
    assert (base.status_code, base.headers["Docker-Distribution-Api-Version"]) == (200, "registry/2.0")
    other_base = requests.get(f"{locked_guard.url}/v2/", auth=_token(key, OTHER), timeout=TIMEOUT)
    assert other_base.status_code == 200  # any account's token passes the base check

    config = b'{"architecture": "amd64", "os": "linux"}'
    session = requests.Session()
    session.auth = own
    started = session.post(f"{locked_guard.url}/v2/{repo}/blobs/uploads/", timeout=TIMEOUT)
    assert started.status_code == 202, started.text
    location = started.headers["Location"]
    pushed = session.put(location, params={"digest": _digest(config)}, data=config, timeout=TIMEOUT)
    assert pushed.status_code == 201, pushed.text
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": _descriptor(OCI_CONFIG, config),
            "layers": [],
        }
    ).encode()
    put = session.put(
        f"{locked_guard.url}/v2/{repo}/manifests/1",
        data=manifest,
        headers={"Content-Type": OCI_MANIFEST},
        timeout=TIMEOUT,
    )
    assert put.status_code == 201, put.text
    assert session.get(f"{locked_guard.url}/v2/{repo}/tags/list", timeout=TIMEOUT).json()["tags"] == ["1"]

    denied = requests.get(f"{locked_guard.url}/v2/{repo}/tags/list", auth=_token(key, OTHER), timeout=TIMEOUT)
    assert (denied.status_code, _errors(denied)[0]["code"]) == (403, "DENIED")


@pytest.mark.stack
def test_a_refused_upload_never_gets_its_body_invited_and_the_connection_is_closed(
    locked_guard: Guard,
) -> None:
    """A 401 answers before a body announced with `Expect: 100-continue` is sent, and the connection
    (its body unread) is not reused."""
    host, port = locked_guard.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
        sock.sendall(
            f"PUT /v2/{ACCOUNT}/x/manifests/1 HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 401"), answer[:80]
        assert b"100 Continue" not in answer
        assert b"connection: close" in answer.lower()
