"""Run a Python function package from S3 as a Cumulus-style async operation.

Environment: OPERATION_ID, OPERATIONS_TABLE (DynamoDB, string hash key `id`), PACKAGE_URL
(s3:// zip of the function's code), PAYLOAD_URL (s3:// JSON document), HANDLER
(`module.function`, default index.handler). PACKAGE_URL and PAYLOAD_URL may instead be a key in
the account's data bucket, named by DATA_BUCKET: `ops/package.zip` is
s3://$DATA_BUCKET/ops/package.zip.

The operation's record goes RUNNING, then SUCCEEDED (`output`: the function's return value as
JSON), TASK_FAILED (`error`: the function's exception as JSON with name, message, stack) or
RUNNER_FAILED (`error`: why the function could not be started, as JSON with name, message).

Exit codes: 0 succeeded, 1 task or runner failed (recorded), 2 bad environment (nothing
recorded), 3 the record could not be written.
"""

from __future__ import annotations

import datetime
import importlib
import json
import os
import re
import shutil
import sys
import tempfile
import traceback
import types
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions

PROG = "async-operation"
HANDLER = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
AWS_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


class Failure(Exception):
    """Stops the run with one line on stderr and an exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class UnsafeArchiveError(ValueError):
    """A package entry would be written outside the package's directory."""


def log(message: str) -> None:
    print(f"{PROG}: {message}", flush=True)


def required(variable: str, environ: Mapping[str, str], hint: str = "") -> str:
    value = environ.get(variable, "").strip()
    if not value:
        raise Failure(f"{variable} is required{hint}", 2)
    return value


def in_data_bucket(variable: str, value: str, environ: Mapping[str, str]) -> str:
    """The value as a URL: one without a scheme is a key in the data bucket DATA_BUCKET names."""
    if SCHEME.match(value):
        return value
    if value.startswith("/"):
        raise Failure(f"{variable} {value} starts with /, but keys in the data bucket do not", 2)
    bucket = environ.get("DATA_BUCKET", "").strip()
    if not bucket:
        raise Failure(f"{variable} {value} is a key in the data bucket, but DATA_BUCKET is unset", 2)
    return f"s3://{bucket}/{value}"


def s3_location(variable: str, environ: Mapping[str, str]) -> tuple[str, str, str]:
    value = required(variable, environ, " (s3://bucket/key or a key in DATA_BUCKET)")
    url = in_data_bucket(variable, value, environ)
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not bucket or not key:
        raise Failure(f"{variable} must be s3://bucket/key or a key in DATA_BUCKET, not {url}", 2)
    return url, bucket, key


