"""The one retry policy: which failures are worth another try, how long to wait, how many tries.

AWS calls are retried by botocore itself, in its adaptive mode: the standard mode's retries and a
client-side rate limiter (`accounts.boto_config()`). Code of ours repeats a call only where botocore
cannot decide: SubmitJob (a look-up by token comes before any re-send), polling loops (which must
stay interruptible) and the registry's and the docker engine's HTTP calls. Those clients make one
attempt each, so no loop of ours runs over botocore's, and they judge a failure with botocore's own
checkers (its 14 throttling codes, its transient statuses and connection errors) and wait as
botocore's standard mode does: exponential backoff with full jitter, capped, for a bounded number of
tries.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import tenacity
from botocore.exceptions import BotoCoreError, ClientError
from botocore.retries.standard import (
    RetryContext,
    ThrottledRetryableChecker,
    ThrottlingStatusCodeChecker,
    TransientRetryableChecker,
)

ATTEMPTS = 5  # tries in all, the first included (botocore's standard mode: 3; a batch of work may wait)
BACKOFF_BASE = 0.5  # seconds
BACKOFF_CAP = 20.0  # seconds: botocore's standard mode caps at 20 as well

THROTTLED = "throttling"
FAILING = "failing"

_THROTTLED = ThrottledRetryableChecker()
_THROTTLED_STATUS = ThrottlingStatusCodeChecker()
_TRANSIENT = TransientRetryableChecker()
_HTTP_TRANSIENT = frozenset({500, 502, 503, 504})


def transient_kind(exc: BaseException) -> str | None:
    """'throttling' or 'failing' when an AWS call is worth repeating after a pause, else None.

    A broken connection or a 5xx is 'failing': it does not say whether the call took effect,
    which matters to a caller whose call is not a read.
    """
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        context = RetryContext(
            attempt_number=1, parsed_response=exc.response, http_response=SimpleNamespace(status_code=status)
        )
    elif isinstance(exc, BotoCoreError):
        context = RetryContext(attempt_number=1, caught_exception=exc)
    else:
        return None
    if _THROTTLED.is_retryable(context) or _THROTTLED_STATUS.is_retryable(context):
        return THROTTLED
    return FAILING if _TRANSIENT.is_retryable(context) else None


def http_kind(status: int) -> str | None:
    """The same judgement for a registry's or an engine's HTTP status."""
    if status == 429:
        return THROTTLED
    return FAILING if status in _HTTP_TRANSIENT else None


def backoff(attempt: int, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP, rng: Any = random) -> float:
    """The wait before try `attempt + 1` (attempt >= 1): full jitter below base * 2**attempt, capped."""
    return rng.uniform(0, min(cap, base * 2**attempt))


def retrying(
    worth_retrying: Callable[[BaseException], bool],
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
    before_sleep: Callable[[tenacity.RetryCallState], None] | None = None,
) -> tenacity.Retrying:
    """A tenacity policy for a call of ours: the exceptions `worth_retrying` accepts are tried
    again with this module's backoff, up to `attempts` tries in all; the last one is raised."""
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(worth_retrying),
        wait=tenacity.wait_random_exponential(multiplier=BACKOFF_BASE, max=BACKOFF_CAP),
        stop=tenacity.stop_after_attempt(attempts),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
