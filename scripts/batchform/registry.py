"""Talk to an account's image registry: ECR, or the registry that stands in for it.

One code path for both: the registry's address and credentials come from ECR's
GetAuthorizationToken through boto3 (no AWS CLI, nothing on a command line); a repository's
tags, each with its manifest's digest, come from ECR's DescribeImages (one call for up to 1,000
images, where the registry v2 API needs a request per tag for the digests); manifests and blobs
are read and written through the registry v2 HTTP API, which ECR and the distribution registry
both serve.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from botocore.exceptions import ClientError

from . import retry, standins
from .accounts import Account
from .errors import UserError
from .imagespec import LABEL_CREATED, LABEL_DIGEST, LABEL_REVISION
from .settings import paths, write_atomic

NUMERIC_TAG = re.compile(r"^[1-9][0-9]{0,17}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
DESCRIBE_PAGE = 1000  # DescribeImages' largest page
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
# Renew this long before the token expires; a token whose stated expiry is already past
# when fetched (some emulators) is trusted for this long instead, so renewal cannot loop.
RENEW_MARGIN = 15 * 60
FALLBACK_LIFETIME = 60 * 60
# Tries per request, more than retry's default: a push or a promotion is dozens of requests, and
# each must get through (five tries leave one request in 250 failing when a third of them fail).
ATTEMPTS = 10
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class RegistryCredentials:
    username: str
    password: str
    renew_at: float

    def __repr__(self) -> str:  # never print the password, whatever logs this object
        return f"RegistryCredentials(username={self.username!r}, password=<hidden>)"

    def docker_auth(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password}


@dataclass(frozen=True)
class Pushed:
    """A build in one account's registry, as a push left it."""

    account: str
    reference: str  # host[/prefix]/image:build, as job definitions name it
    digest: str  # the manifest's digest in that registry
    already_there: bool  # the registry had the build: nothing was pushed
    layers_uploaded: int


