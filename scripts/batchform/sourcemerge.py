"""Images and jobs declared once, in `_shared.yaml` beside the account sources, run by the
accounts that name them, each saying only what differs.

The merge, in full:

* shared top-level settings (compute, queue, tags, tables, ...) are every account's starting point;
* an account runs exactly the images and jobs its own source names (`hello: {build: 3}`,
  `csv-stats: {}`); a shared declaration of that name is the start of each entry;
* where both say something, the account wins: mappings merge key by key, at every depth;
  lists and scalars are replaced whole.

Every value of the result knows the file it came from (`Origins`), so a refusal names the file
that holds the value, and `render --explain` shows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError
from .sources import JOB_DEFAULTS, SETTINGS, validate_source
from .sourcesettings import check_mapping

SHARED_SOURCE = "_shared.yaml"
# The key a refusal names, right after its file: "local.yaml: jobs.x.memory: must be ...".
_REFUSAL = re.compile(r"^(?P<file>[^:]+): (?P<key>[^:\s]+)(?P<rest>:.*)$", re.DOTALL)
_INDEX = re.compile(r"\[[0-9]+\]")


@dataclass
class Origins:
    """The file each value of a merged source came from, by dotted key (`jobs.x.memory`)."""

    default: str
    files: dict[str, str] = field(default_factory=dict)

    def of(self, key: str) -> str:
        """The file of `key`, or of the nearest enclosing key that has one."""
        parts = _INDEX.sub("", key).split(".")
        for depth in range(len(parts), 0, -1):
            found = self.files.get(".".join(parts[:depth]))
            if found:
                return found
        return self.default

    def mark(self, key: str, value: Any, file: str) -> None:
        self.files[key] = file
        if isinstance(value, dict):
            for child, inner in value.items():
                self.mark(f"{key}.{child}", inner, file)


def _merged(base: Any, over: Any, key: str, origins: Origins, files: tuple[str, str]) -> Any:
    """`over` on top of `base`: mappings by key, all else replaced; marks where each value is from."""
    shared, own = files
    if isinstance(base, dict) and isinstance(over, dict):
        result = dict(base)
        origins.mark(key, base, shared)
        origins.files[key] = own
        for child, value in over.items():
            place = f"{key}.{child}"
            if child in base:
                result[child] = _merged(base[child], value, place, origins, files)
            else:
                result[child] = value
                origins.mark(place, value, own)
        return result
    origins.mark(key, over, own)
    return over


def _entries(where: str, value: Any) -> dict[str, Any]:
    """A mapping, where nothing under a key (`csv-stats:`) is an empty one."""
    return check_mapping(where, {} if value is None else value)


def merge(shared: dict[str, Any], own: dict[str, Any], own_file: str) -> tuple[dict[str, Any], Origins]:
    """The account's effective source: its own file on top of the shared declarations."""
    files = (SHARED_SOURCE, own_file)
    origins = Origins(default=own_file)
    result: dict[str, Any] = {}
    for key in SETTINGS:
        if key in own and key in shared:
            result[key] = _merged(shared[key], own[key], key, origins, files)
        elif key in shared:
            result[key] = shared[key]
            origins.mark(key, shared[key], SHARED_SOURCE)
        elif key in own:
            result[key] = own[key]
            origins.mark(key, own[key], own_file)
    for section in ("images", "jobs"):
        declared = _entries(f"{SHARED_SOURCE}: {section}", shared.get(section))
        chosen = _entries(f"{own_file}: {section}", own.get(section))
        merged: dict[str, Any] = {}
        for name, entry in chosen.items():
            place = f"{section}.{name}"
            entry = _entries(f"{own_file}: {place}", entry)
            if name in declared:
                merged[name] = _merged(declared[name] or {}, entry, place, origins, files)
            else:
                merged[name] = entry
                origins.mark(place, entry, own_file)
        if section in own or merged:
            result[section] = merged
    result.update({key: value for key, value in own.items() if key not in result})  # refused later
    images = result.get("images") or {}
    for name, entry in (result.get("jobs") or {}).items():
        image = entry.get("image")
        if (
            isinstance(image, str)
            and image not in images
            and origins.of(f"jobs.{name}.image") == SHARED_SOURCE
        ):
            raise ConfigError(
                f"{own_file}: jobs.{name}: runs image {image}, which this account does not run; "
                f"add images.{image}.build"
            )
    return result, origins


def blame(exc: ConfigError, origins: Origins) -> ConfigError:
    """The refusal of a merged source, naming the file that holds the refused value."""
    found = _REFUSAL.match(str(exc))
    if not found:
        return exc
    return ConfigError(f"{origins.of(found['key'])}: {found['key']}{found['rest']}")


def check_shared(data: Any) -> dict[str, Any]:
    """The shared declarations, refused as an account source would be, less what only an
    account can say (a build number). They stand on their own: a shared job's image and tables
    are shared declarations too."""
    data = _entries(SHARED_SOURCE, data)
    images = _entries(f"{SHARED_SOURCE}: images", data.get("images"))
    for image, entry in images.items():
        if isinstance(entry, dict) and "build" in entry:
            raise ConfigError(
                f"{SHARED_SOURCE}: images.{image}.build: a build is each account's own; "
                "set it in the sources of the accounts that run the image"
            )
    # As if an account ran every shared image (any build will do: none is rendered from here).
    placeholder = {
        name: {**_entries(f"{SHARED_SOURCE}: images.{name}", entry), "build": 1}
        for name, entry in images.items()
    }
    validate_source(SHARED_SOURCE, {**data, "images": placeholder})
    return data


@dataclass(frozen=True)
class Explained:
    """One value of a job's effective declaration and the file it came from."""

    key: str
    value: Any
    source: str


def _leaves(key: str, value: Any) -> list[tuple[str, Any]]:
    """A value's leaves by dotted key: mappings are walked, lists and scalars are leaves."""
    if isinstance(value, dict) and value:
        return [leaf for child in sorted(value) for leaf in _leaves(f"{key}.{child}", value[child])]
    return [(key, value)]


def explain(merged: dict[str, Any], origins: Origins) -> dict[str, list[Explained]]:
    """Each job's effective declaration, value by value, with the file of each (`default` for
    what terraform's defaults give)."""
    result = {}
    for job, entry in (merged.get("jobs") or {}).items():
        prefix = f"jobs.{job}."
        rows = [
            Explained(key.removeprefix(prefix), value, origins.of(key))
            for name in entry
            for key, value in _leaves(prefix + name, entry[name])
        ]
        image = (merged.get("images") or {}).get(entry.get("image"), {})
        if "build" in image:
            rows.append(Explained("build", image["build"], origins.of(f"images.{entry['image']}.build")))
        rows += [Explained(key, value, "default") for key, value in JOB_DEFAULTS.items() if key not in entry]
        result[job] = sorted(rows, key=lambda row: row.key)
    return result
