"""The docker engine: a client of the one that runs, and a lock on one of its tags."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from typing import Any

from .errors import ComponentMissing
from .settings import file_lock, paths


def docker_client() -> Any:
    import docker

    try:
        return docker.from_env(timeout=600)  # asks the engine its API version: none answering raises
    except Exception as exc:  # noqa: BLE001
        raise ComponentMissing(
            f"no docker engine answers ({exc.__class__.__name__}); start one: invoke local.up"
        ) from None


@contextlib.contextmanager
def engine_tag_lock(reference: str) -> Iterator[None]:
    """Hold a machine-wide lock on one engine tag (a file lock, so other processes wait too)."""
    name = f"tag-{hashlib.sha256(reference.encode()).hexdigest()[:32]}.lock"
    with file_lock(paths().home / "locks" / name):
        yield
