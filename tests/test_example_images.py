"""Each image under images/ runs as a Batch job on the local stack and does its job.

The images were built, pushed and deployed by the demo (`demo_run`), which also made the
account's data bucket and its operations table with terraform. Each test submits the deployed
job the way a developer would, with environment overrides, and checks what the job did in the
emulator's S3 and DynamoDB with boto3. The containers reach them with the credentials of their
job role, as on AWS. The README's walkthroughs are run exactly as written.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from batchform import jobs, logs
from batchform.deployment import outputs
from batchform.follow import JobWatcher
from batchform.settings import paths
from batchform.terraform import outputs_cache

pytestmark = [pytest.mark.stack, pytest.mark.terraform]  # the demo applies the local account

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data_bucket(local_account, demo_run) -> Iterator[str]:
    """The account's data bucket, as terraform made it; what the tests put there is removed."""
    bucket = outputs(local_account)["data_bucket"]
    s3 = local_account.client("s3")
    before = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    yield bucket
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        if item["Key"] not in before:
            s3.delete_object(Bucket=bucket, Key=item["Key"])


def _run(account, job: str, env: dict[str, str]) -> tuple[str, list[str]]:
    # A fresh token: every run here is a new job, even with the same environment.
    request = jobs.SubmitRequest(job=job, env=env)
    [submitted] = jobs.Submitter(account).submit(
        jobs.deployed_job(account, job), request, token=uuid.uuid4().hex
    )
    job_id = submitted.job_id
    state = JobWatcher(account, echo=lambda _line: None, poll=1.0).wait([job_id], timeout=300)[job_id]
    return state.status, list(logs.lines(account, job_id))


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_fetch_and_run_runs_the_script_from_s3_and_its_exit_code_is_the_jobs(
    local_account, data_bucket
) -> None:
    s3 = local_account.client("s3")
    script = '#!/bin/sh\necho "building $REPOSITORY at $REVISION"\nexit "${EXIT_CODE:-0}"\n'
    s3.put_object(Bucket=data_bucket, Key="scripts/build.sh", Body=script.encode())
    url = f"s3://{data_bucket}/scripts/build.sh"

    status, lines = _run(
        local_account,
        "fetch-and-run",
        {"BATCH_FILE_URL": url, "REPOSITORY": "acme/app", "REVISION": "abc123"},
    )
    assert status == "SUCCEEDED"
    assert "building acme/app at abc123" in lines

    status, _ = _run(
        local_account, "fetch-and-run", {"BATCH_FILE_URL": url, "REPOSITORY": "x", "EXIT_CODE": "3"}
    )
    assert status == "FAILED"


def test_fetch_and_run_runs_run_sh_from_a_zip_of_scripts(local_account, data_bucket) -> None:
    s3 = local_account.client("s3")
    archive = _zip(
        {
            "run.sh": '#!/bin/sh\n. ./lib.sh\ngreet "$REPOSITORY"\n',
            "lib.sh": 'greet() { echo "hello from the zip, $1"; }\n',
        }
    )
    s3.put_object(Bucket=data_bucket, Key="scripts/bundle.zip", Body=archive)

    status, lines = _run(
        local_account,
        "fetch-and-run",
        {"BATCH_FILE_URL": f"s3://{data_bucket}/scripts/bundle.zip", "REPOSITORY": "acme/zip"},
    )
    assert status == "SUCCEEDED"
    assert "hello from the zip, acme/zip" in lines


def test_csv_stats_reads_its_input_from_s3_and_writes_the_statistics_back(local_account, data_bucket) -> None:
    s3 = local_account.client("s3")
    csv = "city,population,area\nLyon,522000,47.87\nNantes,320000,65.19\nLille,236000,34.51\n"
    s3.put_object(Bucket=data_bucket, Key="inputs/cities.csv", Body=csv.encode())
    key = f"results/cities-{uuid.uuid4().hex[:6]}.json"

    # Keys, not URLs: the job definition tells the job its bucket (DATA_BUCKET).
    status, lines = _run(local_account, "csv-stats", {"INPUT_URL": "inputs/cities.csv", "OUTPUT_URL": key})
    assert status == "SUCCEEDED", lines
    result = json.loads(s3.get_object(Bucket=data_bucket, Key=key)["Body"].read())
    assert result["rows"] == 3
    assert result["columns"]["population"] == {
        "count": 3,
        "min": 236000,
        "max": 522000,
        "sum": 1078000,
        "mean": pytest.approx(359333.333, rel=1e-6),
    }
    assert result["columns"]["city"] == {"count": 3, "distinct": 3}
    assert any(line.startswith("csv-stats: 3 rows") for line in lines)


@pytest.fixture
def operations_table(local_account, demo_run) -> str:
    """The account's operations table, as terraform made it from the source's `tables`."""
    return outputs(local_account)["tables"]["operations"]["name"]


