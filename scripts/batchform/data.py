"""An account's data: put a job's input in place, read its result back, list what is there, read
an item of one of its tables.

Keys are the ones jobs are given (`INPUT_URL=inputs/a.csv`): relative to the account's data
bucket, whose name terraform outputs (`data_bucket`), so the same commands work in every account.
Tables are named by their key in the account's source (`operations`), as jobs name them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from .accounts import Account
from .deployment import outputs
from .errors import UserError

MAX_KEY_BYTES = 1024  # S3's limit on a key


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    url: str


def bucket(account: Account) -> str:
    """The account's data bucket, as terraform made it."""
    name = outputs(account).get("data_bucket")
    if not name:
        raise UserError(
            f"account {account.name} has no data bucket yet: run invoke tf.apply --account {account.name}"
        )
    return name


def check_key(key: str, what: str = "key") -> str:
    """A key as jobs are given it: relative to the bucket, no leading /, no empty or `..` segment."""
    if not key or key.startswith("/") or any(part in ("", "..") for part in key.rstrip("/").split("/")):
        raise UserError(
            f"{what} {key!r}: must be a key in the account's data bucket such as inputs/a.csv "
            "(no leading /, no empty or .. segment)"
        )
    if len(key.encode()) > MAX_KEY_BYTES:
        raise UserError(f"{what} {key[:40]!r}...: S3 keys are at most {MAX_KEY_BYTES} bytes")
    if not key.isprintable():
        raise UserError(f"{what} {key!r}: must not hold control characters")
    return key


def put(account: Account, source: Path, key: str) -> StoredObject:
    """Upload `source` to `key` (a key ending in / takes the file's name)."""
    if not source.is_file():
        raise UserError(f"{source}: no such file")
    key = check_key(key + source.name if key.endswith("/") else key)
    name = bucket(account)
    try:
        account.client("s3").upload_file(str(source), name, key)
    except ClientError as exc:
        raise UserError(f"cannot put {key} in {name}: {_reason(exc)}") from None
    return StoredObject(key, source.stat().st_size, f"s3://{name}/{key}")


def get(account: Account, key: str) -> bytes:
    """What is stored at `key`."""
    name = bucket(account)
    try:
        return account.client("s3").get_object(Bucket=name, Key=check_key(key))["Body"].read()
    except ClientError as exc:
        if _code(exc) in ("NoSuchKey", "404"):
            raise UserError(f"no object {key} in {name}") from None
        raise UserError(f"cannot get {key} from {name}: {_reason(exc)}") from None


def listing(account: Account, prefix: str = "") -> list[StoredObject]:
    """Every object under `prefix`, in key order."""
    if prefix:
        check_key(prefix, "prefix")
    name = bucket(account)
    found: list[StoredObject] = []
    try:
        for page in (
            account.client("s3").get_paginator("list_objects_v2").paginate(Bucket=name, Prefix=prefix)
        ):
            found += [
                StoredObject(item["Key"], item["Size"], f"s3://{name}/{item['Key']}")
                for item in page.get("Contents", [])
            ]
    except ClientError as exc:
        raise UserError(f"cannot list {name}: {_reason(exc)}") from None
    return found


def item(account: Account, table: str, key: str) -> dict[str, Any]:
    """The item of the account's table `table` whose partition key is `key`, as plain values."""
    from boto3.dynamodb.types import TypeDeserializer

    tables: dict[str, Any] = outputs(account).get("tables") or {}
    if table not in tables:
        known = ", ".join(sorted(tables)) or "none deployed"
        raise UserError(f"table {table!r}: not one of account {account.name}'s tables ({known})")
    name, hash_key = tables[table]["name"], tables[table]["hash_key"]
    try:
        found = account.client("dynamodb").get_item(TableName=name, Key={hash_key: {"S": key}})
    except ClientError as exc:
        raise UserError(f"cannot read {key} from {name}: {_reason(exc)}") from None
    if "Item" not in found:
        raise UserError(f"no item {hash_key}={key} in {name}")
    plain = TypeDeserializer()
    return {field: _jsonable(plain.deserialize(value)) for field, value in sorted(found["Item"].items())}


def _jsonable(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: whole ones as int, others as float."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_jsonable(v) for v in value]
    return value


def _code(exc: ClientError) -> str:
    error: dict[str, Any] = exc.response.get("Error", {})
    return str(error.get("Code", ""))


def _reason(exc: ClientError) -> str:
    error: dict[str, Any] = exc.response.get("Error", {})
    return f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
