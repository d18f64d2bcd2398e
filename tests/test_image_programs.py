"""The programs of the fetch-and-run, csv-stats and async-operation images, run in-process against moto."""

from __future__ import annotations

import functools
import http.server
import importlib.util
import io
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import boto3
import pytest
from moto import mock_aws

IMAGES = Path(__file__).resolve().parent.parent / "images"


def load(image: str, program: str) -> ModuleType:
    """Import images/<image>/<program>.py without leaving __pycache__ in the image's build context."""
    spec = importlib.util.spec_from_file_location(f"image_{program}", IMAGES / image / f"{program}.py")
    module = importlib.util.module_from_spec(spec)
    previous, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = previous
    return module


fetch_and_run = load("fetch-and-run", "fetch_and_run")
csv_stats = load("csv-stats", "csv_stats")
async_operation = load("async-operation", "async_operation")


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The programs' temporary directory, so tests can see what they leave behind."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, scratch: Path) -> Iterator[None]:
    """moto for every AWS call, with dummy credentials and nothing of the machine's AWS setup."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(scratch.parent / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(scratch.parent / "no-aws-credentials"))
    with mock_aws():
        yield


def bucket(name: str) -> None:
    boto3.client("s3").create_bucket(Bucket=name)


def put(bucket_name: str, key: str, body: bytes) -> None:
    boto3.client("s3").put_object(Bucket=bucket_name, Key=key, Body=body)


def zip_bytes(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


def environ(**values: str) -> dict[str, str]:
    return {**os.environ, **values}


# -- fetch-and-run ---------------------------------------------------------------------------------

REPORT_SCRIPT = """#!/bin/sh
printf '%s\\n' "$REPOSITORY" "$#" "$1" "$2" "$(pwd)" > "$OUT"
exit 7
"""


def test_fetch_and_run_runs_s3_script_with_arguments_and_environment_and_returns_its_exit_code(
    aws: None, scratch: Path, tmp_path: Path
) -> None:
    bucket("jobs")
    put("jobs", "bin/report.sh", REPORT_SCRIPT.encode())
    out = tmp_path / "out.txt"

    code = fetch_and_run.main(
        ["fetch_and_run.py", "first arg", "second"],
        environ(BATCH_FILE_URL="s3://jobs/bin/report.sh", REPOSITORY="batchform/hello", OUT=str(out)),
    )

    assert code == 7
    repository, count, first, second, cwd = out.read_text().splitlines()
    assert (repository, count, first, second) == ("batchform/hello", "2", "first arg", "second")
    assert Path(cwd).parent == scratch
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"BATCHFORM_ITEMS": '["a.csv", {"k": 1}, "c.csv"]', "AWS_BATCH_JOB_ARRAY_INDEX": "1"}, '{"k": 1}'),
        ({"BATCHFORM_ITEMS": '["a.csv", "b.csv"]', "AWS_BATCH_JOB_ARRAY_INDEX": "0"}, "a.csv"),
        ({"BATCHFORM_ITEM": "only.csv"}, "only.csv"),
        ({}, ""),
    ],
    ids=["array-child-json-item", "array-child-text-item", "single-job", "no-fan-out"],
)
def test_fetch_and_run_gives_the_script_its_fan_out_item(
    aws: None, tmp_path: Path, extra: dict[str, str], expected: str
) -> None:
    bucket("jobs")
    put("jobs", "item.sh", b'#!/bin/sh\nprintf %s "$BATCHFORM_ITEM" > "$OUT"\n')
    out = tmp_path / "item.txt"
    code = fetch_and_run.main(
        ["fetch_and_run.py"], environ(BATCH_FILE_URL="s3://jobs/item.sh", OUT=str(out), **extra)
    )
    assert code == 0
    assert out.read_text() == expected


@pytest.mark.parametrize(
    ("index", "expected"),
    [("2", "c.csv"), ("1", '{"k": 1}'), (None, "a.csv")],
    ids=["text", "json", "plain-job"],
)
def test_fetch_and_run_gives_the_script_its_item_from_the_object_batchform_items_url_names(
    aws: None, tmp_path: Path, index: str | None, expected: str
) -> None:
    bucket("jobs")
    put("jobs", "item.sh", b'#!/bin/sh\nprintf %s "$BATCHFORM_ITEM" > "$OUT"\n')
    put("jobs", "fan-out/work/abc/0.json", b'["a.csv", {"k": 1}, "c.csv"]')
    out = tmp_path / "item.txt"
    extra = {"AWS_BATCH_JOB_ARRAY_INDEX": index} if index is not None else {}
    code = fetch_and_run.main(
        ["fetch_and_run.py"],
        environ(
            BATCH_FILE_URL="s3://jobs/item.sh",
            BATCHFORM_ITEMS_URL="s3://jobs/fan-out/work/abc/0.json",
            BATCHFORM_ITEMS_OFFSET="20000",
            OUT=str(out),
            **extra,
        ),
    )
    assert code == 0
    assert out.read_text() == expected


@pytest.mark.parametrize(
    ("key", "body", "code", "message"),
    [
        ("missing.json", None, 3, "cannot read the items from s3://jobs/missing.json"),
        ("short.json", b'["a"]', 2, "no item 4 in s3://jobs/short.json"),
        ("object.json", b'{"a": 1}', 2, "no item 4 in s3://jobs/object.json"),
    ],
)
def test_fetch_and_run_fails_without_running_the_script_when_its_stored_item_cannot_be_had(
    aws: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    key: str,
    body: bytes | None,
    code: int,
    message: str,
) -> None:
    bucket("jobs")
    put("jobs", "item.sh", b'#!/bin/sh\ntouch "$OUT"\n')
    if body is not None:
        put("jobs", key, body)
    out = tmp_path / "ran"
    env = environ(
        BATCH_FILE_URL="s3://jobs/item.sh",
        BATCHFORM_ITEMS_URL=f"s3://jobs/{key}",
        AWS_BATCH_JOB_ARRAY_INDEX="4",
        OUT=str(out),
    )
    assert fetch_and_run.main(["fetch_and_run.py"], env) == code
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_fetch_and_run_runs_a_script_without_shebang_with_sh(aws: None, tmp_path: Path) -> None:
    bucket("jobs")
    put("jobs", "plain", b'echo "ran as $0" > "$OUT"\n')
    out = tmp_path / "out.txt"

    code = fetch_and_run.main(["fetch_and_run.py"], environ(BATCH_FILE_URL="s3://jobs/plain", OUT=str(out)))

    assert code == 0
    assert out.read_text().startswith("ran as ") and out.read_text().strip().endswith("/plain")


def test_fetch_and_run_returns_128_plus_signal_when_the_script_is_killed(aws: None) -> None:
    bucket("jobs")
    put("jobs", "die.sh", b"#!/bin/sh\nkill -TERM $$\n")

    assert fetch_and_run.main(["fetch_and_run.py"], environ(BATCH_FILE_URL="s3://jobs/die.sh")) == 128 + 15


def test_fetch_and_run_runs_the_entry_named_by_the_first_argument_from_an_s3_zip(
    aws: None, scratch: Path, tmp_path: Path
) -> None:
    bucket("jobs")
    archive = {
        "tools/job.sh": 'cat data/input.txt > "$OUT"\necho "$1" >> "$OUT"\nexit 4\n',
        "data/input.txt": "from the archive\n",
        "run.sh": 'echo "wrong entry" > "$OUT"\n',
    }
    put("jobs", "bundles/job.zip", zip_bytes(archive))
    out = tmp_path / "out.txt"

    code = fetch_and_run.main(
        ["fetch_and_run.py", "tools/job.sh", "argument"],
        environ(BATCH_FILE_URL="s3://jobs/bundles/job.zip", OUT=str(out)),
    )

    assert code == 4
    assert out.read_text() == "from the archive\nargument\n"
    assert list(scratch.iterdir()) == []


def test_fetch_and_run_runs_run_sh_from_a_zip_when_no_argument_names_an_entry(
    aws: None, tmp_path: Path
) -> None:
    bucket("jobs")
    put("jobs", "bundle", zip_bytes({"run.sh": 'echo default > "$OUT"\n'}))
    out = tmp_path / "out.txt"

    code = fetch_and_run.main(
        ["fetch_and_run.py"], environ(BATCH_FILE_URL="s3://jobs/bundle", BATCH_FILE_TYPE="zip", OUT=str(out))
    )

    assert code == 0
    assert out.read_text() == "default\n"


def test_fetch_and_run_refuses_a_zip_entry_escaping_its_directory_and_writes_nothing(
    aws: None, scratch: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket("jobs")
    marker = tmp_path / "ran.txt"
    put("jobs", "evil.zip", zip_bytes({"run.sh": f"touch {marker}\n", "../evil": "escaped\n"}))

    code = fetch_and_run.main(["fetch_and_run.py"], environ(BATCH_FILE_URL="s3://jobs/evil.zip"))

    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("fetch-and-run: BATCH_FILE_URL s3://jobs/evil.zip: entry '../evil' points outside")
    assert not marker.exists()
    assert not (scratch / "evil").exists()
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize(
    "url", ["http://example.com/job.sh", "ftp://example.com/job.sh", "file:///bin/true", "s3://bucket-only"]
)
def test_fetch_and_run_refuses_urls_other_than_s3_and_https(
    url: str, aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert fetch_and_run.main(["fetch_and_run.py"], environ(BATCH_FILE_URL=url)) == 2
    err = capsys.readouterr().err
    assert err.startswith("fetch-and-run: BATCH_FILE_URL must be s3://bucket/key, https://... or a key in ")
    assert err.count("\n") == 1


def test_fetch_and_run_requires_batch_file_url(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    env = environ()
    env.pop("BATCH_FILE_URL", None)

    assert fetch_and_run.main(["fetch_and_run.py"], env) == 2
    assert capsys.readouterr().err == (
        "fetch-and-run: BATCH_FILE_URL is required (s3://bucket/key, https://... or a key in DATA_BUCKET)\n"
    )


def test_fetch_and_run_reports_a_missing_s3_key_with_exit_3(
    aws: None, scratch: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket("jobs")

    code = fetch_and_run.main(["fetch_and_run.py"], environ(BATCH_FILE_URL="s3://jobs/missing.sh"))

    assert code == 3
    err = capsys.readouterr().err
    assert err.startswith("fetch-and-run: cannot download s3://jobs/missing.sh: ")
    assert err.count("\n") == 1
    assert list(scratch.iterdir()) == []


def test_fetch_and_run_runs_a_script_named_by_its_key_in_the_data_bucket(aws: None, tmp_path: Path) -> None:
    bucket("account-data")
    put("account-data", "jobs/report.sh", b'#!/bin/sh\necho "from the data bucket" > "$OUT"\n')
    out = tmp_path / "out.txt"

    code = fetch_and_run.main(
        ["fetch_and_run.py"],
        environ(BATCH_FILE_URL="jobs/report.sh", DATA_BUCKET="account-data", OUT=str(out)),
    )

    assert code == 0
    assert out.read_text() == "from the data bucket\n"


def test_fetch_and_run_runs_the_zip_named_by_its_key_in_the_data_bucket(aws: None, tmp_path: Path) -> None:
    bucket("account-data")
    put("account-data", "jobs/bundle.zip", zip_bytes({"run.sh": 'echo zipped > "$OUT"\n'}))
    out = tmp_path / "out.txt"

    code = fetch_and_run.main(
        ["fetch_and_run.py"],
        environ(BATCH_FILE_URL="jobs/bundle.zip", DATA_BUCKET="account-data", OUT=str(out)),
    )

    assert code == 0
    assert out.read_text() == "zipped\n"


def test_fetch_and_run_refuses_a_key_when_data_bucket_is_unset(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    env = environ(BATCH_FILE_URL="jobs/report.sh")
    env.pop("DATA_BUCKET", None)

    assert fetch_and_run.main(["fetch_and_run.py"], env) == 2
    assert capsys.readouterr().err == (
        "fetch-and-run: BATCH_FILE_URL jobs/report.sh is a key in the data bucket, but DATA_BUCKET is unset\n"
    )


def test_fetch_and_run_refuses_a_key_starting_with_a_slash(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket("account-data")
    put("account-data", "/jobs/report.sh", b"#!/bin/sh\n")

    code = fetch_and_run.main(
        ["fetch_and_run.py"], environ(BATCH_FILE_URL="/jobs/report.sh", DATA_BUCKET="account-data")
    )

    assert code == 2
    assert capsys.readouterr().err == (
        "fetch-and-run: BATCH_FILE_URL /jobs/report.sh starts with /, but keys in the data bucket do not\n"
    )


def test_fetch_and_run_takes_an_s3_url_as_it_is_whatever_data_bucket_says(aws: None, tmp_path: Path) -> None:
    bucket("jobs")
    bucket("account-data")
    put("jobs", "job.sh", b'#!/bin/sh\necho "from jobs" > "$OUT"\n')
    put("account-data", "job.sh", b'#!/bin/sh\necho "from the data bucket" > "$OUT"\n')
    out = tmp_path / "out.txt"

    code = fetch_and_run.main(
        ["fetch_and_run.py"],
        environ(BATCH_FILE_URL="s3://jobs/job.sh", DATA_BUCKET="account-data", OUT=str(out)),
    )

    assert code == 0
    assert out.read_text() == "from jobs\n"


@pytest.fixture
def https_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path, Path]]:
    """An HTTPS server on loopback with a fresh self-signed certificate: (base URL, web root, cert)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for name in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", root, cert
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_fetch_and_run_downloads_and_runs_a_script_over_https(
    aws: None, https_server: tuple[str, Path, Path], tmp_path: Path
) -> None:
    base, root, _ = https_server
    (root / "job.sh").write_text('#!/bin/sh\necho "over https: $1" > "$OUT"\n')
    out = tmp_path / "out.txt"

    code = fetch_and_run.main(
        ["fetch_and_run.py", "yes"], environ(BATCH_FILE_URL=f"{base}/job.sh", OUT=str(out))
    )

    assert code == 0
    assert out.read_text() == "over https: yes\n"


