"""Command-line values of `submit`: its flags' text parsed into the typed values a request holds.

Each refusal names the flag it came from (`--env`, `--param`, `--tag`, `--depends-on`, `--each`),
in one line; the request itself is checked by `jobs.validate`, whose refusals name the request's
fields: `FLAGS` is what each field is called on the command line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from ..errors import FieldError, UserError
from ..jobs.limits import DEPENDENCY_TYPES, check_env_name
from ..jobs.requests import shown

# The flag (or argument) of the command line that sets each field a FieldError may name.
FLAGS = {
    "name": "--name",
    "env": "--env",
    "params": "--param",
    "command": "--command",
    "array_size": "--array-size",
    "depends_on": "--depends-on",
    "tags": "--tag",
    "timeout": "--timeout",
    "retries": "--retries",
    "items": "--each",
    "share": "--share",
    "priority": "--priority",
    "queue": "--queue",
    "vcpus": "--vcpus",
    "memory": "--memory",
    "gpus": "--gpus",
    "token": "--token",
    "statuses": "--status",
    "job_id": "JOB_ID",
}


def message(exc: UserError) -> str:
    """What the command line says of `exc`: a FieldError names flags, not fields."""
    return exc.render(FLAGS) if isinstance(exc, FieldError) else str(exc)


def parse_env(pairs: Iterable[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise UserError(f"--env {pair!r}: expected NAME=VALUE")
        try:
            check_env_name(name)
        except FieldError as exc:
            raise UserError(message(exc)) from None
        env[name] = value
    return env


def parse_pairs(pairs: Iterable[str], what: str) -> dict[str, str]:
    """`KEY=VALUE` values of the flag `what` (`--param`, `--tag`); a later key wins."""
    found: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UserError(f"{what} {pair!r}: expected KEY=VALUE")
        if not key:
            raise UserError(f"{what} {pair!r}: empty key")
        found[key] = value
    return found


def parse_depends_on(values: Iterable[str]) -> list[tuple[str, str | None]]:
    """`JOBID`, `JOBID:N_TO_N`, or `SEQUENTIAL` (which names no job) -> (job id, type)."""
    found: list[tuple[str, str | None]] = []
    for value in values:
        text = value.strip()
        if text.upper() == "SEQUENTIAL":
            found.append(("", "SEQUENTIAL"))
            continue
        head, sep, tail = text.rpartition(":")
        kind: str | None = None
        job_id = text
        if sep and tail.upper() in DEPENDENCY_TYPES:
            job_id, kind = head, tail.upper()
        elif sep and not tail.isdigit():  # `JOBID:3` is a child of an array job, not a type
            raise UserError(f"--depends-on {shown(value)}: expected JOBID, JOBID:N_TO_N or SEQUENTIAL")
        if kind == "SEQUENTIAL":
            raise UserError(
                f"--depends-on {shown(value)}: SEQUENTIAL names no job; give --depends-on SEQUENTIAL"
            )
        if not job_id:
            raise UserError(f"--depends-on {value!r}: no job id")
        found.append((job_id, kind))
    return found


def load_items(path: str | Path) -> list[str]:
    """The items of `--each FILE`: a JSON array, or one item per non-empty line.

    Items of a JSON array that are not strings become their compact JSON text. A line's
    surrounding whitespace is dropped.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"--each {path}: no such file") from None
    except UnicodeDecodeError:
        raise UserError(f"--each {path}: not UTF-8 text") from None
    except OSError as exc:
        raise UserError(f"--each {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if path.suffix.lower() == ".json":
            raise UserError(f"--each {path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        data = None
    if isinstance(data, list):
        items = [v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for v in data]
    elif path.suffix.lower() == ".json":
        raise UserError(f"--each {path}: a JSON file of items must hold an array")
    else:
        items = [line.strip() for line in text.splitlines() if line.strip()]
    if not items:
        raise UserError(f"--each {path}: no items")
    return items
