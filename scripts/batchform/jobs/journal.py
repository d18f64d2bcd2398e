"""The submission journal: what each token's submits recorded, shared by every process of a user.

`<BATCHFORM_HOME>/journal/<account>.jsonl` holds one JSON line per record: `submitting`
(with the job name) before SubmitJob and `submitted` (with the job id) after. It is read by
token, compacted to the recent records when it grows, and safe against a crash mid-line.

Every record is in the file (the kernel's page cache) before `append` returns, so a killed
process loses none. What a crash of the machine may lose is bounded instead: a durable record
is forced onto the disk when the journal has not been for `SYNC_SECONDS`, so the first submit
of a process (every command-line submit) is on disk before its SubmitJob, and a loop of many
submits pays one fsync a second rather than one a job.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..settings import fsync_dir

JOURNAL_COMPACT_BYTES = 1 << 20
JOURNAL_KEEP_SECONDS = 86_400.0
SYNC_SECONDS = 1.0  # at most this much of durable records is only in memory


def _close(fds: dict[str, int]) -> None:
    for fd in fds.values():
        os.close(fd)
    fds.clear()


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


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

    The files stay open between calls, and the records read so far are kept by token: a read
    parses only the lines appended since the last one, however long the journal has grown. The
    journal read is held open, so that a journal replaced by compaction is never mistaken for
    it (its inode cannot be reused while open).
    """

    def __init__(self, path: Path, keep_seconds: float = JOURNAL_KEEP_SECONDS):
        self.path = path
        self.keep_seconds = keep_seconds
        self._lock_path = path.with_name(path.name + ".lock")
        # flock does not tell apart threads using one open file: they take turns on this first.
        self._mutex = threading.Lock()
        self._pid = -1
        self._fds: dict[str, int] = {}  # "lock", "writer", "reader": this process's open files
        weakref.finalize(self, _close, self._fds)
        self._offset = 0  # bytes of the reader's file indexed so far: whole lines only
        self._by_token: dict[str, list[dict[str, Any]]] = {}
        self._synced_at = float("-inf")

    def _open(self, role: str, path: Path, flags: int) -> int:
        fd = self._fds.get(role)
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        if fd is not None and current is not None and _same_file(os.fstat(fd), current):
            return fd
        if fd is not None:
            os.close(fd)
            del self._fds[role]
        if role == "reader":
            self._offset, self._by_token = 0, {}
        try:
            fd = os.open(path, flags | os.O_CLOEXEC, 0o666)
        except FileNotFoundError:
            if not flags & os.O_CREAT:
                raise
            path.parent.mkdir(parents=True, exist_ok=True)  # removed since: made again, as on first use
            fd = os.open(path, flags | os.O_CLOEXEC, 0o666)
        self._fds[role] = fd
        return fd

    @contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        with self._mutex:
            if self._pid != os.getpid():  # forked: the parent's open files are not ours to lock with
                _close(self._fds)  # our copies only: the parent's locks and files stay as they are
                self._offset, self._by_token = 0, {}
                self._pid = os.getpid()
            lock = self._open("lock", self._lock_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, record: dict[str, Any], durable: bool = True) -> None:
        """Add `record`: in the journal when this returns, whatever happens to the process after.

        `durable`: on the disk too, unless the journal was synced less than SYNC_SECONDS ago.
        """
        line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
        with self._locked(exclusive=True):
            created = not self.path.exists()
            journal = self._open("writer", self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND)
            size = os.fstat(journal).st_size
            if size and os.pread(journal, 1, size - 1) != b"\n":
                line = b"\n" + line  # a line cut short by a crash must not swallow this one
            written = 0
            while written < len(line):
                written += os.write(journal, line[written:])
            if durable and time.monotonic() - self._synced_at >= SYNC_SECONDS:
                os.fsync(journal)
                self._synced_at = time.monotonic()
            if created:
                fsync_dir(self.path.parent)
            if size + len(line) > JOURNAL_COMPACT_BYTES:
                since = float(record.get("at", time.time())) - self.keep_seconds
                # Only when the oldest record has aged out: a journal that is big with recent
                # records alone would otherwise be rewritten on every append.
                if self._oldest_at() < since:
                    self._compact(since)

    def records(self, token: str, since: float) -> list[dict[str, Any]]:
        """The records of `token` written at `since` or later, oldest first."""
        with self._locked(exclusive=False):
            if not self.path.exists():
                return []
            self._catch_up()
            return [dict(r) for r in self._by_token.get(token, ()) if r["at"] >= since]

    def _catch_up(self) -> None:
        """Index the whole lines appended since the last read (a line still cut short waits)."""
        reader = self._open("reader", self.path, os.O_RDONLY)
        size = os.fstat(reader).st_size
        if size < self._offset:  # truncated by hand: read it again from the start
            self._offset, self._by_token = 0, {}
        data = os.pread(reader, size - self._offset, self._offset)
        end = data.rfind(b"\n") + 1
        for line in data[:end].splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if (
                isinstance(record, dict)
                and isinstance(record.get("token"), str)
                and isinstance(record.get("at"), int | float)
            ):
                self._by_token.setdefault(record["token"], []).append(record)
        self._offset += end

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