class Registry:
    """The registry of one account."""

    def __init__(self, account: Account):
        self.account = account
        self._credentials: RegistryCredentials | None = None
        self._lock = threading.Lock()
        self._http = requests.Session()

    # ---- where: the host of the account's authorization token -------------------------------
    @cached_property
    def base_url(self) -> str:
        """Scheme and host of the registry (read when first needed: it takes an AWS call)."""
        url = urlsplit(self.account.registry_url)
        return f"{url.scheme}://{url.netloc}"

    @cached_property
    def prefix(self) -> str:
        """The path under which the account's repositories are ('' on ECR)."""
        return urlsplit(self.account.registry_url).path.strip("/")

    # ---- credentials --------------------------------------------------------------------
    def credentials(self) -> RegistryCredentials:
        """ECR credentials for this account, renewed before they expire."""
        with self._lock:
            if self._credentials is None or time.time() >= self._credentials.renew_at:
                self._credentials = self._fetch_credentials()
            return self._credentials

    def forget_credentials(self) -> None:
        """Drop the cached token (the registry said it expired): the next use fetches a new one."""
        with self._lock:
            self._credentials = None

    def _fetch_credentials(self) -> RegistryCredentials:
        data = self.account.client("ecr").get_authorization_token()["authorizationData"][0]
        username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
        now = time.time()
        expires = data.get("expiresAt")
        expires_at = expires.timestamp() if isinstance(expires, datetime) else now + FALLBACK_LIFETIME
        if expires_at - RENEW_MARGIN <= now:
            expires_at = now + FALLBACK_LIFETIME + RENEW_MARGIN
        return RegistryCredentials(username, password, renew_at=expires_at - RENEW_MARGIN)

    # ---- names --------------------------------------------------------------------------
    def repository_path(self, image: str) -> str:
        return f"{self.prefix}/{image}" if self.prefix else image

    def reference(self, image: str, tag: str | int | None = None) -> str:
        """Image reference as docker and job definitions use it: host[/prefix]/image[:tag]."""
        ref = f"{self.account.registry}/{image}"
        return f"{ref}:{tag}" if tag is not None else ref

    # ---- v2 API ---------------------------------------------------------------------------
    def _request(self, method: str, path: str, replayable: bool = True, **kwargs: Any) -> requests.Response:
        """One registry call; throttling, server errors and broken connections are tried again
        (retry's policy, or the registry's Retry-After) when the request can be sent again
        (`replayable`: its body is not a stream). After the last try its answer is returned."""
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        kwargs.setdefault("timeout", 60)
        pause = _Pause()

        def once() -> requests.Response:
            pause.asked = 0.0
            creds = self.credentials()
            response = self._http.request(method, url, auth=(creds.username, creds.password), **kwargs)
            if retry.http_kind(response.status_code):
                pause.heed(response)
                raise _Busy(response)
            return response

        policy = retry.retrying(
            lambda exc: isinstance(exc, _Busy | requests.RequestException),
            attempts=ATTEMPTS if replayable else 1,
            sleep=pause.sleep,
            before_sleep=_close_answer,
        )
        try:
            return policy(once)
        except _Busy as busy:
            return busy.response
        except requests.RequestException as exc:
            raise UserError(
                f"account {self.account.name}: registry {self.base_url} unreachable: {exc}"
            ) from None

    def _get(self, path: str, **kwargs: Any) -> requests.Response:
        return self._request("GET", path, **kwargs)

    def build_digests(self, image: str) -> dict[int, str]:
        """Numeric builds of a repository, newest (highest) first, each with its manifest's digest
        (empty when the repository has no image yet, or is not there)."""
        found: dict[int, str] = {}
        pages = self.account.client("ecr").get_paginator("describe_images")
        try:
            for page in pages.paginate(
                repositoryName=image,
                filter={"tagStatus": "TAGGED"},
                PaginationConfig={"PageSize": DESCRIBE_PAGE},
            ):
                for detail in page.get("imageDetails") or []:
                    for tag in detail.get("imageTags") or []:
                        if NUMERIC_TAG.match(tag):
                            found[int(tag)] = detail["imageDigest"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "RepositoryNotFoundException":
                return {}
            raise UserError(f"account {self.account.name}: listing {image}'s images failed: {exc}") from None
        return dict(sorted(found.items(), reverse=True))

    def builds(self, image: str) -> list[int]:
        """Numeric build tags, newest (highest) first."""
        return list(self.build_digests(image))

    def manifest(self, image: str, reference: str | int) -> tuple[str, str, bytes] | None:
        """(digest, media type, bytes) of a tag or digest; None when absent."""
        response = self._get(
            f"/v2/{self.repository_path(image)}/manifests/{reference}", headers={"Accept": MANIFEST_TYPES}
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return (
            response.headers.get("Docker-Content-Digest", ""),
            response.headers.get("Content-Type", ""),
            response.content,
        )

    def config_digest(self, image: str, reference: str | int) -> str | None:
        """The digest of an image's config (the engine's id of the image pushed), from its manifest alone."""
        found = self.manifest(image, reference)
        return json.loads(found[2]).get("config", {}).get("digest") if found else None

    def config_labels(self, image: str, reference: str | int) -> dict[str, str]:
        """The OCI labels of an image in the registry, read from its config blob."""
        found = self.manifest(image, reference)
        if found is None:
            return {}
        return self._labels(image, json.loads(found[2]))

    def _labels(self, image: str, manifest: dict[str, Any]) -> dict[str, str]:
        digest = manifest.get("config", {}).get("digest")
        if not digest:
            return {}
        response = self._get(f"/v2/{self.repository_path(image)}/blobs/{digest}")
        response.raise_for_status()
        return (response.json().get("config") or {}).get("Labels") or {}

    # ---- copying between registries ---------------------------------------------------------
    def copy_image(self, source: Registry, image: str, tag: str | int, echo: Any = None) -> str:
        """Copy image:tag from another registry into this one, byte for byte; returns its digest.

        The manifest is put unchanged, so the digest is the same in both registries. Blobs
        this registry already has are not sent again; on the same server they are mounted.
        """
        echo = echo or (lambda _line: None)
        found = source.manifest(image, tag)
        if found is None:
            raise UserError(f"{image}:{tag} is not in account {source.account.name}'s registry")
        digest, media_type, body = found
        # Before anything is sent: an image built on a stand-in stays where the stand-in may serve.
        based_on = source._stand_ins(image, json.loads(body))  # noqa: SLF001 - the same class
        standins.check(f"{image}:{tag}", based_on, [self.account], "promote it to")
        existing = self.manifest(image, tag)
        if existing is not None:
            if existing[0] != digest:
                raise UserError(
                    f"{image}:{tag} in account {self.account.name} is another image ({existing[0]}); "
                    "tags are immutable, so it cannot be promoted over"
                )
            echo(f"{image}:{tag} is already in account {self.account.name}'s registry")
            return digest
        sent = self._copy_content(source, image, json.loads(body))
        self._put_manifest(image, str(tag), media_type, body, digest)
        echo(f"{image}:{tag} copied from {source.account.name} to {self.account.name} ({sent} blobs sent)")
        return digest

    def _stand_ins(self, image: str, manifest: dict[str, Any]) -> set[str]:
        """The public bases an image (each image of an index) was built on local stand-ins for."""
        found = set(standins.from_labels(self._labels(image, manifest)))
        for child in manifest.get("manifests") or []:
            listed = self.manifest(image, child["digest"])
            if listed is not None:
                found |= self._stand_ins(image, json.loads(listed[2]))
        return found

    def _copy_content(self, source: Registry, image: str, manifest: dict[str, Any]) -> int:
        sent = 0
        for child in manifest.get("manifests") or []:  # an index: copy each image it lists
            found = source.manifest(image, child["digest"])
            if found is None:
                raise UserError(f"{image}: manifest {child['digest']} missing from the source registry")
            sent += self._copy_content(source, image, json.loads(found[2]))
            self._put_manifest(image, child["digest"], found[1], found[2], child["digest"])
        for blob in [manifest.get("config"), *(manifest.get("layers") or [])]:
            if blob and self._copy_blob(source, image, blob["digest"]):
                sent += 1
        return sent

    def _copy_blob(self, source: Registry, image: str, digest: str) -> bool:
        """Make sure this registry has the blob; True when its bytes had to be sent.

        The bytes stream from one registry to the other, so a failed upload cannot simply be
        sent again: the whole upload is started over (a registry discards unfinished ones).
        """
        pause = _Pause()

        def once() -> bool:
            done = self._upload_blob(source, image, digest)
            if done is None:
                return False
            if done.status_code == 201:
                return True
            if retry.http_kind(done.status_code):
                pause.heed(done)
                raise _Busy(done)
            raise _Busy(done, final=True)

        policy = retry.retrying(lambda exc: isinstance(exc, _Busy) and not exc.final, ATTEMPTS, pause.sleep)
        try:
            return policy(once)
        except _Busy as busy:
            status = busy.response.status_code
            raise UserError(
                f"{image}: uploading blob {digest} to {self.account.name} failed ({status})"
            ) from None

    def _upload_blob(self, source: Registry, image: str, digest: str) -> requests.Response | None:
        """One upload of the blob; None when there was nothing to send (present, or mounted)."""
        repository = self.repository_path(image)
        if self._request("HEAD", f"/v2/{repository}/blobs/{digest}").status_code == 200:
            return None
        start = f"/v2/{repository}/blobs/uploads/"
        if source.base_url == self.base_url:
            start += f"?mount={digest}&from={source.repository_path(image)}"
        response = self._request("POST", start)
        if response.status_code == 201:
            return None  # mounted from the source repository: nothing sent
        if response.status_code != 202:
            raise UserError(
                f"{image}: the registry of {self.account.name} refused an upload ({response.status_code})"
            )
        location = response.headers["Location"]
        separator = "&" if "?" in location else "?"
        with source._get(f"/v2/{source.repository_path(image)}/blobs/{digest}", stream=True) as blob:
            blob.raise_for_status()
            size = blob.headers.get("Content-Length")
            body: Any = blob.iter_content(CHUNK)
            if size and size.isdigit():
                body = _SizedStream(blob.raw, int(size))
            try:
                return self._request(
                    "PUT",
                    f"{location}{separator}digest={digest}",
                    replayable=False,
                    data=body,
                    headers={"Content-Type": "application/octet-stream"},
                    timeout=600,
                )
            except UserError:
                # The connection broke mid-upload: report it as the server error it amounts to.
                failed = requests.Response()
                failed.status_code = 503
                return failed

    def _put_manifest(self, image: str, reference: str, media_type: str, body: bytes, digest: str) -> None:
        response = self._request(
            "PUT",
            f"/v2/{self.repository_path(image)}/manifests/{reference}",
            data=body,
            headers={"Content-Type": media_type},
        )
        if response.status_code != 201:
            detail = response.text.strip()[:200]
            raise UserError(
                f"{image}:{reference}: {self.account.name}'s registry refused the manifest: {detail}"
            )
        stored = response.headers.get("Docker-Content-Digest")
        if stored and stored != digest:
            raise UserError(f"{image}:{reference}: stored as {stored}, expected {digest}")


class _Busy(Exception):  # noqa: N818 - reads as what the registry said
    """An answer that says "not now" rather than "no": the same request may well succeed again."""

    def __init__(self, response: requests.Response, final: bool = False):
        super().__init__(response.status_code)
        self.response, self.final = response, final


class _Pause:
    """Sleeps as long as retry's policy says, or as the registry's Retry-After asks, up to the cap."""

    def __init__(self) -> None:
        self.asked = 0.0

    def heed(self, response: requests.Response) -> None:
        value = (response.headers.get("Retry-After") or "").strip()
        self.asked = min(float(value), retry.BACKOFF_CAP) if value.isdigit() else 0.0

    def sleep(self, delay: float) -> None:
        time.sleep(max(delay, self.asked))


def _close_answer(state: Any) -> None:
    """Before the next try: release the connection of the answer that is not returned."""
    exc = state.outcome.exception()
    if isinstance(exc, _Busy):
        exc.response.close()


class _SizedStream:
    """A response body passed on as a request body of known length: sent as it is read, with a
    Content-Length (requests would otherwise ask the socket for a file size, or send it chunked)."""

    def __init__(self, raw: Any, size: int):
        self.raw, self.size = raw, size

    def __len__(self) -> int:
        return self.size

    def read(self, amount: int = -1) -> bytes:
        return self.raw.read(amount)


class ManifestContents:
    """What this machine has learnt of the manifests it pushed or read: manifest digest -> the
    content digest its image carries. A manifest digest names its bytes, and so its config and
    labels, so an entry is true in every registry and never goes stale; a missing one only
    means asking the registry."""

    def __init__(self) -> None:
        self.root = paths().home / "manifests"

    def _path(self, manifest: str) -> Path | None:
        return self.root / manifest.replace(":", "-") if DIGEST.match(manifest or "") else None

    def get(self, manifest: str) -> str | None:
        path = self._path(manifest)
        if path is None:
            return None
        with contextlib.suppress(OSError):
            return path.read_text().strip() or None
        return None

    def put(self, manifest: str, content: str) -> None:
        path = self._path(manifest)
        if path is not None and content and self.get(manifest) != content:
            write_atomic(path, content)


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class RegistryBuild:
    """One build of an image as a registry holds it."""

    image: str
    account: str
    build: int
    revision: str
    created: str
    content_digest: str


def list_builds(account: Account, images: Iterable[str], limit: int = 10) -> list[RegistryBuild]:
    """`invoke images.list`: per image, its builds in the account's registry, newest first."""
    registry = Registry(account)
    found: list[RegistryBuild] = []
    for image in images:
        for number in registry.builds(image)[:limit]:
            labels = registry.config_labels(image, number)
            found.append(
                RegistryBuild(
                    image,
                    account.name,
                    number,
                    labels.get(LABEL_REVISION, "?"),
                    labels.get(LABEL_CREATED, "?"),
                    labels.get(LABEL_DIGEST, "?"),
                )
            )
    return found
