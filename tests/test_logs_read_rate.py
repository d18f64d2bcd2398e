"""An account's `logs_read_rate`: the one GetLogEvents rate of all its log readers, validated."""

from __future__ import annotations

import pytest
from batchform.accounts import Accounts
from batchform.errors import ConfigError
from batchform.settings import LocalStackSettings


def accounts(**entry: object) -> Accounts:
    raw = {"account_id": "123456789012", "region": "eu-west-1", **entry}
    return Accounts({"accounts": {"prod": raw}}, LocalStackSettings.load())


def test_an_account_without_the_setting_leaves_the_rate_to_the_default() -> None:
    assert accounts().get("prod").logs_read_rate is None


@pytest.mark.parametrize("rate", [4, 2.5])
def test_the_rate_is_read_as_calls_per_second(rate: float) -> None:
    assert accounts(logs_read_rate=rate).get("prod").logs_read_rate == rate


@pytest.mark.parametrize("rate", [0, -3, "10", True, float("nan"), float("inf"), [10]])
def test_anything_but_a_positive_number_is_refused_naming_the_key(rate: object) -> None:
    with pytest.raises(ConfigError) as raised:
        accounts(logs_read_rate=rate)
    message = str(raised.value)
    assert message.startswith("accounts.prod.logs_read_rate: must be a positive number")
    assert "\n" not in message


def test_every_get_log_events_sent_takes_a_token_retries_included(monkeypatch, tmp_path) -> None:  # noqa: ANN001
    """botocore's own retries would send a throttled read again without asking the shared bucket."""
    import os
    import time

    from batchform import logs, ratelimit, retry
    from botocore.exceptions import ClientError
    from moto import mock_aws

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setattr(retry, "BACKOFF_CAP", 0.0)
    taken: list[int] = []
    real_take = ratelimit.TokenBucket.take
    monkeypatch.setattr(ratelimit.TokenBucket, "take", lambda self: taken.append(1) or real_take(self))
    ratelimit.reset()
    with mock_aws():
        account = accounts().get("prod")
        setup = account.session.client("logs", region_name="eu-west-1")
        setup.create_log_group(logGroupName="g")
        setup.create_log_stream(logGroupName="g", logStreamName="s")
        now = int(time.time() * 1000)
        setup.put_log_events(
            logGroupName="g",
            logStreamName="s",
            logEvents=[{"timestamp": now, "message": "a"}],
        )
        job = {
            "jobId": "j",
            "container": {"logStreamName": "s", "logConfiguration": {"options": {"awslogs-group": "g"}}},
        }
        batch = type("Batch", (), {"describe_jobs": lambda self, jobs: {"jobs": [job]}})()
        account._clients["batch"] = batch
        sent: list[int] = []

        def throttle_the_first(**_kwargs) -> None:  # noqa: ANN003
            sent.append(1)
            if len(sent) == 1:
                raise ClientError(
                    {"Error": {"Code": "ThrottlingException"}, "ResponseMetadata": {"HTTPStatusCode": 400}},
                    "GetLogEvents",
                )

        for retries in (True, False):
            account.client("logs", retries=retries).meta.events.register(
                "before-call.cloudwatch-logs.GetLogEvents", throttle_the_first
            )
        assert list(logs.lines(account, "j")) == ["a"]
    assert len(sent) == 3  # the throttled read, its retry, and the read that finds the stream's end
    assert len(taken) == len(sent)
