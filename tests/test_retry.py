"""The one retry policy: botocore's judgement of AWS failures, a bounded jittered backoff."""

from __future__ import annotations

import random

import pytest
from batchform import retry
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError


def _error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "SubmitJob")


@pytest.mark.parametrize(
    "code,status",
    [
        ("TooManyRequestsException", 429),
        ("ThrottlingException", 400),
        ("RequestLimitExceeded", 400),  # EC2's, which a list of three codes missed
        ("ProvisionedThroughputExceededException", 400),  # DynamoDB's
        ("SlowDown", 503),  # S3's
        ("SomethingNew", 429),  # an unknown code, throttled by its status
    ],
)
def test_every_throttling_answer_botocore_knows_is_throttling(code, status):
    assert retry.transient_kind(_error(code, status)) == retry.THROTTLED


@pytest.mark.parametrize("code,status", [("InternalFailure", 500), ("ServiceUnavailable", 503), ("X", 502)])
def test_server_errors_are_failing_since_they_do_not_say_whether_the_call_took_effect(code, status):
    assert retry.transient_kind(_error(code, status)) == retry.FAILING


@pytest.mark.parametrize(
    "exc",
    [
        EndpointConnectionError(endpoint_url="https://batch"),
        ReadTimeoutError(endpoint_url="https://batch"),
        ConnectionClosedError(endpoint_url="https://batch"),
    ],
)
def test_a_broken_connection_is_failing(exc):
    assert retry.transient_kind(exc) == retry.FAILING


@pytest.mark.parametrize(
    "exc",
    [_error("ClientException", 400), _error("AccessDeniedException", 403), ValueError("not AWS")],
)
def test_a_refusal_is_never_retried(exc):
    assert retry.transient_kind(exc) is None


def test_http_statuses_are_judged_the_same_way():
    assert [retry.http_kind(s) for s in (429, 500, 503, 404, 401, 200)] == [
        retry.THROTTLED,
        retry.FAILING,
        retry.FAILING,
        None,
        None,
        None,
    ]


def test_backoff_grows_with_full_jitter_and_never_passes_its_cap():
    rng = random.Random(7)
    waits = [retry.backoff(attempt, rng=rng) for attempt in range(1, 12) for _ in range(50)]
    assert min(waits) >= 0
    assert max(waits) <= retry.BACKOFF_CAP
    assert max(retry.backoff(1, rng=rng) for _ in range(200)) <= retry.BACKOFF_BASE * 2


def test_retrying_tries_a_bounded_number_of_times_then_raises_the_last_failure():
    calls, waits = [], []

    def call() -> None:
        calls.append(1)
        raise _error("ThrottlingException", 400)

    with pytest.raises(ClientError):
        for attempt in retry.retrying(lambda e: retry.transient_kind(e) is not None, sleep=waits.append):
            with attempt:
                call()
    assert len(calls) == retry.ATTEMPTS
    assert len(waits) == retry.ATTEMPTS - 1
    assert all(0 <= w <= retry.BACKOFF_CAP for w in waits)


def test_retrying_does_not_repeat_a_refusal():
    calls = []
    with pytest.raises(ClientError):
        for attempt in retry.retrying(lambda e: retry.transient_kind(e) is not None, sleep=lambda _s: None):
            with attempt:
                calls.append(1)
                raise _error("ClientException", 400)
    assert calls == [1]
