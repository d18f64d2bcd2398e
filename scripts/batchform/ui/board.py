"""What the dashboard shows, read from AWS once for every open page.

One `QueuePoller` per account and queue lists and describes that queue's jobs in the background;
pages read its latest snapshot and make no AWS call of their own, so ten open pages cost what
one does. A round lists the queue's jobs of every status at once (a filtered ListJobs) and
describes only the jobs that are new or not final yet (a final job does not change), so it
makes at most ceil(N/100) DescribeJobs calls for N jobs. A throttled or failing round is tried
again after twice the wait of the one before (from twice the poll interval, up to a minute), and
the interval comes back with the first round that succeeds.

What is read once in a while (the releases matrix, the queues and compute environments, an
array's children) goes through `Shared`: one reader at a time, the others served its result
while it is fresh.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .. import jobs
from ..accounts import Account, Accounts
from ..errors import UserError
from ..poll import FINAL_STATES, Poller, is_transient

log = logging.getLogger("batchform.ui")

POLL_SECONDS = 3.0
SHARED_SECONDS = 10.0  # how long a releases matrix, a queue listing or an array's children stay fresh
STUCK_SECONDS = 300.0  # a job RUNNABLE for longer is flagged, with its reason
MAX_BACKOFF_SECONDS = 60.0  # a throttled poller waits twice as long after each failed round, up to this


@dataclass
class Snapshot:
    """A queue's jobs as last read: job id => DescribeJobs entry, with when each status was seen."""

    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # job id => [(status, epoch s)]
    read_at: float | None = None
    error: str | None = None


class QueuePoller(Poller):
    """Keeps one queue's snapshot fresh, in a thread of its own, until stop()."""

    def __init__(
        self,
        account: Account,
        queue: str,
        interval: float = POLL_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ):
        super().__init__(sleep, clock)
        self.account, self.queue, self.interval = account, queue, interval
        self.batch = account.client("batch", retries=False)  # this loop is the only retry
        self.snapshot = Snapshot()
        self.failures = 0
        # One round at a time: a refresh asked for by a page (after a cancel) waits for the
        # background round, so an older read never replaces a newer one.
        self._round = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"poll {self.queue}", daemon=True)
        self._thread.start()

    def run(self) -> None:
        while not self.stopped:
            self._pause(self.poll_once())

    def poll_once(self) -> float:
        """One round; returns how long to wait before the next."""
        with self._round:
            return self._poll()

    def _poll(self) -> float:
        try:
            self._read()
        except (ClientError, BotoCoreError) as exc:
            self.snapshot.error = _error_text(exc)
            if not is_transient(exc):
                self.failures = 0
                return self.interval * 10  # access denied, a deleted queue: ask again, but seldom
            self.failures += 1
            log.info("%s: %s, trying again later", self.queue, self.snapshot.error)
            return min(MAX_BACKOFF_SECONDS, self.interval * 2**self.failures)
        self.failures = 0
        return self.interval

    def _read(self) -> None:
        listed = jobs.queue_summaries(self.batch, self.queue, jobs.LOOKUP_STATUSES)
        previous = self.snapshot.jobs
        stale = [
            job_id
            for job_id, summary in listed.items()
            if job_id not in previous
            or previous[job_id].get("status") not in FINAL_STATES
            or previous[job_id].get("status") != summary.get("status")
        ]
        fresh = jobs.describe(self.batch, stale)
        now = self._clock()
        current = {
            job_id: fresh.get(job_id) or previous.get(job_id) or summary for job_id, summary in listed.items()
        }
        seen = {job_id: list(self.snapshot.seen.get(job_id, [])) for job_id in current}
        for job_id, job in current.items():
            status = job.get("status", "")
            if not seen[job_id] or seen[job_id][-1][0] != status:
                seen[job_id].append((status, now))
        self.snapshot = Snapshot(current, seen, now, None)


