"""The emulator applies a bucket policy statement only when its conditions hold, as AWS does;
a request to it counts as one over TLS. moto ignored conditions: a "deny unless TLS" statement,
the data bucket's, denied every request."""

from __future__ import annotations

import json
import uuid

import pytest
from batchform.localstack.motofixes import condition_holds

DENY_INSECURE = {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        (None, True),
        (DENY_INSECURE, False),
        ({"Bool": {"aws:SecureTransport": "true"}}, True),
        ({"Bool": {"AWS:SECURETRANSPORT": ["false"]}}, False),  # keys without regard to case
        ({"StringEquals": {"aws:SecureTransport": ["false", "true"]}}, True),
        ({"StringNotEquals": {"aws:SecureTransport": "true"}}, False),
        ({"StringLike": {"aws:SecureTransport": "t*"}}, True),
        # What cannot be evaluated here holds, so a Deny stays on the safe side.
        ({"NumericLessThan": {"s3:TlsVersion": "1.2"}}, True),
        ({"StringEquals": {"aws:SourceVpce": "vpce-1"}}, True),
    ],
)
def test_a_condition_holds_as_aws_evaluates_it_for_a_request_over_tls(condition, holds: bool) -> None:  # noqa: ANN001
    assert condition_holds(condition) is holds


@pytest.mark.stack
def test_a_tls_only_bucket_takes_requests_and_a_deny_whose_condition_holds_still_denies(
    local_account,
) -> None:  # noqa: ANN001
    s3 = local_account.client("s3")
    bucket = f"policy-check-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    arns = [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]

    def deny(condition: dict) -> None:
        statement = {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": arns,
            "Condition": condition,
        }
        s3.put_bucket_policy(
            Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        )

    try:
        deny(DENY_INSECURE)
        s3.put_object(Bucket=bucket, Key="inputs/a.csv", Body=b"x\n")
        assert s3.get_object(Bucket=bucket, Key="inputs/a.csv")["Body"].read() == b"x\n"

        deny({"Bool": {"aws:SecureTransport": "true"}})
        with pytest.raises(s3.exceptions.ClientError, match="403"):
            s3.put_object(Bucket=bucket, Key="inputs/b.csv", Body=b"y\n")
    finally:
        s3.delete_bucket_policy(Bucket=bucket)
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
        s3.delete_bucket(Bucket=bucket)
