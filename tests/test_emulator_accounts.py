"""The emulator forgets one account on request, in every service, and no other account loses a
thing: a test's throwaway account goes without a `terraform destroy` of a minute or more."""

from __future__ import annotations

import json

import boto3
import pytest
from batchform.localstack import emulator
from conftest import in_process_aws, project_releases
from werkzeug.test import Client

DROPPED, KEPT = "111111111111", "222222222222"


def _session(account_id: str) -> boto3.Session:
    """Credentials of `account_id`: moto tells an account by the access key STS gave."""
    sts = boto3.client("sts", region_name="us-east-1")
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/tester", RoleSessionName="tests")[
        "Credentials"
    ]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name="us-east-1",
    )


def _fill(session: boto3.Session, account_id: str) -> None:
    s3 = session.client("s3")
    s3.create_bucket(Bucket=f"data-{account_id}")
    s3.put_object(Bucket=f"data-{account_id}", Key="k", Body=f"of {account_id}".encode())
    session.client("iam").create_role(RoleName=f"role-{account_id}", AssumeRolePolicyDocument="{}")
    session.client("sqs").create_queue(QueueName=f"queue-{account_id}")


@pytest.fixture
def two_accounts(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    with in_process_aws(monkeypatch):
        sessions = {account_id: _session(account_id) for account_id in (DROPPED, KEPT)}
        for account_id, session in sessions.items():
            _fill(session, account_id)
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="of-the-default-account")
        yield sessions


def test_dropping_an_account_empties_it_in_every_service_and_leaves_the_others_whole(two_accounts) -> None:  # noqa: ANN001
    answer = Client(emulator.make_app()).delete(f"{emulator.ACCOUNTS_PATH}{DROPPED}")

    assert answer.status_code == 200
    assert {"s3", "iam", "sqs"} <= set(json.loads(answer.data)["services"])
    dropped, kept = two_accounts[DROPPED], two_accounts[KEPT]
    # Its keys still name it: a late request lands in the empty account, not in moto's default one.
    assert dropped.client("s3").list_buckets()["Buckets"] == []
    assert dropped.client("sts").get_caller_identity()["Account"] == DROPPED
    assert dropped.client("sqs").list_queues().get("QueueUrls", []) == []
    assert f"role-{DROPPED}" not in [r["RoleName"] for r in dropped.client("iam").list_roles()["Roles"]]
    # The other account's objects can still be read: moto's S3 reset closes every account's.
    body = kept.client("s3").get_object(Bucket=f"data-{KEPT}", Key="k")["Body"].read()
    assert body == f"of {KEPT}".encode()
    assert f"role-{KEPT}" in [r["RoleName"] for r in kept.client("iam").list_roles()["Roles"]]
    assert len(kept.client("sqs").list_queues()["QueueUrls"]) == 1
    # Its bucket's name is free again, as on AWS once a bucket is deleted.
    dropped.client("s3").create_bucket(Bucket=f"data-{DROPPED}")


@pytest.mark.parametrize("account_id", ["12345", "abcdefghijkl", "1111111111110"])
def test_a_drop_of_what_is_no_account_id_is_refused_and_drops_nothing(two_accounts, account_id: str) -> None:  # noqa: ANN001
    answer = Client(emulator.make_app()).delete(f"{emulator.ACCOUNTS_PATH}{account_id}")

    assert answer.status_code == 400
    assert "12 digits" in json.loads(answer.data)["error"]
    assert len(two_accounts[DROPPED].client("s3").list_buckets()["Buckets"]) == 1


@pytest.mark.stack
def test_the_local_stack_forgets_a_throwaway_account_and_keeps_its_neighbour(
    local_stack, release_project
) -> None:  # noqa: ANN001
    accounts = project_releases(release_project).accounts
    dropped, kept = accounts.get("rel-a"), accounts.get("rel-b")
    for account in (dropped, kept):
        s3 = account.client("s3")
        s3.create_bucket(Bucket=f"data-{account.account_id}")
        s3.put_object(Bucket=f"data-{account.account_id}", Key="k", Body=account.name.encode())

    assert "s3" in local_stack.drop_account(dropped.account_id)

    # With the keys it had before, which still name it: not the local account, moto's default.
    assert dropped.client("sts").get_caller_identity()["Account"] == dropped.account_id
    assert dropped.client("s3").list_buckets()["Buckets"] == []
    assert kept.client("s3").get_object(Bucket=f"data-{kept.account_id}", Key="k")["Body"].read() == b"rel-b"
