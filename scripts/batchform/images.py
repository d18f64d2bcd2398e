"""Build the images under images/, number them, and push them to accounts' registries.

Build numbers are plain integers (41, 42, ...). The next one comes from the registries
themselves -- the highest numeric tag among the target accounts, plus one -- so two machines
agree without sharing a file. Every image carries OCI labels (version, revision, created,
source) and a content digest over everything that goes into it, which is how an unchanged
image is recognised and its existing build number reused.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from . import retry, standins
from .accounts import Account
from .engine import docker_client, engine_tag_lock
from .errors import UserError
from .imageprogress import ImageProgress
from .imagespec import (
    LABEL_CREATED,
    LABEL_DIGEST,
    LABEL_REVISION,
    LABEL_SOURCE,
    LABEL_VERSION,
    ImageSpec,
    bases,
    content_digest,
    discover,
    git_revision,
    local_repository,
)
from .registry import ManifestContents, Pushed, Registry, utc_now

Echo = Callable[[str], None]


@dataclass
class BuildResult:
    image: str
    build: int
    reused: bool
    local_tag: str
    digest: str
    spec: ImageSpec | None = None
    uploaded: dict[str, int] = field(default_factory=dict)  # layers uploaded per account by push
    image_id: str | None = None  # the engine's id of the image built here, when it was
    stand_ins: tuple[str, ...] = ()  # public bases it was built on local stand-ins for
    labels_read: bool = False  # stand_ins include what image_id's labels say (an id's never change)
    pushed: list[Pushed] = field(default_factory=list)  # where push left it, account by account


# What this process learnt, so that the push of `build push` need not ask again what its build found:
# registries seen holding a build of a content ((image reference, build, content digest) -> its manifest's
# digest or ""; a pushed number is never overwritten), and the engine's build of a content ((image, content
# digest) -> (build, {Id, Labels})): known by its id, which names the same image for good, whatever tags do.
_CONFIRMED: dict[tuple[str, int, str], str] = {}
_LOCAL: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}


class TagTaken(Exception):  # noqa: N818 - reads as what happened
    """The registry refused the push: the build number was taken meanwhile (an immutable tag)."""


# How ECR (and the local stack's tag guard) word the refusal, as the docker engine reports it.
TAG_TAKEN = re.compile(r"tag invalid|already exists|cannot be overwritten|immutable", re.IGNORECASE)
# A registry credential that expired mid-way: renew it and try once more.
AUTH_EXPIRED = re.compile(r"expired|no basic auth credentials|authentication required|401", re.IGNORECASE)
# Each refusal means another build took a number, so N builds racing for one number need up
# to N attempts: ten builds of one image at once, from any number of machines.
RACE_ATTEMPTS = 10
# Refusals a second push would only repeat; anything else (throttling, 5xx, a dropped
# connection) is tried again, which is safe: pushing an image that is there changes nothing.
PUSH_REFUSED = re.compile(
    r"denied|name unknown|name invalid|manifest invalid|unsupported|no space left|does not exist",
    re.IGNORECASE,
)
# Each try resumes where the last stopped (layers sent are skipped), so a push through a registry
# failing often completes in many tries, each waiting as retry's policy says.
PUSH_ATTEMPTS = 30
PREFETCH_THREADS = 8  # listings at once; a throttled one is retried by botocore, as every call is


class _Interrupted(Exception):  # noqa: N818 - reads as what happened
    """A docker push that stopped short for a reason the next try may well not meet."""

    def __init__(self, error: str, renewing: bool = False):
        super().__init__(error)
        self.renewing = renewing


class ImageBuilder:
    """Build and push images for a set of target accounts."""

    def __init__(
        self, accounts: list[Account], echo: Echo | None = None, progress: ImageProgress | None = None
    ):
        self.accounts = accounts
        self.echo = echo or print
        self.progress = progress or ImageProgress()
        self.docker = docker_client()
        self.registries = {a.name: Registry(a) for a in accounts}
        self._config_labels: dict[tuple[str, str, int], dict[str, str]] = {}
        self._listing: list[dict[str, Any]] | None = None
        self._contents = ManifestContents()
        self._prefetched: dict[str, dict[str, dict[int, str]]] = {}

    def _stand_ins(self, spec: ImageSpec) -> tuple[str, ...]:
        return standins.used_by(bases(spec), standins.load())

    def _base_ids(self, spec: ImageSpec) -> dict[str, str]:
        ids = {}
        for ref in bases(spec):
            try:
                ids[ref] = self.docker.images.get(ref).id
            except Exception:  # noqa: BLE001 - not local yet: the reference itself stands in
                ids[ref] = ref
        return ids

    def builds(self, image: str) -> dict[str, dict[int, str]]:
        """Each target registry's numeric builds of an image, newest first, with manifest digests."""
        prefetched = self._prefetched.pop(image, None)  # used once: a later question asks again
        if prefetched is not None:
            return prefetched
        return {name: registry.build_digests(image) for name, registry in self.registries.items()}

    def prefetch(self, specs: list[ImageSpec]) -> None:
        """List the builds of every image in every target registry at once, for `builds` to use:
        independent calls, which one after another are most of an unchanged build's time. A listing
        gone stale meanwhile is harmless: a number taken since is refused at the push, and the
        image takes the next one."""
        pairs = [(spec.name, account) for spec in specs for account in self.registries]
        with ThreadPoolExecutor(max_workers=max(1, min(PREFETCH_THREADS, len(pairs)))) as pool:
            listed = pool.map(lambda pair: self.registries[pair[1]].build_digests(pair[0]), pairs)
            for (image, account), found in zip(pairs, listed, strict=True):
                self._prefetched.setdefault(image, {})[account] = found

    def newest(self, spec: ImageSpec, digest: str) -> tuple[int, str | None, bool]:
        """(newest build in the target registries or 0, an account holding it, same content?)."""
        builds = self.builds(spec.name)
        newest = max((max(found) for found in builds.values() if found), default=0)
        if not newest:
            return 0, None, False
        holder = next(name for name, found in builds.items() if newest in found)
        return newest, holder, self._holds(holder, spec.name, newest, digest, builds[holder][newest])

    def _holds(self, account: str, image: str, number: int, digest: str, manifest: str = "") -> bool:
        """Whether the account's registry holds this content as build `number` (manifest digest
        `manifest`, where the listing gave it). A manifest this machine pushed or read before answers
        with no request; when the engine has that build of this content, its manifest alone answers
        (one request): a pushed image's config digest is its id on the engine that built it. Else
        its labels do."""
        fact = (self.registries[account].reference(image), number, digest)
        if fact in _CONFIRMED:
            return True
        same = bool(manifest) and self._contents.get(manifest) == digest
        if not same:
            local = self._local_build(image, number, digest)
            same = local is not None and self.registries[account].config_digest(image, number) == local["Id"]
            same = same or self._labels(account, image, number).get(LABEL_DIGEST) == digest
            if same and manifest:
                self._contents.put(manifest, digest)
        if same:
            _CONFIRMED[fact] = manifest
        return same

    def _local_build(self, image: str, number: int, digest: str) -> dict[str, Any] | None:
        """The engine's build `number` of this content ({Id, Labels}), when it has it (one inspection)."""
        import docker

        tag = f"{local_repository(image)}:{number}"
        try:
            found = self.docker.api.inspect_image(tag)
        except docker.errors.ImageNotFound:
            return None
        if ((found.get("Config") or {}).get("Labels") or {}).get(LABEL_DIGEST) != digest:
            return None
        _LOCAL[(image, digest)] = (number, {"Id": found["Id"], "Labels": found["Config"]["Labels"]})
        return _LOCAL[(image, digest)][1]

    def _labels(self, account: str, image: str, number: int) -> dict[str, str]:
        """An image's labels in an account's registry, read once: a pushed number is never overwritten."""
        key = (account, image, number)
        if key not in self._config_labels:
            self._config_labels[key] = self.registries[account].config_labels(image, number)
        return self._config_labels[key]

    def build(self, spec: ImageSpec, force: bool = False) -> BuildResult:
        stand_ins = self._stand_ins(spec)
        standins.check(spec.name, stand_ins, self.accounts, "use it in")
        digest = content_digest(spec, self._base_ids(spec))
        newest, _holder, unchanged = self.newest(spec, digest)
        if unchanged and not force:
            self.echo(f"{spec.name}: unchanged since build {newest}, reusing it")
            self._local_build(spec.name, newest, digest)  # so that a push finds it by its tag, unlisted
            local_tag = f"{spec.local_repository}:{newest}"
            return BuildResult(spec.name, newest, True, local_tag, digest, spec, stand_ins=stand_ins)
        return self._build_number(spec, digest, newest + 1)

    def _build_number(self, spec: ImageSpec, digest: str, number: int) -> BuildResult:
        local_tag = f"{spec.local_repository}:{number}"
        stand_ins = self._stand_ins(spec)
        labels = {
            LABEL_VERSION: str(number),
            LABEL_REVISION: git_revision(),
            LABEL_CREATED: utc_now(),
            LABEL_SOURCE: f"images/{spec.name}",
            LABEL_DIGEST: digest,
        }
        if stand_ins:  # goes wherever the image goes, so a later push or promotion can refuse it
            labels[standins.LABEL] = standins.label_value(stand_ins)
        self.echo(f"{spec.name}: building build {number}")
        stream = self.docker.api.build(
            path=str(spec.context),
            tag=local_tag,
            buildargs=spec.build_args,
            labels=labels,
            rm=True,
            forcerm=True,
            decode=True,
            network_mode="host",
        )
        image_id = None
        for chunk in stream:
            if "error" in chunk:
                raise UserError(f"{spec.name}: docker build failed: {chunk['error'].strip()}")
            self.progress.build_chunk(spec.name, chunk)
            image_id = (chunk.get("aux") or {}).get("ID", image_id)
        if image_id:
            _LOCAL[(spec.name, digest)] = (number, {"Id": image_id, "Labels": labels})
        # The local tag is shared by every build of this number on the engine; the id is this build's.
        return BuildResult(
            spec.name, number, False, local_tag, digest, spec, image_id=image_id, stand_ins=stand_ins
        )

    def current(self, spec: ImageSpec) -> BuildResult:
        """The build of this image's current content: a local one, else the registries' newest."""
        digest = content_digest(spec, self._base_ids(spec))
        local = self._local_builds(spec.name, digest)
        stand_ins = self._stand_ins(spec)
        if local:
            number = max(local)
            # The label as well as today's record: the image may have been built on a stand-in since replaced.
            found = tuple(sorted({*stand_ins, *standins.from_labels(local[number].get("Labels"))}))
            tag, image_id = f"{spec.local_repository}:{number}", local[number].get("Id")
            read = {"image_id": image_id, "stand_ins": found, "labels_read": bool(image_id)}
            return BuildResult(spec.name, number, False, tag, digest, spec, **read)
        newest, holder, unchanged = self.newest(spec, digest)
        if unchanged and holder is not None:
            reference = self.registries[holder].reference(spec.name, newest)
            labels = self._labels(holder, spec.name, newest)
            found = tuple(sorted({*stand_ins, *standins.from_labels(labels)}))
            return BuildResult(spec.name, newest, True, reference, digest, spec, stand_ins=found)
        raise UserError(f"{spec.name}: no build of its current content; run invoke build first")

    def _local_builds(self, image: str, digest: str) -> dict[int, dict[str, Any]]:
        """The engine's builds of this content: {build: its summary}.

        A build this process made or checked is known by its id; any other is found in one listing
        of every build on the engine, made once (the engine scans all its images for any listing).
        """
        if (image, digest) in _LOCAL:
            number, known = _LOCAL[(image, digest)]
            return {number: known}
        repository = local_repository(image)

        def matching(listing: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
            return {
                int(tag.rsplit(":", 1)[1]): summary
                for summary in listing
                if (summary.get("Labels") or {}).get(LABEL_DIGEST) == digest
                for tag in summary.get("RepoTags") or []
                if tag.startswith(f"{repository}:") and tag.rsplit(":", 1)[1].isdigit()
            }

        # A listing made for an earlier image serves this one, unless it misses the build (made since).
        if self._listing is not None and (found := matching(self._listing)):
            return found
        self._listing = self.docker.api.images(filters={"label": LABEL_DIGEST})
        return matching(self._listing)

    def push(self, result: BuildResult) -> BuildResult:
        """Push one build to every target account; returns the build as pushed.

        A build number is only claimed by pushing it: when another build took the number
        meanwhile, the immutable repository refuses the push, and the image is rebuilt under
        the next free number and pushed (to every target, so they keep agreeing). Nothing is
        ever overwritten; a number already pushed to some accounts stays a complete image.
        """
        standins.check(f"{result.image}:{result.build}", self._built_on(result), self.accounts)
        for _attempt in range(RACE_ATTEMPTS):
            try:
                result.uploaded = self._push_everywhere(result)
                return result
            except TagTaken as taken:
                if result.spec is None:
                    raise UserError(f"{result.image}: {taken}") from None
                newest = max((max(found) for found in self.builds(result.image).values() if found), default=0)
                self.echo(f"{result.image}: {taken}; taking build {newest + 1}")
                stale, stale_id = result.local_tag, result.image_id
                result = self._build_number(result.spec, result.digest, newest + 1)
                if stale.startswith(f"{result.spec.local_repository}:"):
                    self._untag(stale, stale_id)
        raise UserError(
            f"{result.image}: gave up after {RACE_ATTEMPTS} build numbers were taken by other builds"
        )

    def _built_on(self, result: BuildResult) -> set[str]:
        """The stand-ins a build rests on: as built here, and as its local image's label says."""
        import docker

        found = set(result.stand_ins)
        if not result.labels_read:
            with contextlib.suppress(docker.errors.ImageNotFound):
                image = self.docker.images.get(result.image_id or result.local_tag)
                found |= set(standins.from_labels(image.labels))
        return found

    def _untag(self, tag: str, image_id: str | None) -> None:
        """Drop a local tag this build lost, unless it names another racer's build by now."""
        import docker

        with contextlib.suppress(docker.errors.ImageNotFound):
            if image_id is None or self.docker.images.get(tag).id == image_id:
                self.docker.api.remove_image(tag, noprune=True)

    def _push_everywhere(self, result: BuildResult) -> dict[str, int]:
        there = {a.name for a in self.accounts if self._confirmed(a, result)}
        present: dict[str, dict[int, str]] = {name: {result.build: ""} for name in there}
        if len(there) < len(self.accounts):
            present = self.builds(result.image)
        result.pushed = []
        for account in self.accounts:
            if result.build in present[account.name]:
                manifest = present[account.name][result.build]
                if account.name not in there and not self._same_content(account, result, manifest):
                    raise TagTaken(
                        f"build {result.build} was taken in {account.name}'s registry by another build"
                    )
                self.echo(f"{result.image}:{result.build} already in {account.name}'s registry")
                result.pushed.append(self._pushed(account, result, manifest, True, 0))
                continue
            count, manifest = self._push_one(account, self._local_image(result, present), result)
            _CONFIRMED[self._fact(account.name, result)] = manifest
            result.pushed.append(self._pushed(account, result, manifest, False, count))
            self.echo(f"{result.image}:{result.build} pushed to {account.name} ({count} layers uploaded)")
        return {entry.account: entry.layers_uploaded for entry in result.pushed}

    def _pushed(self, account: Account, result: BuildResult, digest: str, there: bool, count: int) -> Pushed:
        registry = self.registries[account.name]
        if not (digest := digest or _CONFIRMED.get(self._fact(account.name, result), "")):
            digest = (registry.manifest(result.image, result.build) or ("",))[0]  # no listing named it
        return Pushed(account.name, registry.reference(result.image, result.build), digest, there, count)

    def _fact(self, account: str, result: BuildResult) -> tuple[str, int, str]:
        return self.registries[account].reference(result.image), result.build, result.digest

    def _confirmed(self, account: Account, result: BuildResult) -> bool:
        return self._fact(account.name, result) in _CONFIRMED

    def _same_content(self, account: Account, result: BuildResult, manifest: str = "") -> bool:
        return self._holds(account.name, result.image, result.build, result.digest, manifest)

    def _local_image(self, result: BuildResult, present: dict[str, dict[int, str]]) -> Any:
        import docker

        try:
            image = self.docker.images.get(result.image_id or result.local_tag)
        except docker.errors.ImageNotFound:
            # Built elsewhere: fetch it from a registry that has it.
            holders = [name for name, found in present.items() if result.build in found]
            if not holders:
                raise UserError(
                    f"{result.image}:{result.build} is neither built here nor in any target registry"
                ) from None
            source = self.registries[holders[0]]
            image = self.docker.images.pull(
                source.reference(result.image),
                tag=str(result.build),
                auth_config=source.credentials().docker_auth(),
            )
        # What the image itself says, before its first upload to any target: it may come from elsewhere.
        standins.check(f"{result.image}:{result.build}", standins.from_labels(image.labels), self.accounts)
        return image

    def _push_one(self, account: Account, image: Any, result: BuildResult) -> tuple[int, str]:
        """Push under the account's repository name: (layers uploaded, the stored manifest's digest or "")."""
        import docker

        registry = self.registries[account.name]
        repository = registry.reference(result.image)
        # The engine has one namespace of tags: two pushes of different images under the same
        # repository:tag from this machine would push whichever was tagged last. One at a time.
        with engine_tag_lock(f"{repository}:{result.build}"):
            image.tag(repository, tag=str(result.build))
            try:
                return self._push_tagged(account, registry, repository, result)
            finally:
                with contextlib.suppress(docker.errors.ImageNotFound):
                    self.docker.api.remove_image(f"{repository}:{result.build}", noprune=True)

    def _push_tagged(
        self, account: Account, registry: Registry, repository: str, result: BuildResult
    ) -> tuple[int, str]:
        """docker push, again until it completes: layers already sent are skipped by the next try,
        and the manifest goes last, so an interrupted push never leaves a tag behind."""
        state = {"count": 0, "tries": 0, "renewed": False}

        def once() -> tuple[int, str]:
            state["tries"] += 1
            error, pushed, manifest = self._docker_push(registry, repository, result, account.name)
            state["count"] += pushed
            if error is None:
                return state["count"], manifest
            if TAG_TAKEN.search(error):
                if self._same_content(account, result):
                    return state["count"], ""  # an identical image got there first: it is ours
                raise TagTaken(f"build {result.build} was taken in {account.name}'s registry meanwhile")
            if AUTH_EXPIRED.search(error) and not state["renewed"]:
                state["renewed"] = True
                registry.forget_credentials()
                raise _Interrupted(error, renewing=True)
            if PUSH_REFUSED.search(error):
                raise UserError(f"{result.image}: push to {account.name} failed: {error}{tries()}")
            raise _Interrupted(error)

        def tries() -> str:
            return f" (tried {state['tries']} times)" if state["tries"] > 1 else ""

        def interrupted(attempt: Any) -> None:
            failure = attempt.outcome.exception()
            if not failure.renewing:
                where = f"{result.image}:{result.build} push to {account.name}"
                wait = attempt.next_action.sleep if attempt.next_action else 0
                self.echo(f"{where} interrupted ({failure}); trying again in {wait:.1f} s")

        worth_another = lambda exc: isinstance(exc, _Interrupted)  # noqa: E731
        policy = retry.retrying(worth_another, PUSH_ATTEMPTS, before_sleep=interrupted)
        try:
            return policy(once)
        except _Interrupted as last:
            raise UserError(f"{result.image}: push to {account.name} failed: {last}{tries()}") from None

    def _docker_push(
        self, registry: Registry, repository: str, result: BuildResult, account: str
    ) -> tuple[str | None, int, str]:
        """One docker push: (its error or None, layers it uploaded, the digest of the manifest stored)."""
        count, manifest = 0, ""
        for chunk in self.docker.api.push(
            repository,
            tag=str(result.build),
            auth_config=registry.credentials().docker_auth(),
            stream=True,
            decode=True,
        ):
            if "error" in chunk:
                return chunk["error"].strip(), count, manifest
            self.progress.push_chunk(f"{result.image}:{result.build} to {account}", chunk)
            if chunk.get("status") == "Pushed":
                count += 1
            if stored := (chunk.get("aux") or {}).get("Digest"):
                # The manifest the registry stored: the next run's listing names it, and so this content.
                self._contents.put(stored, result.digest)
                manifest = stored
        return None, count, manifest


# ---- what the tasks run -----------------------------------------------------------------------


def build_images(
    accounts: list[Account],
    names: Iterable[str] | None,
    force: bool,
    echo: Echo,
    progress: ImageProgress | None = None,
) -> list[BuildResult]:
    """`invoke build`: each named image (default: all) with the next number of the accounts' registries."""
    builder, specs = ImageBuilder(accounts, echo=echo, progress=progress), discover(names)
    builder.prefetch(specs)
    return [builder.build(spec, force=force) for spec in specs]


def push_images(
    accounts: list[Account], names: Iterable[str] | None, echo: Echo, progress: ImageProgress | None = None
) -> list[BuildResult]:
    """`invoke push`: the current build of each image to every account's registry."""
    builder = ImageBuilder(accounts, echo=echo, progress=progress)
    return [builder.push(builder.current(spec)) for spec in discover(names)]
