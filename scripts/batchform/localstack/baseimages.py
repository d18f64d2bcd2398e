"""Make base images locally, for machines that cannot pull from public registries.

Each image under images/ takes its base as a build argument with a public default
(`ARG BASE_IMAGE=busybox:1.36`, `python:3.12-slim-bookworm`). Where that default cannot be
pulled, this module builds a stand-in from the machine's own packages and records the
substitution in `<BATCHFORM_HOME>/base-images.yaml` with the registries it may serve (the
local stack's), which the images module applies at build time and checks at every push
(batchform.standins). Users with registry access never need it.

The Python stand-in is Debian bookworm made by debootstrap from the machine's Debian mirror,
with python3 and python3-boto3 (so images need not pip-install anything at build time).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import replace

from .. import standins
from ..errors import ComponentMissing
from ..images import docker_client
from ..settings import LocalStackSettings, file_lock, paths

Echo = Callable[[str], None]

BUSYBOX_PUBLIC = "busybox:1.36"
BUSYBOX_LOCAL = "batchform-base/busybox:1.36"


def _can_pull(client, reference: str) -> bool:  # noqa: ANN001
    import docker

    try:
        client.images.get(reference)
        return True
    except docker.errors.ImageNotFound:
        pass  # not here yet: try the public registry
    try:
        client.images.pull(reference)
        return True
    except Exception:  # noqa: BLE001
        return False


def _busybox_image(client) -> None:  # noqa: ANN001
    binary = shutil.which("busybox")
    if not binary:
        raise ComponentMissing(
            "busybox is needed to make a local base image (Debian: apt-get install busybox-static)"
        )
    dockerfile = b'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        tar.add(binary, arcname="busybox")
    buf.seek(0)
    client.images.build(fileobj=buf, custom_context=True, tag=BUSYBOX_LOCAL, rm=True)


PYTHON_PUBLIC = "python:3.12-slim-bookworm"
PYTHON_LOCAL = "batchform-base/debian-python3:bookworm"
DEBIAN_PACKAGES = "python3,python3-boto3,ca-certificates"
# What a container never needs and debootstrap leaves behind: package caches, docs, locales.
DEBIAN_PRUNE = ("var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale")


def _debian_python_image(client) -> None:  # noqa: ANN001
    debootstrap, tar = shutil.which("debootstrap"), shutil.which("tar")
    if not debootstrap or not tar:
        raise ComponentMissing(
            "debootstrap is needed to make a local Python base image (Debian: apt-get install debootstrap)"
        )
    if os.geteuid() != 0:
        raise ComponentMissing("making the local Python base image with debootstrap needs root")
    work = paths().home / "base-images"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        rootfs = os.path.join(tmp, "rootfs")
        try:
            subprocess.run(  # noqa: S603 - fixed argument list
                [debootstrap, "--variant=minbase", f"--include={DEBIAN_PACKAGES}", "bookworm", rootfs],
                check=True,
                capture_output=True,
                text=True,
            )
        except subprocess.CalledProcessError as exc:
            tail = " | ".join((exc.stdout + exc.stderr).strip().splitlines()[-3:])
            raise ComponentMissing(f"debootstrap failed: {tail}") from None
        for relative in DEBIAN_PRUNE:
            target = os.path.join(rootfs, relative)
            shutil.rmtree(target, ignore_errors=True)
            os.makedirs(target, exist_ok=True)
        archive = os.path.join(tmp, "rootfs.tar")
        subprocess.run([tar, "-C", rootfs, "-cf", archive, "."], check=True)  # noqa: S603
        repository, tag = PYTHON_LOCAL.rsplit(":", 1)
        client.api.import_image_from_file(
            archive,
            repository=repository,
            tag=tag,
            changes=['CMD ["python3"]', "ENV LANG=C.UTF-8"],
        )


RECIPES = {
    BUSYBOX_PUBLIC: (BUSYBOX_LOCAL, _busybox_image),
    PYTHON_PUBLIC: (PYTHON_LOCAL, _debian_python_image),
}


def ensure(echo: Echo = print, serves: str | None = None) -> dict[str, str]:
    """Make a local stand-in for every public base that cannot be pulled; return the substitutions.

    Each is recorded with the registries it may serve: the local stack's, and `serves` (another
    local stack's registry address) when given. Images built on it can go nowhere else.
    """
    registries = {LocalStackSettings.load().registry_address, *([serves] if serves else [])}
    client = docker_client()
    with file_lock(paths().home / "locks" / "base-images.lock"):
        recorded = standins.load()
        for public, (local, make) in RECIPES.items():
            known = recorded.get(public)
            if not (known and known.image == local and _can_pull(client, local)):
                if _can_pull(client, public):
                    recorded.pop(public, None)
                    continue
                echo(f"{public} cannot be pulled here; making {local} locally")
                make(client)
                known = None
            served = known.serves if known else frozenset()
            recorded[public] = standins.StandIn(public, local, served | registries)
        standins.save(recorded)
    return {public: stand_in.image for public, stand_in in recorded.items()}


def serve(registry: str) -> None:
    """Let the recorded stand-ins serve a registry (a local stack that has come up)."""
    with file_lock(paths().home / "locks" / "base-images.lock"):
        recorded = standins.load()
        if recorded:
            standins.save({p: replace(s, serves=s.serves | {registry}) for p, s in recorded.items()})


def withdraw(registry: str) -> None:
    """Stop the stand-ins serving a registry (a local stack that is going away)."""
    with file_lock(paths().home / "locks" / "base-images.lock"):
        recorded = standins.load()
        for public, stand_in in recorded.items():
            recorded[public] = replace(stand_in, serves=stand_in.serves - {registry})
        standins.save(recorded)
