"""The submission journal: what each token's submits recorded, shared by every process of a user.

`<BATCHFORM_HOME>/journal/<account>.jsonl` holds one JSON line per record: `submitting`
(with the job name) before SubmitJob and `submitted` (with the job id) after. It is read by
token, compacted to the recent records when it grows, and safe against a crash mid-line.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..settings import fsync_dir

JOURNAL_COMPACT_BYTES = 1 << 20
JOURNAL_KEEP_SECONDS = 86_400.0


def _record_at(line: str) -> float:
    try:
        at = json.loads(line).get("at")
    except (ValueError, AttributeError):
        return float("-inf")
    return at if isinstance(at, int | float) else float("-inf")


class Journal:
    """Submissions of one account as JSON lines, appended by any number of processes.

    A lock file rather than the journal itself is locked, so that compaction can replace the
    journal without a writer waiting on the old file appending to a file no one reads.
    """

    def __init__(self, path: Path, keep_seconds: float = JOURNAL_KEEP_SECONDS):
        self.path = path
        self.keep_seconds = keep_seconds
        self._lock_path = path.with_name(path.name + ".lock")

    @contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, record: dict[str, Any]) -> None:
        """Add `record`, on disk when this returns."""
        line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
        with self._locked(exclusive=True):
            created = not self.path.exists()
            with open(self.path, "a+b") as journal:
                journal.seek(0, os.SEEK_END)
                if journal.tell():
                    journal.seek(-1, os.SEEK_END)
                    if journal.read(1) != b"\n":  # a line cut short by a crash must not swallow this one
                        line = "\n" + line
                journal.write(line.encode())
                journal.flush()
                os.fsync(journal.fileno())
                size = journal.tell()
            if created:
                fsync_dir(self.path.parent)
            if size > JOURNAL_COMPACT_BYTES:
                since = float(record.get("at", time.time())) - self.keep_seconds
                # Only when the oldest record has aged out: a journal that is big with recent
                # records alone would otherwise be rewritten on every append.
                if self._oldest_at() < since:
                    self._compact(since)

    def records(self, token: str, since: float) -> list[dict[str, Any]]:
        """The records of `token` written at `since` or later, oldest first."""
        with self._locked(exclusive=False):
            try:
                text = self.path.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                return []
        found = []
        # Records are written with sorted keys and compact separators, so a token's lines all
        # contain this text; only those are parsed (the journal holds every recent submit).
        marker = json.dumps({"token": token}, separators=(",", ":"))[1:-1]
        for line in text.splitlines():
            if marker not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if (
                isinstance(record, dict)
                and record.get("token") == token
                and isinstance(record.get("at"), int | float)
                and record["at"] >= since
            ):
                found.append(record)
        return found

    def _oldest_at(self) -> float:
        with open(self.path, encoding="utf-8", errors="replace") as journal:
            for line in journal:
                if line.strip():
                    return _record_at(line)
        return float("inf")

    def _compact(self, since: float) -> None:
        keep = [line for line in self.path.read_text().splitlines(keepends=True) if _record_at(line) >= since]
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w") as out:
            out.writelines(keep)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)
