"""ECR's DescribeImages answers with what the local registry holds.

On AWS, ECR's API and its image endpoint are one service: an image pushed with docker is listed
by DescribeImages, with its tags and its manifest's digest. moto's ECR only knows images put
through its own API (PutImage), so here DescribeImages asks the local registry, as the account
that owns the repository (its repositories are `<id>/<name>` there): the tags, and each tag's
manifest digest and media type, in pages of maxResults (100 unless asked, at most 1,000) with a
nextToken, as AWS answers. A repository the registry has no image of is left to moto, which
answers as AWS does for it (an empty list, or RepositoryNotFoundException).
"""

from __future__ import annotations

import base64
import threading
from typing import Any

import requests

from ..registry import MANIFEST_TYPES
from .registryauth import TOKEN_USER, LocalRegistry

TIMEOUT = 30
DEFAULT_PAGE, MAX_PAGE = 100, 1000  # DescribeImages' maxResults: unless asked, and at most
# One session per serving thread: its connections to the registry are kept between requests.
_SESSIONS = threading.local()


def _session() -> requests.Session:
    if not hasattr(_SESSIONS, "session"):
        _SESSIONS.session = requests.Session()
    return _SESSIONS.session


def held_images(registry: LocalRegistry, account_id: str, name: str) -> list[dict[str, Any]] | None:
    """The images of `name` in the registry as DescribeImages gives them (one per manifest, with
    all its tags), or None when the registry holds no tag of that repository."""
    session, auth = _session(), (TOKEN_USER, registry.password(account_id))
    base = f"{registry.url.rstrip('/')}/v2/{account_id}/{name}"
    tags: list[str] = []
    url = f"{base}/tags/list?n=1000"
    while url:
        listed = session.get(url, auth=auth, timeout=TIMEOUT)
        if listed.status_code == 404:
            break
        listed.raise_for_status()
        tags.extend(listed.json().get("tags") or [])
        following = listed.links.get("next", {}).get("url", "")
        url = f"{registry.url.rstrip('/')}{following}" if following.startswith("/") else following
    if not tags:
        return None
    images: dict[str, dict[str, Any]] = {}
    for tag in tags:
        head = session.head(
            f"{base}/manifests/{tag}", auth=auth, headers={"Accept": MANIFEST_TYPES}, timeout=TIMEOUT
        )
        if head.status_code == 404:  # deleted since it was listed
            continue
        head.raise_for_status()
        digest = head.headers["Docker-Content-Digest"]
        image = images.setdefault(
            digest,
            {
                "registryId": account_id,
                "repositoryName": name,
                "imageDigest": digest,
                "imageTags": [],
                "imageManifestMediaType": head.headers.get("Content-Type", ""),
            },
        )
        image["imageTags"].append(tag)
    return list(images.values())


def _selected(images: list[dict[str, Any]], image_ids: list[dict[str, str]] | None) -> list[dict[str, Any]]:
    """Those `imageIds` names (by tag or digest); AWS refuses an id that names none."""
    if not image_ids:
        return images
    from moto.ecr.exceptions import ImageNotFoundException

    chosen: list[dict[str, Any]] = []
    for wanted in image_ids:
        tag, digest = wanted.get("imageTag"), wanted.get("imageDigest")
        match = [
            i
            for i in images
            if (tag is None or tag in i["imageTags"]) and (digest is None or digest == i["imageDigest"])
        ]
        if not match:
            first = images[0]
            raise ImageNotFoundException(str(wanted), first["repositoryName"], first["registryId"])
        chosen.extend(i for i in match if i not in chosen)
    return chosen


def answer_from_the_local_registry(registry: LocalRegistry) -> None:
    """DescribeImages lists what the registry holds (see the module's docstring)."""
    from moto.core.responses import ActionResult
    from moto.ecr.responses import ECRResponse

    original = ECRResponse.describe_images

    def describe_images(self: Any) -> Any:
        from moto.ecr.exceptions import InvalidParameterException

        account = self._get_param("registryId") or self.current_account
        size, image_ids = self._get_param("maxResults"), self._get_param("imageIds")
        if size is not None and (image_ids or not 1 <= int(size) <= MAX_PAGE):
            raise InvalidParameterException(
                "maxResults must be from 1 to 1000, and cannot be used with imageIds"
            )
        held = held_images(registry, account, self._get_param("repositoryName"))
        if held is None:
            return original(self)
        status = (self._get_param("filter") or {}).get("tagStatus", "ANY")
        if status == "UNTAGGED":
            held = []  # every image the registry lists has a tag
        chosen = _selected(held, image_ids)
        if image_ids:
            return ActionResult({"imageDetails": chosen})
        token, size = self._get_param("nextToken"), int(size or DEFAULT_PAGE)
        try:
            start = int(base64.b64decode(token).decode()) if token else 0
        except ValueError:
            raise InvalidParameterException("Invalid nextToken") from None
        answer: dict[str, Any] = {"imageDetails": chosen[start : start + size]}
        if start + size < len(chosen):
            answer["nextToken"] = base64.b64encode(str(start + size).encode()).decode()
        return ActionResult(answer)

    ECRResponse.describe_images = describe_images  # type: ignore[method-assign]
