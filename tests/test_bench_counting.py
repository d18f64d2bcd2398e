"""The benchmarks count AWS calls where none can be missed, and a count of zero for work done raises.

Against in-process moto: the counter and the submit benchmark's one-request measure, without a
private stack.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import moto.batch.models
import pytest
from batchform.accounts import Account
from batchform.jobs import DeployedJob, SubmitRequest
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, where bench/ is

from bench import submit  # noqa: E402
from bench.stack import CallCounter, MiscountError, call_counter, unmanaged_queue  # noqa: E402

REGION = "us-east-1"


class MotoStack:
    """What the submit benchmark asks of its private stack, in moto: accounts and a job target."""

    def __init__(self, target: DeployedJob, tmp_path: Path):
        self.target, self.tmp_path = target, tmp_path

    @property
    def local(self) -> Account:
        return Account(name="local", account_id="123456789012", region=REGION)  # no client made yet

    def job_target(self, _account: Account) -> DeployedJob:
        return self.target

    def scratch(self, name: str) -> Path:
        path = self.tmp_path / name
        path.mkdir(parents=True, exist_ok=True)
        return path


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[MotoStack]:
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BATCH", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(moto.batch.models.Job, "run", lambda self: None)  # submitted, never run
    with mock_aws():
        iam, batch = boto3.client("iam", region_name=REGION), boto3.client("batch", region_name=REGION)
        queue, _definition = unmanaged_queue(iam, batch, "bench", "bench", role="batch-service")
        yield MotoStack(DeployedJob("bench", "bench", queue), tmp_path)


def _submit(client: object, target: DeployedJob, name: str) -> None:
    client.submit_job(jobName=name, jobQueue=target.queue, jobDefinition=target.definition)  # type: ignore[attr-defined]


def test_an_account_counter_sees_calls_of_clients_made_before_and_after_it(stack: MotoStack) -> None:
    account = stack.local
    before = account.client("batch")
    counter = call_counter(account, "batch.SubmitJob")
    _submit(before, stack.target, "before")
    _submit(account.client("batch", retries=False), stack.target, "after")  # a client of its own
    assert counter.stop(done="two jobs") == 2
    _submit(before, stack.target, "stopped")
    _submit(account.client("batch", retries=False), stack.target, "stopped")
    assert counter.count == 2


def test_a_count_of_zero_for_work_done_raises_instead_of_giving_a_figure(stack: MotoStack) -> None:
    account = stack.local
    counter = CallCounter(account, "batch.SubmitJob")
    # A client made apart from the account: what the counter cannot see must not pass as "0 calls".
    _submit(boto3.client("batch", region_name=REGION), stack.target, "unseen")
    with pytest.raises(MiscountError, match=r"counted 0 batch\.SubmitJob calls for one job"):
        counter.stop(done="one job")
    assert CallCounter(account, "batch.SubmitJob").stop() == 0  # nothing done: zero is the truth


def test_the_submit_benchmark_counts_the_submitters_calls_for_an_array_and_a_fan_out(
    stack: MotoStack,
) -> None:
    """What reported "0 SubmitJob calls": the Submitter's one-attempt client was not the one counted."""
    submits, every, _seconds, made = submit._one_request(
        stack, SubmitRequest("bench", array_size=1000), stack.scratch("journal-array")
    )
    assert (submits, made) == (1, 1)
    assert every >= submits
    items = [f"item-{i}" for i in range(1000)]
    submits, _every, _seconds, made = submit._one_request(
        stack, SubmitRequest("bench", items=items), stack.scratch("journal-items")
    )
    assert (submits, made) == (1, 1)