class Shared:
    """A value read at most once per `ttl` seconds, however many callers ask at once."""

    def __init__(
        self,
        read: Callable[[], Any],
        ttl: float = SHARED_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._read, self._ttl, self._clock = read, ttl, clock
        self._lock = threading.Lock()
        self._value: Any = None
        self._at: float | None = None

    def get(self) -> Any:
        with self._lock:
            if self._at is None or self._clock() - self._at >= self._ttl:
                self._value = self._read()
                self._at = self._clock()
            return self._value

    def forget(self) -> None:
        with self._lock:
            self._at = None


@dataclass
class AccountView:
    """One account on the board: its queues' pollers, or why it has none."""

    account: Account
    pollers: dict[str, QueuePoller] = field(default_factory=dict)  # queue ARN => poller
    problem: str | None = None  # e.g. nothing deployed yet


class Board:
    """Every shown account's pollers and shared reads; one per server."""

    def __init__(
        self,
        accounts: Iterable[Account],
        interval: float = POLL_SECONDS,
        matrix: Callable[[list[str]], list[Any]] | None = None,
        queues: dict[str, list[str]] | None = None,
    ):
        """`queues`: account name => the queue ARNs to poll (default: those its declared jobs
        go to, from terraform's outputs)."""
        self.views: dict[str, AccountView] = {}
        self.interval = interval
        for account in accounts:
            view = AccountView(account)
            try:
                polled = (queues or {}).get(account.name) or jobs.account_queues(account)
                view.pollers = {q: QueuePoller(account, q, interval) for q in polled}
            except UserError as exc:
                view.problem = str(exc)
            self.views[account.name] = view
        names = list(self.views)
        self._matrix = Shared(lambda: (matrix or _matrix)(names))
        self._queues = {name: Shared(lambda v=view: _queues(v)) for name, view in self.views.items()}
        self._children: dict[tuple[str, str], Shared] = {}
        self._singles: dict[tuple[str, str], Shared] = {}
        self._lock = threading.Lock()

    @classmethod
    def of(cls, names: list[str] | None = None, interval: float = POLL_SECONDS) -> Board:
        """The named accounts (default: every declared one)."""
        return cls(Accounts().select(names or ["all"]), interval)

    def start(self) -> None:
        for view in self.views.values():
            for poller in view.pollers.values():
                poller.start()

    def stop(self) -> None:
        for view in self.views.values():
            for poller in view.pollers.values():
                poller.stop()

    def refresh(self) -> None:
        """One round of every poller, now (a test's or a benchmark's way to wait for nothing)."""
        for view in self.views.values():
            for poller in view.pollers.values():
                poller.poll_once()

    def refresh_job(self, name: str, job_id: str) -> None:
        """Read a job again now (after cancelling it): its queue's poller, or its own read."""
        for poller in self.account(name).pollers.values():
            if job_id in poller.snapshot.jobs:
                poller.poll_once()
        for table in (self._singles, self._children):
            if (name, job_id) in table:
                table[(name, job_id)].forget()

    # ---- what the pages read -----------------------------------------------------------------
    def account(self, name: str) -> AccountView:
        try:
            return self.views[name]
        except KeyError:
            raise UserError(f"no account {name} on this board") from None

    def jobs(self) -> list[dict[str, Any]]:
        """Every polled job, each with `account` and `queueName`, newest first."""
        rows = []
        for name, view in self.views.items():
            for poller in view.pollers.values():
                for job in poller.snapshot.jobs.values():
                    rows.append({**job, "account": name, "queueName": _short(poller.queue)})
        return sorted(rows, key=lambda job: job.get("createdAt", 0), reverse=True)

    def job(self, name: str, job_id: str) -> dict[str, Any] | None:
        """A job's DescribeJobs entry: the pollers' when they have it (an array's child they do
        not: it is read on its own, shared by the pages showing it)."""
        view = self.account(name)
        for poller in view.pollers.values():
            if job_id in poller.snapshot.jobs:
                return poller.snapshot.jobs[job_id]
        shared = self._shared(
            self._singles, (name, job_id), lambda: _one(view.account, job_id), self.interval
        )
        return shared.get()

    def seen(self, name: str, job_id: str) -> list[tuple[str, float]]:
        for poller in self.account(name).pollers.values():
            if job_id in poller.snapshot.seen:
                return poller.snapshot.seen[job_id]
        return []

    def children(self, name: str, job_id: str) -> list[dict[str, Any]]:
        """An array job's children (ListJobs summaries), the failed ones first, then by index."""
        view = self.account(name)

        def read() -> list[dict[str, Any]]:
            batch = view.account.client("batch")
            listed = jobs.queue_summaries(batch, "", jobs.LOOKUP_STATUSES, arrayJobId=job_id)
            return sorted(
                listed.values(),
                key=lambda c: (c.get("status") != "FAILED", (c.get("arrayProperties") or {}).get("index", 0)),
            )

        return self._shared(self._children, (name, job_id), read).get()

    def queues(self, name: str) -> dict[str, Any]:
        return self._queues[name].get()

    def matrix(self) -> list[Any]:
        return self._matrix.get()

    def forget_matrix(self) -> None:
        self._matrix.forget()

    def snapshots(self, name: str) -> dict[str, Snapshot]:
        return {queue: poller.snapshot for queue, poller in self.account(name).pollers.items()}

    def _shared(
        self, table: dict, key: tuple[str, str], read: Callable[[], Any], ttl: float = SHARED_SECONDS
    ) -> Shared:
        with self._lock:
            if key not in table:
                table[key] = Shared(read, ttl)
            return table[key]


def _matrix(names: list[str]) -> list[Any]:
    from ..releases import Releases

    return Releases().matrix(names)


def _queues(view: AccountView) -> dict[str, Any]:
    """The account's polled queues and their compute environments, as Batch describes them."""
    if not view.pollers:
        return {"queues": [], "environments": []}
    batch = view.account.client("batch")
    queues = batch.describe_job_queues(jobQueues=list(view.pollers))["jobQueues"]
    names = sorted({o["computeEnvironment"] for q in queues for o in q.get("computeEnvironmentOrder", [])})
    environments = (
        batch.describe_compute_environments(computeEnvironments=names)["computeEnvironments"] if names else []
    )
    return {"queues": queues, "environments": environments}


def _one(account: Account, job_id: str) -> dict[str, Any] | None:
    return jobs.describe(account.client("batch"), [job_id]).get(job_id)


def _short(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
    return str(exc)
