"""The token bucket holds its rate across threads, and one account's readers share one bucket."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from batchform import ratelimit
from batchform.ratelimit import TokenBucket


class FakeClock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


@pytest.fixture(autouse=True)
def _fresh_registry():
    ratelimit.reset()
    yield
    ratelimit.reset()


def test_a_burst_of_a_seconds_worth_then_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(10, clock=clock)
    assert [bucket.try_take() for _ in range(10)] == [0.0] * 10
    assert bucket.try_take() == pytest.approx(0.1)
    clock.advance(0.05)
    assert bucket.try_take() == pytest.approx(0.05)
    clock.advance(0.05)
    assert bucket.try_take() == 0.0
    assert bucket.taken == 11


def test_take_sleeps_for_the_missing_token_only():
    clock = FakeClock()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    bucket = TokenBucket(4, clock=clock, sleep=sleep)
    for _ in range(8):
        bucket.take()
    assert sum(slept) == pytest.approx(1.0)  # 4 at once, then 4 more at a quarter second each


def test_the_rate_holds_across_threads():
    clock = FakeClock()
    bucket = TokenBucket(5, clock=clock)
    taken = [0] * 8
    done = threading.Event()
    go = threading.Barrier(len(taken) + 1)

    def reader(slot: int) -> None:
        go.wait()
        while not done.is_set():
            if bucket.try_take() == 0.0:
                taken[slot] += 1

    threads = [threading.Thread(target=reader, args=(slot,)) for slot in range(len(taken))]
    for thread in threads:
        thread.start()
    go.wait()
    # 20 simulated seconds in 200 steps, each step long enough for every thread to try.
    for _ in range(200):
        clock.advance(0.1)
        for _ in range(50):
            threading.Event().wait(0)
    done.set()
    for thread in threads:
        thread.join()
    # At most the first second's burst plus 5 per simulated second, however many threads ask.
    assert 5 <= sum(taken) <= 5 + 5 * 20
    assert sum(taken) == bucket.taken


def test_re_rating_keeps_the_time_already_passed_at_the_old_rate():
    clock = FakeClock()
    bucket = TokenBucket(2, clock=clock)
    bucket.try_take(), bucket.try_take()
    clock.advance(0.5)  # one token at 2/s
    bucket.rate = 20
    assert bucket.try_take() == 0.0
    assert bucket.try_take() == pytest.approx(0.05)


@pytest.mark.parametrize("rate", [0, -1, True, "10", float("nan"), float("inf")])
def test_a_rate_must_be_positive(rate):
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(rate)


def test_one_bucket_per_account_region_and_purpose():
    one = SimpleNamespace(account_id="123456789012", region="eu-west-1")
    same_account_other_name = SimpleNamespace(account_id="123456789012", region="eu-west-1")
    other_region = SimpleNamespace(account_id="123456789012", region="us-east-1")
    bucket = ratelimit.shared(one, ratelimit.GET_LOG_EVENTS)
    assert ratelimit.shared(same_account_other_name, ratelimit.GET_LOG_EVENTS) is bucket
    assert bucket.rate == ratelimit.DEFAULT_RATES[ratelimit.GET_LOG_EVENTS]
    assert ratelimit.shared(other_region, ratelimit.GET_LOG_EVENTS) is not bucket
    assert ratelimit.shared(one, ratelimit.FILTER_LOG_EVENTS) is not bucket
    assert ratelimit.shared(one, ratelimit.GET_LOG_EVENTS, rate=3).rate == 3
    assert ratelimit.shared(one, ratelimit.GET_LOG_EVENTS).rate == 3  # no rate: the configured one stays
    assert len(ratelimit.buckets()) == 3


def test_a_purpose_without_a_default_needs_a_rate():
    account = SimpleNamespace(account_id="123456789012", region="eu-west-1")
    with pytest.raises(ValueError, match="SubmitJob"):
        ratelimit.shared(account, "SubmitJob")
    assert ratelimit.shared(account, "SubmitJob", rate=50).rate == 50


def test_threads_asking_at_once_get_the_same_bucket():
    account = SimpleNamespace(account_id="123456789012", region="eu-west-1")
    found: list[TokenBucket] = []
    threads = [
        threading.Thread(target=lambda: found.append(ratelimit.shared(account, ratelimit.GET_LOG_EVENTS)))
        for _ in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(bucket) for bucket in found}) == 1
