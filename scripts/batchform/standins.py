"""Base-image stand-ins: locally made bases that replace public ones where those cannot be pulled.

The local stack makes them on an offline machine (batchform.localstack.baseimages) and records
each one in `<BATCHFORM_HOME>/base-images.yaml`, with the registries it may serve: the local
stack's own. A stand-in is not the image it replaces (the Python one is Debian made by
debootstrap), so an image built on one carries the label LABEL, naming the public bases it
replaced, and is refused by any registry the record does not list, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .errors import UserError
from .settings import paths, write_atomic

LABEL = "io.batchform.stand-in-for"


@dataclass(frozen=True)
class StandIn:
    public: str  # what a Dockerfile asks for: busybox:1.36
    image: str  # what the engine builds on instead: batchform-base/busybox:1.36
    serves: frozenset[str]  # registries (host[:port]) an image built on it may go to


def record_file() -> Path:
    return paths().home / "base-images.yaml"


def load(file: Path | None = None) -> dict[str, StandIn]:
    """The stand-ins recorded on this machine, by the public image each replaces."""
    file = file or record_file()
    try:
        seen = file.stat()
    except FileNotFoundError:
        return {}
    # Read again only when the file is another (it is only ever replaced whole, by `save`).
    return dict(_parsed(file, seen.st_ino, seen.st_mtime_ns, seen.st_size))


@lru_cache(maxsize=8)
def _parsed(file: Path, _inode: int, _mtime: int, _size: int) -> tuple[tuple[str, StandIn], ...]:
    found: dict[str, StandIn] = {}
    for public, entry in (yaml.safe_load(file.read_text()) or {}).items():
        if isinstance(entry, str):  # recorded without its registries: it may serve none
            found[public] = StandIn(public, entry, frozenset())
        else:
            found[public] = StandIn(public, entry["image"], frozenset(entry.get("serves") or ()))
    return tuple(found.items())


def save(stand_ins: Mapping[str, StandIn], file: Path | None = None) -> None:
    data = {s.public: {"image": s.image, "serves": sorted(s.serves)} for s in stand_ins.values()}
    write_atomic(file or record_file(), yaml.safe_dump(data, sort_keys=True))


def used_by(references: Iterable[str], stand_ins: Mapping[str, StandIn]) -> tuple[str, ...]:
    """The public images whose stand-ins are among these base references (FROM lines)."""
    wanted = set(references)
    return tuple(sorted(s.public for s in stand_ins.values() if s.image in wanted))


def label_value(publics: Iterable[str]) -> str:
    return ",".join(sorted(set(publics)))


def from_labels(labels: Mapping[str, str] | None) -> tuple[str, ...]:
    value = (labels or {}).get(LABEL) or ""
    return tuple(sorted({p for p in value.split(",") if p}))


def registry_host(account: Any) -> str:
    """The registry an account's images go to, as the record names it: host[:port], no path."""
    return account.registry.split("/", 1)[0]


def check(image: str, publics: Iterable[str], accounts: Iterable[Any], action: str = "push it to") -> None:
    """Refuse, in one line, an image built on a stand-in for any account whose registry it may not serve."""
    publics = sorted(set(publics))
    if not publics:
        return
    record = load()
    for account in accounts:
        host = registry_host(account)
        for public in publics:
            stand_in = record.get(public)
            if stand_in is None or host not in stand_in.serves:
                raise UserError(
                    f"image {image} is built on a local stand-in for {public} (made offline for the local "
                    f"stack); build it where {public} can be pulled to {action} account {account.name}"
                )
