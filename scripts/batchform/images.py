"""Build the images under images/, number them, and push them to accounts' registries.

Build numbers are plain integers (41, 42, ...). The next one comes from the registries
themselves -- the highest numeric tag among the target accounts, plus one -- so two machines
agree without sharing a file. Every image carries OCI labels (version, revision, created,
source) and a content digest over everything that goes into it, which is how an unchanged
image is recognised and its existing build number reused.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .accounts import Account
from .errors import ComponentMissing, UserError
from .registry import Registry, utc_now
from .settings import paths

Echo = Callable[[str], None]

IMAGE_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
ARG_LINE = re.compile(r"^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S+))?", re.IGNORECASE | re.MULTILINE)
LABEL_DIGEST = "io.batchform.content-digest"
LABEL_VERSION = "org.opencontainers.image.version"
LABEL_REVISION = "org.opencontainers.image.revision"
LABEL_CREATED = "org.opencontainers.image.created"
LABEL_SOURCE = "org.opencontainers.image.source"


@dataclass(frozen=True)
class ImageSpec:
    """One folder under images/: a Dockerfile and its build context."""

    name: str
    context: Path
    build_args: dict[str, str] = field(default_factory=dict)

    @property
    def dockerfile(self) -> Path:
        return self.context / "Dockerfile"

    @property
    def local_repository(self) -> str:
        return f"batchform/{self.name}"


def base_image_substitutes() -> dict[str, str]:
    """Public base images replaced on this machine by locally made ones (see baseimages)."""
    file = paths().home / "base-images.yaml"
    if not file.exists():
        return {}
    return dict(yaml.safe_load(file.read_text()) or {})


def discover(names: Iterable[str] | None = None) -> list[ImageSpec]:
    """The images under images/, or the named ones (an unknown name is an error)."""
    root = paths().images_dir
    found = (
        {d.name: d for d in sorted(root.iterdir()) if d.is_dir() and (d / "Dockerfile").is_file()}
        if root.is_dir()
        else {}
    )
    wanted = list(names) if names else list(found)
    substitutes = base_image_substitutes()
    specs = []
    for name in wanted:
        if not IMAGE_NAME.match(name or ""):
            raise UserError(f"image '{name}': names are lowercase letters, digits and . _ - separators")
        if name not in found:
            raise UserError(f"unknown image '{name}' (known: {', '.join(found) or 'none'})")
        args = {}
        for arg, default in ARG_LINE.findall(found[name].joinpath("Dockerfile").read_text()):
            if default and default in substitutes:
                args[arg] = substitutes[default]
        specs.append(ImageSpec(name=name, context=found[name], build_args=args))
    return specs


def _ignored_patterns(context: Path) -> list[str]:
    ignore = context / ".dockerignore"
    if not ignore.exists():
        return []
    return [ln.strip() for ln in ignore.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def context_files(context: Path) -> list[Path]:
    patterns = _ignored_patterns(context)
    files = []
    for path in sorted(context.rglob("*")):
        rel = path.relative_to(context).as_posix()
        if path.is_file() and not any(fnmatch.fnmatch(rel, p) for p in patterns):
            files.append(path)
    return files


def content_digest(spec: ImageSpec, base_ids: dict[str, str]) -> str:
    """sha256 over every build input: files (path, mode, bytes), build args, base image ids.

    Nothing volatile (time, build number, git commit) goes in, so an unchanged image has an
    unchanged digest on any machine.
    """
    h = hashlib.sha256()
    for path in context_files(spec.context):
        rel = path.relative_to(spec.context).as_posix()
        h.update(f"file {rel} {path.stat().st_mode & 0o111:o}\n".encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    for key, value in sorted(spec.build_args.items()):
        h.update(f"arg {key}={value}\n".encode())
    for ref, image_id in sorted(base_ids.items()):
        h.update(f"base {ref} {image_id}\n".encode())
    return "sha256:" + h.hexdigest()


def git_revision() -> str:
    """The commit images are built from (the OCI revision label), or "unknown" outside a checkout."""
    git = shutil.which("git")
    if git is None:
        return "unknown"
    try:
        out = subprocess.run(  # noqa: S603 - fixed argument list
            [git, "rev-parse", "HEAD"], cwd=paths().root, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def docker_client() -> Any:
    import docker

    try:
        client = docker.from_env(timeout=600)
        client.ping()
        return client
    except Exception as exc:  # noqa: BLE001
        raise ComponentMissing(
            f"no docker engine answers ({exc.__class__.__name__}); start one: invoke local.up"
        ) from None


@dataclass
class BuildResult:
    image: str
    build: int
    reused: bool
    local_tag: str
    digest: str


class ImageBuilder:
    """Build and push images for a set of target accounts."""

    def __init__(self, accounts: list[Account], echo: Echo | None = None):
        self.accounts = accounts
        self.echo = echo or print
        self.docker = docker_client()
        self.registries = {a.name: Registry(a) for a in accounts}

    def _base_ids(self, spec: ImageSpec) -> dict[str, str]:
        ids = {}
        for line in spec.dockerfile.read_text().splitlines():
            match = re.match(r"^\s*FROM\s+(\S+)", line, re.IGNORECASE)
            if not match:
                continue
            ref = match.group(1)
            for key, value in spec.build_args.items():
                ref = ref.replace(f"${{{key}}}", value).replace(f"${key}", value)
            if ref.startswith("$") or ref == "scratch":
                continue
            try:
                ids[ref] = self.docker.images.get(ref).id
            except Exception:  # noqa: BLE001 - not local yet: the reference itself stands in
                ids[ref] = ref
        return ids

    def builds(self, image: str) -> dict[str, list[int]]:
        """Numeric builds of an image in each target registry, newest first (one listing each)."""
        return {name: registry.builds(image) for name, registry in self.registries.items()}

    def newest(self, spec: ImageSpec, digest: str) -> tuple[int, str | None, bool]:
        """(newest build in the target registries or 0, an account holding it, same content?)."""
        builds = self.builds(spec.name)
        newest = max((found[0] for found in builds.values() if found), default=0)
        if not newest:
            return 0, None, False
        holder = next(name for name, found in builds.items() if newest in found)
        labels = self.registries[holder].config_labels(spec.name, newest)
        return newest, holder, labels.get(LABEL_DIGEST) == digest

    def build(self, spec: ImageSpec, force: bool = False) -> BuildResult:
        digest = content_digest(spec, self._base_ids(spec))
        newest, _holder, unchanged = self.newest(spec, digest)
        if unchanged and not force:
            self.echo(f"{spec.name}: unchanged since build {newest}, reusing it")
            return BuildResult(spec.name, newest, True, f"{spec.local_repository}:{newest}", digest)
        number = newest + 1
        local_tag = f"{spec.local_repository}:{number}"
        labels = {
            LABEL_VERSION: str(number),
            LABEL_REVISION: git_revision(),
            LABEL_CREATED: utc_now(),
            LABEL_SOURCE: f"images/{spec.name}",
            LABEL_DIGEST: digest,
        }
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
        for chunk in stream:
            if "error" in chunk:
                raise UserError(f"{spec.name}: docker build failed: {chunk['error'].strip()}")
        return BuildResult(spec.name, number, False, local_tag, digest)

    def current(self, spec: ImageSpec) -> BuildResult:
        """The build of this image's current content: a local one, else the registries' newest."""
        digest = content_digest(spec, self._base_ids(spec))
        local = []
        for image in self.docker.images.list(name=spec.local_repository):
            if (image.labels or {}).get(LABEL_DIGEST) == digest:
                local += [int(t.rsplit(":", 1)[1]) for t in image.tags if t.rsplit(":", 1)[1].isdigit()]
        if local:
            number = max(local)
            return BuildResult(spec.name, number, False, f"{spec.local_repository}:{number}", digest)
        newest, holder, unchanged = self.newest(spec, digest)
        if unchanged and holder is not None:
            reference = self.registries[holder].reference(spec.name, newest)
            return BuildResult(spec.name, newest, True, reference, digest)
        raise UserError(f"{spec.name}: no build of its current content; run invoke build first")

    def push(self, result: BuildResult) -> dict[str, int]:
        """Push one build to every target account; returns layers uploaded per account."""
        uploaded: dict[str, int] = {}
        present = self.builds(result.image)
        for account in self.accounts:
            registry = self.registries[account.name]
            if result.build in present[account.name]:
                self.echo(f"{result.image}:{result.build} already in {account.name}'s registry")
                uploaded[account.name] = 0
                continue
            try:
                image = self.docker.images.get(result.local_tag)
            except Exception:  # noqa: BLE001 - built elsewhere: fetch it from a registry that has it
                source = self.registries[
                    next(name for name, found in present.items() if result.build in found)
                ]
                image = self.docker.images.pull(
                    source.reference(result.image),
                    tag=str(result.build),
                    auth_config=source.credentials().docker_auth(),
                )
            repository = registry.reference(result.image)
            image.tag(repository, tag=str(result.build))
            count = 0
            try:
                for chunk in self.docker.api.push(
                    repository,
                    tag=str(result.build),
                    auth_config=registry.credentials().docker_auth(),
                    stream=True,
                    decode=True,
                ):
                    if "error" in chunk:
                        raise UserError(f"{result.image}: push to {account.name} failed: {chunk['error']}")
                    if chunk.get("status") == "Pushed":
                        count += 1
            finally:
                self.docker.api.remove_image(f"{repository}:{result.build}", noprune=True)
            uploaded[account.name] = count
            self.echo(f"{result.image}:{result.build} pushed to {account.name} ({count} layers uploaded)")
        return uploaded
