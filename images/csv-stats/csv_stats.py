"""Per-column statistics of a CSV file in S3, written back to S3 as JSON.

Environment: INPUT_URL (s3://bucket/key of a CSV file with a header row), OUTPUT_URL
(s3://bucket/key for the JSON result). Either may instead be a key in the account's data
bucket, named by DATA_BUCKET: `inputs/example.csv` is s3://$DATA_BUCKET/inputs/example.csv.

Every column gets `count` (non-empty cells). A column whose non-empty cells are all numbers
also gets `min`, `max`, `sum` and `mean`; any other column gets `distinct` (distinct values).
Cells are compared without surrounding blanks.

Exit codes: 0 done, 2 bad input, 3 S3 read or write failed.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import sys
from collections.abc import Iterable, Mapping

import boto3
import botocore.exceptions

PROG = "csv-stats"
# Plain decimal notation only: float() would also take "nan", "inf" and "1_000".
NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
INTEGER = re.compile(r"[+-]?\d+")
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
AWS_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


class Failure(Exception):
    """Stops the run with one line on stderr and an exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def log(message: str) -> None:
    print(f"{PROG}: {message}", flush=True)


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
    value = environ.get(variable, "").strip()
    if not value:
        raise Failure(f"{variable} is required (s3://bucket/key or a key in DATA_BUCKET)", 2)
    url = in_data_bucket(variable, value, environ)
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not bucket or not key:
        raise Failure(f"{variable} must be s3://bucket/key or a key in DATA_BUCKET, not {url}", 2)
    return url, bucket, key


class Column:
    """Running statistics of one column; distinct values are kept until the column proves numeric."""

    def __init__(self) -> None:
        self.count = 0
        self.numeric = True
        self.integral = True
        self.minimum: float = 0
        self.maximum: float = 0
        self.total: float = 0
        self.values: set[str] = set()

    def add(self, cell: str) -> None:
        cell = cell.strip()
        if not cell:
            return
        self.count += 1
        self.values.add(cell)
        if not self.numeric:
            return
        # Numbers beyond float's range ("1e999") are text: JSON cannot carry infinity.
        if not NUMBER.fullmatch(cell) or not math.isfinite(float(cell)):
            self.numeric = False
            return
        value = int(cell) if INTEGER.fullmatch(cell) else float(cell)
        # Integers stay exact; one decimal value turns the whole column into floats.
        if self.integral and isinstance(value, float):
            self.integral = False
            self.minimum, self.maximum, self.total = (
                float(self.minimum),
                float(self.maximum),
                float(self.total),
            )
        if not self.integral:
            value = float(value)
        if self.count == 1:
            self.minimum = self.maximum = value
        else:
            self.minimum, self.maximum = min(self.minimum, value), max(self.maximum, value)
        self.total += value

    @property
    def is_numeric(self) -> bool:
        return self.numeric and self.count > 0

    def result(self) -> dict[str, float]:
        if not self.is_numeric:
            return {"count": self.count, "distinct": len(self.values)}
        return {
            "count": self.count,
            "min": self.minimum,
            "max": self.maximum,
            "sum": self.total,
            "mean": self.total / self.count,
        }


def statistics(rows: Iterable[list[str]], url: str) -> tuple[int, dict[str, Column]]:
    rows = iter(rows)
    header = next(rows, None)
    if not header:
        raise Failure(f"INPUT_URL {url} has no header row", 2)
    names = [name.strip() for name in header]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise Failure(f"INPUT_URL {url} repeats column names: {', '.join(duplicates)}", 2)
    columns = {name: Column() for name in names}
    ordered = list(columns.values())
    count = 0
    for row in rows:
        if not row:
            continue  # a blank line is not a row (as csv.DictReader has it)
        count += 1
        # Missing trailing cells are empty; cells beyond the header have no column.
        for column, cell in zip(ordered, row, strict=False):
            column.add(cell)
    return count, columns


def csv_stats(environ: Mapping[str, str]) -> int:
    input_url, in_bucket, in_key = s3_location("INPUT_URL", environ)
    output_url, out_bucket, out_key = s3_location("OUTPUT_URL", environ)
    s3 = boto3.client("s3", endpoint_url=environ.get("AWS_ENDPOINT_URL") or None)

    log(f"reading {input_url}")
    try:
        body = s3.get_object(Bucket=in_bucket, Key=in_key)["Body"]
        # utf-8-sig drops the byte order mark spreadsheet programs put in front of the header.
        with io.TextIOWrapper(body, encoding="utf-8-sig", newline="") as text:
            rows, columns = statistics(csv.reader(text), input_url)
    except AWS_ERRORS as exc:
        raise Failure(f"cannot read {input_url}: {exc}", 3) from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise Failure(f"INPUT_URL {input_url} is not a UTF-8 CSV file: {exc}", 2) from exc

    result = {"input": input_url, "rows": rows, "columns": {name: c.result() for name, c in columns.items()}}
    document = json.dumps(result, sort_keys=True, indent=2) + "\n"
    try:
        s3.put_object(Bucket=out_bucket, Key=out_key, Body=document.encode(), ContentType="application/json")
    except AWS_ERRORS as exc:
        raise Failure(f"cannot write {output_url}: {exc}", 3) from exc

    numeric = sum(1 for column in columns.values() if column.is_numeric)
    log(f"{rows} rows, {len(columns)} columns ({numeric} numeric) from {input_url} -> {output_url}")
    return 0


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    try:
        return csv_stats(environ)
    except Failure as exc:
        print(f"{PROG}: {exc}", file=sys.stderr, flush=True)
        return exc.code


if __name__ == "__main__":
    sys.exit(main())
