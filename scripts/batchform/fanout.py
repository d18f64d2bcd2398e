"""Fan-out items kept in the account's data bucket: one S3 object per array job.

ECS accepts at most 8,192 characters of container overrides, far less than the items of a
large fan-out. Those items go to the data bucket instead, one JSON array of strings per
SubmitJob call, and each child finds its own by `BATCHFORM_ITEMS_URL` and its array index
(the contract for images is in images/README.md). The key is derived from the account, the
token and the chunk, so a re-run writes the same object again and never a second one; it
lies under the job's items prefix, the only part of the bucket the job's role may read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .errors import UserError

ITEMS_URL_ENV = "BATCHFORM_ITEMS_URL"

# The longest pointer a child can get: a bucket name of 63 characters, a generous items
# prefix and the derived part of the key. Fan-out is planned against it, so the plan depends
# on the request alone.
LONGEST_URL = "s3://" + "b" * 63 + "/" + "p" * 256 + "0" * 32 + "/99999.json"


def items_key(prefix: str, account_id: str, token: str, chunk: int) -> str:
    """Where chunk `chunk` of the submission `token` keeps its items, under `prefix`."""
    digest = hashlib.sha256(f"{account_id}/{token}".encode()).hexdigest()[:32]
    return f"{prefix}{digest}/{chunk}.json"


def items_url(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def items_object(items: Sequence[str]) -> bytes:
    """The object's content: the chunk's items as a JSON array, in order."""
    return json.dumps(list(items), ensure_ascii=False, separators=(",", ":")).encode()


def store_items(s3: Any, account_name: str, bucket: str, key: str, items: Sequence[str]) -> None:
    """Write the items of one chunk (the same content again on a re-run: PutObject replaces it)."""
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=items_object(items), ContentType="application/json")
    except (ClientError, BotoCoreError) as exc:
        raise UserError(
            f"--each: cannot store the items in {items_url(bucket, key)} (account {account_name}): {exc}"
        ) from None
