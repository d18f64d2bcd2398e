"""Client-side rate limits: a thread-safe token bucket, and one shared bucket per account quota.

AWS meters many read and write APIs per account and region, whoever calls: following a hundred
jobs in one process must keep all their calls of one API under one rate, not a rate each. So
callers ask `shared(account, purpose, rate)` for the process's one bucket of that account,
region and purpose, and take a token before every call, retries included.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

# CloudWatch Logs meters its reads per account and region, for every reader of the account (the
# console and other tools too): GetLogEvents 25 TPS and FilterLogEvents 5 TPS in AWS's quota
# tables as of writing, neither adjustable. The defaults stay under both, leaving the others room.
GET_LOG_EVENTS = "GetLogEvents"
FILTER_LOG_EVENTS = "FilterLogEvents"
DEFAULT_RATES = {GET_LOG_EVENTS: 10.0, FILTER_LOG_EVENTS: 5.0}


class TokenBucket:
    """At most `rate` tokens per second on average, with bursts of up to a second's worth.

    `take()` blocks until a token is free; `try_take()` never blocks and says how long to wait
    instead, for callers whose waits must end at once on a stop. The sleep happens outside the
    lock, so other threads refill and take meanwhile.
    """

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._check(rate)
        self.clock, self.sleep = clock, sleep
        self._rate = float(rate)
        self.capacity = max(1.0, self._rate)
        self.tokens = self.capacity
        self.updated = clock()
        self.taken = 0  # tokens handed out since creation: what a caller's calls add up to
        self.lock = threading.Lock()

    @staticmethod
    def _check(rate: float) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate < math.inf:
            raise ValueError(f"rate must be a positive number of calls per second, got {rate!r}")

    @property
    def rate(self) -> float:
        return self._rate

    @rate.setter
    def rate(self, rate: float) -> None:
        self._check(rate)
        with self.lock:
            self._refill()  # time so far refills at the old rate
            self._rate = float(rate)
            self.capacity = max(1.0, self._rate)
            self.tokens = min(self.tokens, self.capacity)

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.updated) * self._rate)
        self.updated = now

    def try_take(self) -> float:
        """Take a token if one is free and return 0; else take none and return the seconds to wait."""
        with self.lock:
            self._refill()
            # A tolerance: refills rounding to just under one token would otherwise wait ever
            # shorter times, forever.
            if self.tokens >= 1 - 1e-9:
                self.tokens = max(0.0, self.tokens - 1)
                self.taken += 1
                return 0.0
            return (1 - self.tokens) / self._rate

    def take(self) -> None:
        """Block until a token is free, and take it."""
        while (wait := self.try_take()) > 0:
            self.sleep(wait)


class _Located(Protocol):
    account_id: str
    region: str


_registry: dict[tuple[str, str, str], TokenBucket] = {}
_registry_lock = threading.Lock()


def shared(
    account: _Located,
    purpose: str,
    rate: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> TokenBucket:
    """The process's one bucket for `purpose` (an API name, say) in the account's id and region.

    Accounts declared twice under different names share it, as they share AWS's quota. A
    `rate` other than the bucket's re-rates it, so the latest configuration holds for every
    caller; None keeps the bucket's rate, or starts a new one at `DEFAULT_RATES[purpose]`.
    `clock` and `sleep` count only when the bucket is created.
    """
    key = (account.account_id, account.region, purpose)
    with _registry_lock:
        bucket = _registry.get(key)
        if bucket is None:
            if rate is None and purpose not in DEFAULT_RATES:
                raise ValueError(f"no default rate for {purpose!r}: pass one")
            bucket = TokenBucket(DEFAULT_RATES[purpose] if rate is None else rate, clock, sleep)
            _registry[key] = bucket
            return bucket
    if rate is not None and bucket.rate != rate:
        bucket.rate = rate
    return bucket


def reset() -> None:
    """Forget every shared bucket: the next `shared()` call starts a full one (tests, benchmarks)."""
    with _registry_lock:
        _registry.clear()


def buckets() -> dict[tuple[str, str, str], Any]:
    """A snapshot of the shared buckets, by (account id, region, purpose)."""
    with _registry_lock:
        return dict(_registry)
