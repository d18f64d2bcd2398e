"""Each account's terraform state is kept in its own bucket, recreated when the account lost it."""

from __future__ import annotations

import pytest
from batchform.accounts import Accounts
from batchform.terraform import TerraformRunner

pytestmark = [pytest.mark.stack, pytest.mark.terraform]


def _bucket_exists(account, bucket: str) -> bool:  # noqa: ANN001
    return bucket in [b["Name"] for b in account.client("s3").list_buckets()["Buckets"]]


def test_init_recreates_a_state_bucket_the_account_lost(local_stack, terraform_binary) -> None:  # noqa: ANN001
    account = Accounts().get("local-b")
    bucket = account.state_backend["bucket"]
    runner = TerraformRunner(account, echo=lambda _line: None)
    runner.init()
    assert _bucket_exists(account, bucket)

    s3 = account.client("s3")
    # A versioned bucket: every version goes, and every delete marker (a plan's lock file leaves one).
    listed = s3.list_object_versions(Bucket=bucket)
    for version in listed.get("Versions", []) + listed.get("DeleteMarkers", []):
        s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    s3.delete_bucket(Bucket=bucket)
    assert not _bucket_exists(account, bucket)

    runner.init()  # the data directory still says "initialised"
    assert _bucket_exists(account, bucket)
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_local_b_applies_from_a_source_that_declares_only_its_differences(
    local_stack, terraform_binary
) -> None:  # noqa: ANN001
    """local-b.yaml names two shared jobs and what differs; terraform makes exactly that."""
    account = Accounts().get("local-b")
    runner = TerraformRunner(account, echo=lambda _line: None)
    try:
        runner.apply()
        batch = account.client("batch")
        definitions = {
            d["jobDefinitionName"]: d
            for d in batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"]
        }
        assert sorted(definitions) == ["batchform-local-b-csv-stats", "batchform-local-b-hello"]
        hello = {
            e["name"]: e["value"]
            for e in definitions["batchform-local-b-hello"]["containerProperties"]["environment"]
        }
        assert hello == {
            "GREETING": "from local-b",
            "DATA_BUCKET": f"batchform-local-b-data-{account.account_id}",
        }
        memory = [
            r["value"]
            for r in definitions["batchform-local-b-csv-stats"]["containerProperties"]["resourceRequirements"]
            if r["type"] == "MEMORY"
        ]
        assert memory == ["512"]  # the shared declaration's
        environments = batch.describe_compute_environments()["computeEnvironments"]
        assert [ce["computeResources"]["maxvCpus"] for ce in environments] == [2]  # local-b's own
        tables = account.client("dynamodb").list_tables()["TableNames"]
        assert tables == ["batchform-local-b-operations"]
    finally:
        runner.destroy()