class Record:
    """The operation's item in the operations table."""

    def __init__(self, dynamodb: Any, table: str, operation_id: str) -> None:
        self.dynamodb, self.table, self.id = dynamodb, table, operation_id

    def update(self, status: str, remove: tuple[str, ...] = (), **fields: str) -> None:
        # update_item rather than put_item: attributes the record's creator wrote are kept.
        fields = {"status": status, "updatedAt": now(), **fields}
        expression = "SET " + ", ".join(f"#{name} = :{name}" for name in fields)
        if remove:
            expression += " REMOVE " + ", ".join(f"#{name}" for name in remove)
        self.dynamodb.update_item(
            TableName=self.table,
            Key={"id": {"S": self.id}},
            UpdateExpression=expression,
            # Names go through placeholders: "status" is a DynamoDB reserved word.
            ExpressionAttributeNames={f"#{name}": name for name in (*fields, *remove)},
            ExpressionAttributeValues={f":{name}": {"S": value} for name, value in fields.items()},
        )

    def finish(self, status: str, **fields: str) -> None:
        try:
            self.update(status, **fields)
        except AWS_ERRORS as exc:
            # An output beyond DynamoDB's item size is refused; the operation must still end.
            error = {"name": type(exc).__name__, "message": f"cannot record {status}: {exc}"}
            try:
                self.update("RUNNER_FAILED", error=json.dumps(error))
            except AWS_ERRORS:
                pass  # the table itself is unusable: reported below
            raise Failure(f"cannot record {status} in OPERATIONS_TABLE {self.table}: {exc}", 3) from exc
        log(f"operation {self.id}: {status}")


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def extract(archive: Path, root: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        # Every name is checked before anything is written, so a refused package leaves no trace.
        for member in members:
            target = (root / member.filename).resolve()
            if Path(member.filename).is_absolute() or not target.is_relative_to(root.resolve()):
                raise UnsafeArchiveError(f"package entry {member.filename!r} points outside its directory")
        zf.extractall(root)


@contextmanager
def imported_from(root: Path) -> Iterator[None]:
    """Import from root, then forget root and the modules loaded from it."""
    sys.path.insert(0, str(root))
    try:
        yield
    finally:
        if str(root) in sys.path:
            sys.path.remove(str(root))
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if file and Path(file).resolve().is_relative_to(root.resolve()):
                del sys.modules[name]


def load_handler(name: str) -> Callable[[Any, Any], Any]:
    module_name, _, function_name = name.rpartition(".")
    importlib.invalidate_caches()  # the package's files are newer than what the import system has seen
    function = getattr(importlib.import_module(module_name), function_name)
    if not callable(function):
        raise TypeError(f"{name} is not callable")
    return function


def async_operation(environ: Mapping[str, str]) -> int:
    operation_id = required("OPERATION_ID", environ)
    table = required("OPERATIONS_TABLE", environ)
    package_url, package_bucket, package_key = s3_location("PACKAGE_URL", environ)
    payload_url, payload_bucket, payload_key = s3_location("PAYLOAD_URL", environ)
    handler_name = environ.get("HANDLER", "").strip() or "index.handler"
    if not HANDLER.fullmatch(handler_name):
        raise Failure(f"HANDLER must be module.function, not {handler_name!r}", 2)

    endpoint = environ.get("AWS_ENDPOINT_URL") or None
    s3 = boto3.client("s3", endpoint_url=endpoint)
    record = Record(boto3.client("dynamodb", endpoint_url=endpoint), table, operation_id)
    try:
        record.update("RUNNING", remove=("output", "error"))
    except AWS_ERRORS as exc:
        raise Failure(f"cannot record RUNNING in OPERATIONS_TABLE {table}: {exc}", 3) from exc
    log(f"operation {operation_id}: RUNNING")

    work = Path(tempfile.mkdtemp(prefix=f"{PROG}-"))
    package = work / "package"
    package.mkdir()
    try:
        with ExitStack() as imports:
            step = f"downloading PACKAGE_URL {package_url}"
            try:
                log(step)
                s3.download_file(package_bucket, package_key, str(work / "package.zip"))
                step = f"extracting PACKAGE_URL {package_url}"
                extract(work / "package.zip", package)
                step = f"downloading PAYLOAD_URL {payload_url}"
                log(step)
                payload = json.load(s3.get_object(Bucket=payload_bucket, Key=payload_key)["Body"])
                step = f"loading HANDLER {handler_name}"
                # Only now: until here, boto3's own lazy imports must not find the package's modules.
                imports.enter_context(imported_from(package))
                handler = load_handler(handler_name)
            except Exception as exc:  # noqa: BLE001 - whatever stops the start is recorded
                error = {"name": type(exc).__name__, "message": f"{step}: {exc}"}
                print(f"{PROG}: {error['name']}: {error['message']}", file=sys.stderr, flush=True)
                record.finish("RUNNER_FAILED", error=json.dumps(error))
                return 1

            log(f"calling {handler_name}")
            context = types.SimpleNamespace(aws_request_id=operation_id, function_name=handler_name)
            try:
                output = json.dumps(handler(payload, context))
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - the task's own failure is its result
                stack = traceback.format_exc()
                print(stack, end="", file=sys.stderr, flush=True)
                error = {"name": type(exc).__name__, "message": str(exc), "stack": stack}
                record.finish("TASK_FAILED", error=json.dumps(error))
                return 1
            record.finish("SUCCEEDED", output=output)
            return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    try:
        return async_operation(environ)
    except Failure as exc:
        print(f"{PROG}: {exc}", file=sys.stderr, flush=True)
        return exc.code


if __name__ == "__main__":
    sys.exit(main())
