"""Pacing for the loops that follow jobs: waits a stop() ends at once, and the retry policy bound to them.

The followers call AWS through one-attempt clients (`Account.client(service, retries=False)`):
botocore's own retries sleep where nothing can interrupt them, and would run under our polling
loops. So a failed call is either asked again at the next poll, after `retry.backoff`, or
repeated by `retry.retrying`, whose waits are these interruptible pauses and which gives up as
soon as stop() is called.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import tenacity

from . import retry
from .ratelimit import TokenBucket

Echo = Callable[[str], None]

# Kept here rather than imported from jobs.py so that following does not depend on how
# submitting is organised; both follow the Batch API's own states.
FINAL_STATES = ("SUCCEEDED", "FAILED")


def is_transient(exc: BaseException) -> bool:
    """Throttling, a server error or a broken connection: worth asking again after a pause.

    Every call a follower makes is a read (or a terminate, asked again at the next poll), so
    repeating one is always safe.
    """
    return retry.transient_kind(exc) is not None


class Poller:
    """A stop flag, pauses that end as soon as it is set, and the policy that honours it."""

    def __init__(self, sleep: Callable[[float], None], clock: Callable[[], float]):
        self._sleep, self._clock = sleep, clock
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask the running loop to return at once, from any thread or a signal handler."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _pause(self, delay: float) -> None:
        if self._sleep is time.sleep:
            self._stop.wait(delay)  # ends at once on stop(), instead of after the delay
        else:
            self._sleep(delay)

    def _retrying(self) -> tenacity.Retrying:
        policy = retry.retrying(is_transient, sleep=self._pause)
        return policy.copy(stop=policy.stop | tenacity.stop_when_event_set(self._stop))

    def _take(self, bucket: TokenBucket) -> bool:
        """Wait for a token of `bucket`, interruptibly; False when stop() came first."""
        while (wait := bucket.try_take()) > 0:
            if self.stopped:
                return False
            self._pause(wait)
        return True