@pytest.mark.parametrize(
    ("handler", "expected_status", "job_status"),
    [
        (
            "def handler(event, context):\n"
            "    return {'total': sum(event['values']), 'id': context.aws_request_id}\n",
            "SUCCEEDED",
            "SUCCEEDED",
        ),
        (
            "def handler(event, context):\n    raise ValueError('values must be positive')\n",
            "TASK_FAILED",
            "FAILED",
        ),
    ],
    ids=["function-returns", "function-raises"],
)
def test_async_operation_runs_the_function_and_records_its_outcome_in_dynamodb(
    local_account,
    data_bucket,
    operations_table,
    handler: str,
    expected_status: str,
    job_status: str,
) -> None:
    s3 = local_account.client("s3")
    operation = f"op-{uuid.uuid4().hex[:8]}"
    s3.put_object(
        Bucket=data_bucket, Key=f"operations/{operation}/package.zip", Body=_zip({"index.py": handler})
    )
    s3.put_object(
        Bucket=data_bucket,
        Key=f"operations/{operation}/payload.json",
        Body=json.dumps({"values": [1, 2, 39]}).encode(),
    )

    status, lines = _run(
        local_account,
        "async-operation",
        {
            "OPERATION_ID": operation,
            "PACKAGE_URL": f"s3://{data_bucket}/operations/{operation}/package.zip",
            "PAYLOAD_URL": f"s3://{data_bucket}/operations/{operation}/payload.json",
        },
    )
    assert status == job_status, lines
    item = local_account.client("dynamodb").get_item(
        TableName=operations_table, Key={"id": {"S": operation}}
    )["Item"]
    assert item["status"]["S"] == expected_status
    if expected_status == "SUCCEEDED":
        assert json.loads(item["output"]["S"]) == {"total": 42, "id": operation}
    else:
        error = json.loads(item["error"]["S"])
        assert (error["name"], error["message"]) == ("ValueError", "values must be positive")

    local_account.client("dynamodb").delete_item(TableName=operations_table, Key={"id": {"S": operation}})


def readme_walkthroughs() -> dict[str, str]:
    """The README's commands for each example image: the sh blocks of each `####` part of
    "The example jobs", by image name."""
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("\n### The example jobs", 1)[1].split("\n### ", 1)[0]
    found = {}
    for part in section.split("\n#### ")[1:]:
        image = re.split(r"[:\s]", part, maxsplit=1)[0]
        found[image] = "".join(re.findall(r"```sh\n(.*?)```", part, re.DOTALL))
    return found


# What each walkthrough's last command prints when the job did its work.
WALKTHROUGH_SHOWS = {
    "hello": [r"greeting hi", r"SUCCEEDED"],
    "csv-stats": [r'"rows": 4', r'"population": \{[^}]*"max": 522000'],
    "fetch-and-run": [r"report for data: running as job", r"SUCCEEDED"],
    "async-operation": [
        r'"status": "SUCCEEDED"',
        r'"output": "\{\\"operation\\": \\"op-1\\", \\"total\\": 42\}"',
    ],
}


def test_the_readme_walks_through_every_example_image() -> None:
    images = sorted(path.parent.name for path in (REPO_ROOT / "images").glob("*/Dockerfile"))
    assert sorted(readme_walkthroughs()) == images == sorted(WALKTHROUGH_SHOWS)


@pytest.fixture
def newcomer_env(local_account, demo_run, tmp_path: Path) -> dict[str, str]:  # noqa: ANN001
    """A shell of someone who just ran the demo: the project's local stack and deployed outputs,
    with a submission journal of its own. A walkthrough run again within the hour would reattach
    to the jobs of the last run, whose results the tests have removed since."""
    home = paths().home
    fresh = tmp_path / "home"
    (fresh / "terraform" / "local").mkdir(parents=True)
    (fresh / "local").symlink_to(home / "local")
    shutil.copy(outputs_cache(local_account), fresh / "terraform" / "local" / "outputs.json")
    return {**os.environ, "BATCHFORM_HOME": str(fresh)}


@pytest.mark.parametrize("image", sorted(WALKTHROUGH_SHOWS))
def test_each_readme_walkthrough_succeeds_as_written(
    local_account,  # noqa: ANN001
    data_bucket: str,
    newcomer_env: dict[str, str],
    image: str,
) -> None:
    commands = readme_walkthroughs()[image]
    assert commands.strip(), f"no commands for {image} in the README"
    done = subprocess.run(  # noqa: S603 - the README's own commands
        ["bash", "-euo", "pipefail", "-c", commands],  # noqa: S607
        cwd=REPO_ROOT,
        env=newcomer_env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if image == "async-operation":
        table = outputs(local_account)["tables"]["operations"]["name"]
        local_account.client("dynamodb").delete_item(TableName=table, Key={"id": {"S": "op-1"}})
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed
    for shown in WALKTHROUGH_SHOWS[image]:
        assert re.search(shown, done.stdout), f"{shown!r} not in:\n{printed}"


def test_a_submit_to_the_fair_share_queue_with_other_resources_runs_there(local_account, demo_run) -> None:  # noqa: ANN001
    """local's second queue, `shared`, has a fair-share policy: --queue shared --share nightly."""
    request = jobs.SubmitRequest(
        job="hello", env={"GREETING": "shared"}, share="nightly", vcpus=0.5, memory=1024
    )
    target = jobs.deployed_job(local_account, "hello", "shared")
    [submitted] = jobs.Submitter(local_account).submit(target, request, token=uuid.uuid4().hex)
    state = JobWatcher(local_account, echo=lambda _line: None, poll=1.0).wait([submitted.job_id], timeout=300)
    assert state[submitted.job_id].status == "SUCCEEDED"
    [described] = local_account.client("batch").describe_jobs(jobs=[submitted.job_id])["jobs"]
    assert described["jobQueue"].endswith(":job-queue/batchform-local-shared")
    assert described["shareIdentifier"] == "nightly"
    assert {r["type"]: r["value"] for r in described["container"]["resourceRequirements"]} == {
        "VCPU": "0.5",
        "MEMORY": "1024",
    }
