"""What an image is: a folder under images/, its build arguments, and a digest of its content.

Nothing here asks the docker engine or a registry, so images are named and checked before
either is reached.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from . import standins
from .errors import UserError
from .settings import Paths, paths

IMAGE_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
ARG_LINE = re.compile(r"^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S+))?", re.IGNORECASE | re.MULTILINE)
# What every build carries: OCI's labels, and the digest of everything that went into it.
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
        return local_repository(self.name)


def local_repository(image: str) -> str:
    """Where the engine keeps an image's builds: batchform/<image>:<build>."""
    return f"batchform/{image}"


def base_image_substitutes() -> dict[str, str]:
    """Public base images replaced on this machine by locally made ones (see standins)."""
    return {public: stand_in.image for public, stand_in in standins.load().items()}


def build_push_command(image: str, account: str) -> str:
    """The command that builds an image numbered for an account's registry and pushes it there:
    a flag belongs to the task before it, so each task is given the image and the account."""
    return f"invoke build --image {image} --account {account} push --image {image} --account {account}"


def discover(names: Iterable[str] | None = None, p: Paths | None = None) -> list[ImageSpec]:
    """The images under images/, or the named ones (an unknown name is an error)."""
    root = (p or paths()).images_dir
    found = (
        {d.name: d for d in sorted(root.iterdir()) if d.is_dir() and (d / "Dockerfile").is_file()}
        if root.is_dir()
        else {}
    )
    wanted = list(names) if names else list(found)
    substitutes = base_image_substitutes()
    specs = []
    for name in wanted:
        # fullmatch: `$` would let a trailing newline through. repr keeps the message one line.
        if not isinstance(name, str) or not IMAGE_NAME.fullmatch(name):
            raise UserError(f"image {name!r}: names are lowercase letters, digits and . _ - separators")
        if name not in found:
            raise UserError(f"unknown image {name!r} (known: {', '.join(found) or 'none'})")
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
    """The files docker sends as the build context: a .dockerignore pattern that matches a file,
    or a folder above it (`example/` or `example`), leaves the file out, as docker does."""
    patterns = [p.rstrip("/") for p in _ignored_patterns(context)]
    files = []
    for path in sorted(context.rglob("*")):
        parts = path.relative_to(context).parts
        enclosing = ["/".join(parts[:depth]) for depth in range(1, len(parts) + 1)]
        if path.is_file() and not any(fnmatch.fnmatch(rel, p) for rel in enclosing for p in patterns):
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


def bases(spec: ImageSpec) -> list[str]:
    """The images the Dockerfile's FROM lines name, with the build arguments applied."""
    refs = []
    for line in spec.dockerfile.read_text().splitlines():
        match = re.match(r"^\s*FROM\s+(\S+)", line, re.IGNORECASE)
        if not match:
            continue
        ref = match.group(1)
        for key, value in spec.build_args.items():
            ref = ref.replace(f"${{{key}}}", value).replace(f"${key}", value)
        if not ref.startswith("$") and ref != "scratch":
            refs.append(ref)
    return refs
