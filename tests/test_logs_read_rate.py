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