def test_fetch_and_run_reports_an_https_404_with_exit_3(
    aws: None, https_server: tuple[str, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, _, _ = https_server

    code = fetch_and_run.main(["fetch_and_run.py"], environ(BATCH_FILE_URL=f"{base}/absent.sh?token=secret"))

    assert code == 3
    err = capsys.readouterr().err
    assert err.startswith(f"fetch-and-run: cannot download {base}/absent.sh?…: ") and "404" in err
    assert "secret" not in err


# -- csv-stats -------------------------------------------------------------------------------------

CSV = """city,population,area,note
Oslo,709000,454.0,capital
Bergen,291000,465.3,
Trondheim,212000,,
Bergen,291000,445.12,rainy
"""


def test_csv_stats_writes_per_column_statistics_to_s3(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    bucket("inbox")
    bucket("outbox")
    put("inbox", "data.csv", CSV.encode())

    code = csv_stats.main([], environ(INPUT_URL="s3://inbox/data.csv", OUTPUT_URL="s3://outbox/stats.json"))

    assert code == 0
    obj = boto3.client("s3").get_object(Bucket="outbox", Key="stats.json")
    assert obj["ContentType"] == "application/json"
    stats = json.loads(obj["Body"].read())
    assert stats == {
        "input": "s3://inbox/data.csv",
        "rows": 4,
        "columns": {
            "city": {"count": 4, "distinct": 3},
            "population": {"count": 4, "min": 212000, "max": 709000, "sum": 1503000, "mean": 375750.0},
            "area": {
                "count": 3,
                "min": 445.12,
                "max": 465.3,
                "sum": pytest.approx(1364.42),
                "mean": pytest.approx(454.80667),
            },
            "note": {"count": 2, "distinct": 2},
        },
    }
    assert (
        "csv-stats: 4 rows, 4 columns (2 numeric) from s3://inbox/data.csv -> s3://outbox/stats.json\n"
        in capsys.readouterr().out
    )


def test_csv_stats_exits_3_and_writes_nothing_when_the_input_is_missing(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket("inbox")
    bucket("outbox")

    code = csv_stats.main([], environ(INPUT_URL="s3://inbox/absent.csv", OUTPUT_URL="s3://outbox/stats.json"))

    assert code == 3
    err = capsys.readouterr().err
    assert err.startswith("csv-stats: cannot read s3://inbox/absent.csv: ") and err.count("\n") == 1
    assert boto3.client("s3").list_objects_v2(Bucket="outbox")["KeyCount"] == 0


def test_csv_stats_requires_an_output_url(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    env = environ(INPUT_URL="s3://inbox/data.csv")
    env.pop("OUTPUT_URL", None)

    assert csv_stats.main([], env) == 2
    assert (
        capsys.readouterr().err
        == "csv-stats: OUTPUT_URL is required (s3://bucket/key or a key in DATA_BUCKET)\n"
    )


def test_csv_stats_refuses_a_url_other_than_s3(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    env = environ(INPUT_URL="https://example.com/data.csv", OUTPUT_URL="s3://outbox/stats.json")

    assert csv_stats.main([], env) == 2
    assert capsys.readouterr().err == (
        "csv-stats: INPUT_URL must be s3://bucket/key or a key in DATA_BUCKET, not https://example.com/data.csv\n"
    )


def test_csv_stats_reads_and_writes_keys_in_the_data_bucket(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket("account-data")
    put("account-data", "inputs/example.csv", CSV.encode())

    code = csv_stats.main(
        [],
        environ(
            INPUT_URL="inputs/example.csv", OUTPUT_URL="results/example.json", DATA_BUCKET="account-data"
        ),
    )

    assert code == 0
    obj = boto3.client("s3").get_object(Bucket="account-data", Key="results/example.json")
    stats = json.loads(obj["Body"].read())
    assert (stats["input"], stats["rows"]) == ("s3://account-data/inputs/example.csv", 4)
    assert (
        "from s3://account-data/inputs/example.csv -> s3://account-data/results/example.json\n"
        in capsys.readouterr().out
    )


@pytest.mark.parametrize("variable", ["INPUT_URL", "OUTPUT_URL"])
def test_csv_stats_refuses_a_key_when_data_bucket_is_unset(
    aws: None, capsys: pytest.CaptureFixture[str], variable: str
) -> None:
    env = environ(
        **{"INPUT_URL": "s3://inbox/data.csv", "OUTPUT_URL": "s3://outbox/stats.json", variable: "a/b"}
    )
    env.pop("DATA_BUCKET", None)

    assert csv_stats.main([], env) == 2
    assert (
        capsys.readouterr().err
        == f"csv-stats: {variable} a/b is a key in the data bucket, but DATA_BUCKET is unset\n"
    )


def test_csv_stats_refuses_a_key_starting_with_a_slash_and_writes_nothing(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket("account-data")
    put("account-data", "inputs/example.csv", CSV.encode())
    env = environ(INPUT_URL="inputs/example.csv", OUTPUT_URL="/tmp/stats.json", DATA_BUCKET="account-data")

    assert csv_stats.main([], env) == 2
    assert capsys.readouterr().err == (
        "csv-stats: OUTPUT_URL /tmp/stats.json starts with /, but keys in the data bucket do not\n"
    )
    assert boto3.client("s3").list_objects_v2(Bucket="account-data")["KeyCount"] == 1


def test_csv_stats_takes_s3_urls_as_they_are_whatever_data_bucket_says(aws: None) -> None:
    bucket("inbox")
    bucket("outbox")
    bucket("account-data")
    put("inbox", "data.csv", CSV.encode())

    code = csv_stats.main(
        [],
        environ(
            INPUT_URL="s3://inbox/data.csv", OUTPUT_URL="s3://outbox/stats.json", DATA_BUCKET="account-data"
        ),
    )

    assert code == 0
    s3 = boto3.client("s3")
    assert json.loads(s3.get_object(Bucket="outbox", Key="stats.json")["Body"].read())["rows"] == 4
    assert s3.list_objects_v2(Bucket="account-data")["KeyCount"] == 0


# -- async-operation -------------------------------------------------------------------------------

HANDLER = """
def handler(event, context):
    if not event["numbers"]:
        raise ValueError("no numbers to add")
    return {"total": sum(event["numbers"]), "request": context.aws_request_id, "name": context.function_name}
"""


@pytest.fixture
def operations(aws: None) -> dict[str, str]:
    """An operations table, a package and the environment of an operation (payload not yet written)."""
    boto3.client("dynamodb").create_table(
        TableName="operations",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    bucket("ops")
    put("ops", "package.zip", zip_bytes({"index.py": HANDLER}))
    return environ(
        OPERATION_ID="op-1",
        OPERATIONS_TABLE="operations",
        PACKAGE_URL="s3://ops/package.zip",
        PAYLOAD_URL="s3://ops/payload.json",
    )


def record(operation_id: str = "op-1") -> dict[str, str]:
    item = boto3.client("dynamodb").get_item(TableName="operations", Key={"id": {"S": operation_id}})["Item"]
    return {name: value["S"] for name, value in item.items()}


def test_async_operation_records_succeeded_with_the_handler_output(
    operations: dict[str, str], scratch: Path
) -> None:
    put("ops", "payload.json", json.dumps({"numbers": [1, 2, 3.5]}).encode())

    assert async_operation.main([], operations) == 0

    item = record()
    assert item["status"] == "SUCCEEDED"
    assert json.loads(item["output"]) == {"total": 6.5, "request": "op-1", "name": "index.handler"}
    assert item["updatedAt"].endswith("Z") and "error" not in item
    assert list(scratch.iterdir()) == []
    assert "index" not in sys.modules and not any(entry.startswith(str(scratch)) for entry in sys.path)


def test_async_operation_records_task_failed_when_the_handler_raises(
    operations: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    put("ops", "payload.json", json.dumps({"numbers": []}).encode())

    assert async_operation.main([], operations) == 1

    item = record()
    assert item["status"] == "TASK_FAILED" and "output" not in item
    error = json.loads(item["error"])
    assert (error["name"], error["message"]) == ("ValueError", "no numbers to add")
    assert "Traceback" in error["stack"] and 'raise ValueError("no numbers to add")' in error["stack"]
    assert "ValueError: no numbers to add" in capsys.readouterr().err


def test_async_operation_records_runner_failed_when_the_package_is_missing(
    operations: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    put("ops", "payload.json", b"{}")

    assert async_operation.main([], {**operations, "PACKAGE_URL": "s3://ops/absent.zip"}) == 1

    item = record()
    assert item["status"] == "RUNNER_FAILED"
    error = json.loads(item["error"])
    assert set(error) == {"name", "message"}
    assert error["message"].startswith("downloading PACKAGE_URL s3://ops/absent.zip: ")
    assert "RUNNER_FAILED" in capsys.readouterr().out


def test_async_operation_refuses_a_package_escaping_its_directory(
    operations: dict[str, str], scratch: Path
) -> None:
    put("ops", "payload.json", b"{}")
    put("ops", "evil.zip", zip_bytes({"index.py": HANDLER, "../../evil.py": "x = 1\n"}))

    assert async_operation.main([], {**operations, "PACKAGE_URL": "s3://ops/evil.zip"}) == 1

    assert record()["status"] == "RUNNER_FAILED"
    assert json.loads(record()["error"])["name"] == "UnsafeArchiveError"
    assert not (scratch / "evil.py").exists() and not (scratch.parent / "evil.py").exists()


def test_async_operation_exits_2_without_recording_when_the_environment_is_incomplete(
    operations: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    env = {**operations, "HANDLER": "no_function"}

    assert async_operation.main([], env) == 2

    assert capsys.readouterr().err == "async-operation: HANDLER must be module.function, not 'no_function'\n"
    assert "Item" not in boto3.client("dynamodb").get_item(TableName="operations", Key={"id": {"S": "op-1"}})


def test_async_operation_reads_package_and_payload_by_their_keys_in_the_data_bucket(
    operations: dict[str, str],
) -> None:
    bucket("account-data")
    put("account-data", "ops/package.zip", zip_bytes({"index.py": HANDLER}))
    put("account-data", "ops/op-1.json", json.dumps({"numbers": [40, 2]}).encode())
    env = {
        **operations,
        "PACKAGE_URL": "ops/package.zip",
        "PAYLOAD_URL": "ops/op-1.json",
        "DATA_BUCKET": "account-data",
    }

    assert async_operation.main([], env) == 0

    item = record()
    assert item["status"] == "SUCCEEDED"
    assert json.loads(item["output"])["total"] == 42


@pytest.mark.parametrize("variable", ["PACKAGE_URL", "PAYLOAD_URL"])
def test_async_operation_exits_2_without_recording_when_a_key_has_no_data_bucket(
    operations: dict[str, str], capsys: pytest.CaptureFixture[str], variable: str
) -> None:
    env = {**operations, variable: "ops/object"}
    env.pop("DATA_BUCKET", None)

    assert async_operation.main([], env) == 2

    assert capsys.readouterr().err == (
        f"async-operation: {variable} ops/object is a key in the data bucket, but DATA_BUCKET is unset\n"
    )
    assert "Item" not in boto3.client("dynamodb").get_item(TableName="operations", Key={"id": {"S": "op-1"}})


def test_async_operation_exits_2_without_recording_when_a_key_starts_with_a_slash(
    operations: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    env = {**operations, "PACKAGE_URL": "/ops/package.zip", "DATA_BUCKET": "ops"}

    assert async_operation.main([], env) == 2

    assert capsys.readouterr().err == (
        "async-operation: PACKAGE_URL /ops/package.zip starts with /, but keys in the data bucket do not\n"
    )
    assert "Item" not in boto3.client("dynamodb").get_item(TableName="operations", Key={"id": {"S": "op-1"}})


def test_async_operation_takes_s3_urls_as_they_are_whatever_data_bucket_says(
    operations: dict[str, str],
) -> None:
    bucket("account-data")
    put(
        "account-data",
        "package.zip",
        zip_bytes({"index.py": "def handler(event, context):\n    return 'wrong'\n"}),
    )
    put("account-data", "payload.json", json.dumps({"numbers": [0]}).encode())
    put("ops", "payload.json", json.dumps({"numbers": [1, 2]}).encode())

    assert async_operation.main([], {**operations, "DATA_BUCKET": "account-data"}) == 0

    assert json.loads(record()["output"])["total"] == 3
