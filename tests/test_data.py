"""An account's data bucket from the command line: keys as jobs are given them, one-line refusals."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from batchform import data
from batchform.errors import UserError
from moto import mock_aws

BUCKET = "batchform-check-data-123456789012"
TABLES = {"operations": {"name": "batchform-check-operations", "hash_key": "id"}}


class StandInAccount:
    name = "check"

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name="us-east-1")


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[StandInAccount]:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setattr(data, "outputs", lambda _account: {"data_bucket": BUCKET, "tables": TABLES})
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        boto3.client("dynamodb", region_name="us-east-1").create_table(
            TableName=TABLES["operations"]["name"],
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        )
        yield StandInAccount()


def test_put_then_get_and_ls_give_back_what_was_stored_at_the_key(account, tmp_path: Path) -> None:  # noqa: ANN001
    source = tmp_path / "cities.csv"
    source.write_text("city,population\nLyon,522000\n")

    stored = data.put(account, source, "inputs/cities.csv")
    assert stored == data.StoredObject("inputs/cities.csv", 28, f"s3://{BUCKET}/inputs/cities.csv")
    assert data.get(account, "inputs/cities.csv") == source.read_bytes()
    assert [item.key for item in data.listing(account, "inputs/")] == ["inputs/cities.csv"]
    assert data.listing(account, "results/") == []


def test_a_key_ending_in_a_slash_takes_the_files_name(account, tmp_path: Path) -> None:  # noqa: ANN001
    source = tmp_path / "build.sh"
    source.write_text("echo hi\n")
    assert data.put(account, source, "scripts/").key == "scripts/build.sh"


@pytest.mark.parametrize("key", ["/inputs/a.csv", "", "inputs//a.csv", "inputs/../a.csv", "a\nb", "k" * 1025])
def test_a_key_jobs_could_not_be_given_is_refused_in_one_line_and_nothing_is_stored(
    account,
    tmp_path: Path,
    key: str,  # noqa: ANN001
) -> None:
    source = tmp_path / "a.csv"
    source.write_text("x\n")
    with pytest.raises(UserError) as caught:
        data.put(account, source, key)
    assert "\n" not in str(caught.value)
    assert data.listing(account) == []


def test_getting_a_missing_key_names_it_and_the_bucket(account) -> None:  # noqa: ANN001
    with pytest.raises(UserError, match=f"^no object results/none.json in {BUCKET}$"):
        data.get(account, "results/none.json")


def test_putting_a_missing_file_is_refused(account, tmp_path: Path) -> None:  # noqa: ANN001
    with pytest.raises(UserError, match="no such file"):
        data.put(account, tmp_path / "absent.csv", "inputs/absent.csv")


def test_an_account_without_a_data_bucket_says_to_apply_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data, "outputs", lambda _account: {"account": {}})
    with pytest.raises(UserError, match="run invoke tf.apply --account check"):
        data.bucket(StandInAccount())


def test_an_item_is_read_by_the_tables_key_in_the_source_as_plain_values(account) -> None:  # noqa: ANN001
    account.client("dynamodb").put_item(
        TableName="batchform-check-operations",
        Item={"id": {"S": "op-1"}, "status": {"S": "SUCCEEDED"}, "took": {"N": "1.5"}, "tries": {"N": "2"}},
    )
    assert data.item(account, "operations", "op-1") == {
        "id": "op-1",
        "status": "SUCCEEDED",
        "took": 1.5,
        "tries": 2,
    }


def test_a_missing_item_and_an_undeclared_table_are_named(account) -> None:  # noqa: ANN001
    with pytest.raises(UserError, match="^no item id=op-2 in batchform-check-operations$"):
        data.item(account, "operations", "op-2")
    with pytest.raises(UserError, match=r"table 'results': not one of account check's tables \(operations\)"):
        data.item(account, "results", "op-1")
