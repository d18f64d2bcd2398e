"""Submitting jobs: limits checked before any AWS call, fan-out, idempotency and pacing.

Against in-process moto: no docker, no local stack, and no job container is ever run.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import itertools
import json
import os
import random
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from batchform import jobs, retry
from batchform.cli import values
from batchform.errors import FieldError, UserError
from batchform.jobs import DeployedJob, SubmitRequest, Submitter
from batchform.jobs.requests import LOOKUP_STATUSES
from botocore.exceptions import ClientError, ConnectionClosedError
from conftest import in_process_aws

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, where bench/ is

from bench.stack import unmanaged_queue  # noqa: E402

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
LIMIT = 30 * 1024
A_JOB_ID = "8bef592f-1d2e-4c3b-9a7f-0123456789ab"
DATA_BUCKET, PREFIX = "batchform-test-data", "fan-out/hello/"
# AWS-FIDELITY: SubmitJob accepts up to 30 KiB, "but the ECS task that runs the job refuses
# overrides (environment + command) over 8,192 characters: the job is accepted and then goes
# FAILED with StatusReason: "Container Overrides length must be at most 8192"".
OVERRIDES_LIMIT = 8192


def overrides_length(request: dict[str, Any]) -> int:
    return len(json.dumps(request.get("containerOverrides", {})))


class RecordingBatch:
    """A Batch client passing calls on to moto, recording each SubmitJob request.

    `before_submit` runs before a request reaches moto and `after_submit` after, with the
    response: either may raise to play a failure on one side of the call or the other.
    """

    def __init__(self, client: Any):
        self.client = client
        self.submitted: list[dict[str, Any]] = []
        self.before_submit: Callable[[dict[str, Any]], None] | None = None
        self.after_submit: Callable[[dict[str, Any]], None] | None = None

    def submit_job(self, **kwargs: Any) -> dict[str, Any]:
        self.submitted.append(kwargs)
        if self.before_submit:
            self.before_submit(kwargs)
        response = self.client.submit_job(**kwargs)
        if self.after_submit:
            self.after_submit(response)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


class StandInAccount:
    """What Submitter needs of an Account, counting the clients asked for."""

    def __init__(self, batch: Any, name: str = "test", account_id: str = ACCOUNT_ID, s3: Any = None):
        self.name = name
        self.account_id = account_id
        self.clients = {"batch": batch, "s3": s3}
        self.client_calls = 0
        self.retries_asked: list[tuple[str, bool]] = []

    @property
    def batch(self) -> Any:
        return self.clients["batch"]

    def client(self, service: str, retries: bool = True) -> Any:
        self.client_calls += 1
        self.retries_asked.append((service, retries))
        assert self.clients[service] is not None, service
        return self.clients[service]


@dataclass
class Moto:
    account: StandInAccount
    target: DeployedJob
    batch: RecordingBatch
    journal_dir: Path

    def submitter(self, **kwargs: Any) -> Submitter:
        kwargs.setdefault("sleep", lambda _seconds: None)
        return Submitter(self.account, journal_dir=self.journal_dir, **kwargs)

    def describe(self, job_id: str) -> dict[str, Any]:
        return self.batch.client.describe_jobs(jobs=[job_id])["jobs"][0]

    def stored_items(self, url: str) -> list[str]:
        """The items of the object an items URL points at, which must be in the job's prefix."""
        bucket, _, key = url.removeprefix("s3://").partition("/")
        assert url.startswith("s3://") and bucket == self.target.data_bucket, url
        assert key.startswith(self.target.items_prefix or "?"), url
        return json.loads(self.account.clients["s3"].get_object(Bucket=bucket, Key=key)["Body"].read())

    def stored_keys(self) -> list[str]:
        s3 = self.account.clients["s3"]
        return [o["Key"] for o in s3.list_objects_v2(Bucket=self.target.data_bucket).get("Contents", [])]

    def jobs_tagged(self, token: str) -> list[dict[str, Any]]:
        """Every job (not array child) in the queue that carries `token`."""
        client = self.batch.client
        summaries = client.list_jobs(jobQueue=self.target.queue)["jobSummaryList"]  # moto: every status
        ids = [s["jobId"] for s in summaries if ":" not in s["jobId"]]
        found = []
        for start in range(0, len(ids), 100):
            for job in client.describe_jobs(jobs=ids[start : start + 100])["jobs"]:
                if job.get("tags", {}).get("batchform:token") == token:
                    found.append(job)
        return found


def environment(job: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in job["container"]["environment"]}


def request_env(request: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in request.get("containerOverrides", {}).get("environment", [])}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Moto]:
    """An UNMANAGED compute environment, a queue and a job definition `hello` in moto."""
    with in_process_aws(monkeypatch, REGION):
        iam, client = boto3.client("iam", region_name=REGION), boto3.client("batch", region_name=REGION)
        queue, _definition = unmanaged_queue(
            iam, client, "batchform-default", "hello", environment="batchform-test", role="batch-service"
        )
        batch = RecordingBatch(client)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=DATA_BUCKET)
        # By name: like an ARN without revision, the latest revision (moto resolves no such ARN).
        target = DeployedJob(
            "hello", "hello", queue, "/batchform/test/hello", data_bucket=DATA_BUCKET, items_prefix=PREFIX
        )
        yield Moto(StandInAccount(batch, s3=s3), target, batch, tmp_path / "journal")


class FakeClock:
    """A monotonic clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


class FakeBatch:
    """SubmitJob that fails with `failures` first, then succeeds; nothing to find in any queue."""

    def __init__(self, failures: list[Exception] | None = None):
        self.failures = list(failures or [])
        self.calls = 0
        self._lock = threading.Lock()

    def submit_job(self, **kwargs: Any) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            failure = self.failures.pop(0) if self.failures else None
            number = self.calls
        if failure is not None:
            raise failure
        return {"jobId": f"job-{number}", "jobName": kwargs["jobName"]}

    def list_jobs(self, **_kwargs: Any) -> dict[str, Any]:
        return {"jobSummaryList": []}


def client_error(code: str, status: int = 400, operation: str = "SubmitJob") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "say so"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


TARGET = DeployedJob(
    "hello",
    f"arn:aws:batch:{REGION}:{ACCOUNT_ID}:job-definition/batchform-test-hello",
    f"arn:aws:batch:{REGION}:{ACCOUNT_ID}:job-queue/batchform-test",
)


def fake_submitter(tmp_path: Path, batch: FakeBatch, clock: FakeClock, **kwargs: Any) -> Submitter:
    return Submitter(
        StandInAccount(batch), journal_dir=tmp_path / "journal", sleep=clock.sleep, clock=clock, **kwargs
    )


# ---- command-line values --------------------------------------------------------------------


@pytest.mark.parametrize("pair", ["NOVALUE", "1X=a", "AWS_BATCH_X=1", "BAD-NAME=1"])
def test_parse_env_errors_name_the_env_flag(pair: str) -> None:
    with pytest.raises(UserError, match=r"^--env "):
        values.parse_env([pair])


@pytest.mark.parametrize(("flag", "pair"), [("--param", "novalue"), ("--tag", "=value"), ("--param", "=")])
def test_parse_pairs_errors_name_the_flag(flag: str, pair: str) -> None:
    with pytest.raises(UserError, match=rf"^{flag} "):
        values.parse_pairs([pair], flag)


def test_parse_pairs_keeps_equals_signs_in_values_and_a_later_key_wins() -> None:
    assert values.parse_pairs(["a=1=2", "b=", "a=3"], "--param") == {"a": "3", "b": ""}


def test_parse_depends_on_reads_job_ids_types_and_sequential() -> None:
    parsed = values.parse_depends_on(["abc", "abc:N_TO_N", "SEQUENTIAL", "abc:3", "def:n_to_n"])
    assert parsed == [
        ("abc", None),
        ("abc", "N_TO_N"),
        ("", "SEQUENTIAL"),
        ("abc:3", None),
        ("def", "N_TO_N"),
    ]


@pytest.mark.parametrize("value", ["abc:ONE_TO_ONE", "abc:SEQUENTIAL", ":N_TO_N", ""])
def test_parse_depends_on_refuses_unknown_types_and_sequential_with_a_job_id(value: str) -> None:
    with pytest.raises(UserError, match=r"^--depends-on "):
        values.parse_depends_on([value])


def test_load_items_reads_a_json_array_keeping_strings_and_compacting_other_values(tmp_path: Path) -> None:
    path = tmp_path / "items.json"
    path.write_text('[\n  "s3://bucket/a.csv",\n  {"b": 1, "c": [1, 2]},\n  3,\n  null\n]\n')
    assert values.load_items(path) == ["s3://bucket/a.csv", '{"b":1,"c":[1,2]}', "3", "null"]


def test_load_items_reads_one_item_per_non_empty_line(tmp_path: Path) -> None:
    path = tmp_path / "items.txt"
    path.write_text("first item\r\n\n   \n  second  \n{not json\n")
    assert values.load_items(path) == ["first item", "second", "{not json"]


@pytest.mark.parametrize(
    ("file_name", "text", "message"),
    [
        ("empty.txt", "\n  \n", "no items"),
        ("empty.json", "[]", "no items"),
        ("broken.json", '["a",', "invalid JSON"),
        ("object.json", '{"a": 1}', "must hold an array"),
    ],
)
def test_load_items_refuses_files_without_items(
    tmp_path: Path, file_name: str, text: str, message: str
) -> None:
    path = tmp_path / file_name
    path.write_text(text)
    with pytest.raises(UserError, match=rf"^--each .*{message}"):
        values.load_items(path)


def test_load_items_of_a_missing_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--each .*no such file"):
        values.load_items(tmp_path / "missing.txt")


# ---- limits ---------------------------------------------------------------------------------

NAME_RULE = "letters, digits, hyphens and underscores, starting with a letter or digit"

REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("empty name", {"name": ""}, f"^name .*{NAME_RULE}"),
    ("name with a leading hyphen", {"name": "-hello"}, f"^name .*{NAME_RULE}"),
    ("name of 129 characters", {"name": "a" * 129}, f"^name .*{NAME_RULE}"),
    ("name with a space", {"name": "hello world"}, f"^name .*{NAME_RULE}"),
    ("name with a dot", {"name": "hello.world"}, f"^name .*{NAME_RULE}"),
    ("array of 1", {"array_size": 1}, r"^array_size 1: must be from 2 to 10000$"),
    ("array of 10001", {"array_size": 10_001}, r"^array_size 10001: must be from 2 to 10000$"),
    ("timeout of 59 s", {"timeout": 59}, r"^timeout 59: must be at least 60 seconds$"),
    ("no attempt", {"retries": 0}, r"^retries 0: must be from 1 to 10$"),
    ("11 attempts", {"retries": 11}, r"^retries 11: must be from 1 to 10$"),
    ("env name with a digit first", {"env": {"1X": "a"}}, r"^env '1X'"),
    ("env name with a hyphen", {"env": {"A-B": "a"}}, r"^env 'A-B'"),
    (
        "env name reserved by Batch",
        {"env": {"AWS_BATCH_JOB_ID": "a"}},
        r"^env AWS_BATCH_JOB_ID: .*reserved",
    ),
    ("50 tags", {"tags": {f"k{i}": "v" for i in range(50)}}, r"^tags: at most 49 tags"),
    ("empty tag key", {"tags": {"": "v"}}, r"^tags '': keys are 1-128"),
    ("tag key of 129", {"tags": {"k" * 129: "v"}}, r"^tags .*keys are 1-128"),
    ("tag value of 257", {"tags": {"k": "v" * 257}}, r"^tags k: values are at most 256"),
    ("aws: tag", {"tags": {"aws:owner": "me"}}, r"^tags aws:owner: .*reserved by AWS"),
    ("AWS: tag", {"tags": {"AWS:owner": "me"}}, r"^tags AWS:owner: .*reserved by AWS"),
    ("batchform's own tag", {"tags": {"batchform:token": "x"}}, r"^tags batchform:token: set by batchform"),
    (
        "21 dependencies",
        {"depends_on": [(f"job-{i}", None) for i in range(21)]},
        r"^depends_on: at most 20",
    ),
    (
        "unknown dependency type",
        {"depends_on": [("a", "ONE_TO_ONE")]},
        r"^depends_on a:ONE_TO_ONE: the type",
    ),
    ("N_TO_N of a plain job", {"depends_on": [("a", "N_TO_N")]}, r"^depends_on a:N_TO_N: .*only for array"),
    ("SEQUENTIAL of a plain job", {"depends_on": [("", "SEQUENTIAL")]}, r"^depends_on SEQUENTIAL: .*only"),
    (
        "SEQUENTIAL with a job id",
        {"array_size": 2, "depends_on": [("a", "SEQUENTIAL")]},
        r"^depends_on a:SEQUENTIAL: SEQUENTIAL names no job",
    ),
    ("dependency without job id", {"depends_on": [("", None)]}, r"^depends_on '': no job id"),
    (
        "N_TO_N of a fan-out",
        {"items": ["a", "b"], "depends_on": [("a", "N_TO_N")]},
        r"^depends_on a:N_TO_N: N_TO_N needs array_size",
    ),
    (
        "request over 30 KiB by env",
        {"env": {"BIG": "x" * LIMIT}},
        r"^env/params/command/tags: .* 30720 ",
    ),
    (
        "request over 30 KiB by command",
        {"command": ["x" * LIMIT]},
        r"^env/params/command/tags: .*30720",
    ),
    ("items and array size", {"items": ["a", "b"], "array_size": 2}, r"^items and array_size"),
    ("no items", {"items": []}, r"^items: no items$"),
    ("env set by --each", {"items": ["a"], "env": {"BATCHFORM_ITEMS": "x"}}, r"^env BATCHFORM_ITEMS: set"),
    (
        "container overrides over 8 KiB by env",
        {"env": {"BIG": "x" * OVERRIDES_LIMIT}},
        r"^env/command: the container overrides would be \d+ characters, more than the 8192 ECS",
    ),
    (
        "container overrides over 8 KiB by command",
        {"command": ["x" * OVERRIDES_LIMIT]},
        r"^env/command: .*8192",
    ),
    (
        "fan-out whose env leaves no room for the items' address",
        {"items": ["a", "b"] * 3000, "env": {"BIG": "x" * (OVERRIDES_LIMIT - 200)}},
        r"^env/command: .*8192",
    ),
    (
        "env set by --each: the items' address",
        {"items": ["a"], "env": {"BATCHFORM_ITEMS_URL": "x"}},
        r"^env BATCHFORM_ITEMS_URL: set",
    ),
    (
        "fan-out over 30 KiB without its items",
        {"items": ["a", "b"], "env": {"BIG": "x" * LIMIT}},
        r"^env/params/command/tags: .*30720",
    ),
    ("empty command", {"command": []}, r"^command: empty"),
    ("share with a hyphen", {"share": "team-a"}, r"^share 'team-a': a share identifier is 1-255 letters"),
    ("empty share", {"share": ""}, r"^share '': a share identifier"),
    ("share of 256", {"share": "s" * 256}, r"^share 'sss.*1-255"),
    ("share with a newline", {"share": "team\n"}, r"^share 'team\\n': a share identifier"),
    ("priority below 0", {"share": "a", "priority": -1}, r"^priority -1: must be from 0 to 9999$"),
    ("priority over 9999", {"share": "a", "priority": 10_000}, r"^priority 10000: must be from 0 to 9999$"),
    ("empty parameter name", {"params": {"": "x"}}, r"^params: empty name$"),
]


@pytest.mark.parametrize(("fields", "message"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_a_request_over_a_limit_is_refused_before_any_aws_call(
    aws: Moto, fields: dict[str, Any], message: str
) -> None:
    request = SubmitRequest("hello", **fields)
    with pytest.raises(FieldError, match=message) as refused:
        jobs.validate(request)
    # The domain leads with the field it refuses, by its own name.
    assert str(refused.value).startswith(refused.value.field)
    with pytest.raises(UserError, match=message):
        aws.submitter().submit(aws.target, request)
    assert aws.account.client_calls == 0
    assert not aws.journal_dir.exists() or not any(aws.journal_dir.iterdir())


@pytest.mark.parametrize("token", ["", "has space", "t" * 129, "semi;colon"])
def test_an_invalid_explicit_token_is_refused_before_any_aws_call(aws: Moto, token: str) -> None:
    with pytest.raises(UserError, match=r"^token "):
        aws.submitter().submit(aws.target, SubmitRequest("hello"), token=token)
    assert aws.account.client_calls == 0


def test_whole_numbers_given_as_text_are_taken_as_numbers() -> None:
    request = SubmitRequest("hello", array_size="3", timeout=" 90 ", retries="2")  # type: ignore[arg-type]
    assert (request.array_size, request.timeout, request.retries) == (3, 90, 2)
    with pytest.raises(UserError, match=r"^array_size 1: must be from 2 to 10000$"):
        jobs.validate(SubmitRequest("hello", array_size="1"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"array_size": "ten"}, "array_size"),
        ({"timeout": "1.5"}, "timeout"),
        ({"retries": True}, "retries"),
    ],
)
def test_numbers_that_are_not_whole_numbers_are_refused_naming_the_field(
    fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(FieldError, match=rf"^{field} .*: must be a whole number$") as refused:
        SubmitRequest("hello", **fields)
    assert refused.value.field == field


def test_every_limit_at_its_bound_is_accepted() -> None:
    tags = {f"k{i}": "v" for i in range(48)} | {"k" * 128: "v" * 256}
    jobs.validate(
        SubmitRequest(
            "hello",
            name="a" * 128,
            env={"_underscore": "1", "A9": "x", "AWS_BATC": "not the reserved prefix"},
            array_size=10_000,
            depends_on=[(str(uuid.UUID(int=i)), None) for i in range(18)]
            + [(f"{A_JOB_ID}:9999", None), ("", "SEQUENTIAL")],
            tags=tags,
            timeout=60,
            retries=10,
        )
    )
    jobs.validate(SubmitRequest("hello", array_size=2, retries=1, depends_on=[(A_JOB_ID, "N_TO_N")]))


def largest_accepted(request: Callable[[int], SubmitRequest], target: DeployedJob, high: int) -> int:
    """The largest padding whose request validate accepts (it refuses `high`), by bisection."""

    def fits(padding: int) -> bool:
        try:
            jobs.validate(request(padding), target, token="t" * 32)
        except UserError:
            return False
        return True

    low = 0  # fits(low), not fits(high)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def test_a_request_of_exactly_30_kib_is_sent_and_one_byte_more_is_refused(aws: Moto) -> None:
    def request(padding: int) -> SubmitRequest:
        # Parameters are not container overrides: only the 30 KiB of the request limits them.
        return SubmitRequest("hello", name="exactly-at-the-limit", params={"PAD": "x" * padding})

    low = largest_accepted(request, aws.target, LIMIT)
    aws.submitter().submit(aws.target, request(low), token="t" * 32)
    assert len(json.dumps(aws.batch.submitted[0])) == LIMIT
    with pytest.raises(UserError, match="30720"):
        aws.submitter().submit(aws.target, request(low + 1), token="u" * 32)
    assert len(aws.batch.submitted) == 1


def test_container_overrides_of_exactly_8192_characters_are_sent_and_one_more_is_refused(aws: Moto) -> None:
    def request(padding: int) -> SubmitRequest:
        return SubmitRequest("hello", env={"PAD": "x" * padding}, command=["echo", "é"])

    low = largest_accepted(request, aws.target, OVERRIDES_LIMIT)
    aws.submitter().submit(aws.target, request(low), token="t" * 32)
    # Counted as sent: the JSON text botocore writes, "é" escaped to six characters.
    assert overrides_length(aws.batch.submitted[0]) == OVERRIDES_LIMIT
    with pytest.raises(UserError, match=r"^env/command: .* 8193 characters, more than the 8192"):
        aws.submitter().submit(aws.target, request(low + 1), token="u" * 32)
    assert len(aws.batch.submitted) == 1


# ---- what is submitted ----------------------------------------------------------------------


def test_the_submit_job_request_carries_every_setting(aws: Moto) -> None:
    first = aws.submitter().submit(aws.target, SubmitRequest("hello", array_size=3))[0]
    request = SubmitRequest(
        "hello",
        name="every-setting",
        env={"ZED": "last", "ALPHA": "first"},
        params={"input": "s3://bucket/key"},
        command=["python", "run.py", "Ref::input"],
        array_size=3,
        depends_on=[(first.job_id, "N_TO_N"), ("", "SEQUENTIAL")],
        tags={"team": "data"},
        timeout=120,
        retries=3,
    )
    result = aws.submitter().submit(aws.target, request)[0]
    sent = aws.batch.submitted[-1]
    assert sent["jobName"] == "every-setting"
    assert sent["jobQueue"] == aws.target.queue
    assert sent["jobDefinition"] == aws.target.definition
    assert sent["containerOverrides"]["environment"] == [
        {"name": "ALPHA", "value": "first"},
        {"name": "ZED", "value": "last"},
    ]
    assert sent["retryStrategy"] == {"attempts": 3}
    assert sent["propagateTags"] is True
    job = aws.describe(result.job_id)
    assert environment(job)["ALPHA"] == "first"
    assert job["container"]["command"] == ["python", "run.py", "Ref::input"]
    assert job["parameters"] == {"input": "s3://bucket/key"}
    assert job["arrayProperties"]["size"] == 3
    assert job["dependsOn"] == [{"jobId": first.job_id, "type": "N_TO_N"}, {"type": "SEQUENTIAL"}]
    assert job["timeout"] == {"attemptDurationSeconds": 120}
    assert job["tags"] == {"team": "data", "batchform:token": result.token}
    assert (result.array_size, result.children, result.reattached) == (3, 0, False)


def test_a_plain_dependency_has_no_type(aws: Moto) -> None:
    aws.submitter().submit(aws.target, SubmitRequest("hello", depends_on=[(A_JOB_ID, None)]))
    assert aws.batch.submitted[0]["dependsOn"] == [{"jobId": A_JOB_ID}]


@pytest.mark.parametrize(
    "job_id",
    ["some-job-id", f"{A_JOB_ID}x", f"{A_JOB_ID}:", f"{A_JOB_ID}:1:2", "../" + A_JOB_ID, A_JOB_ID[:-1]],
)
def test_a_dependency_that_is_not_a_batch_job_id_is_refused_before_any_aws_call(
    aws: Moto, job_id: str
) -> None:
    with pytest.raises(UserError, match=r"^depends_on .*: a job id is a UUID"):
        aws.submitter().submit(aws.target, SubmitRequest("hello", depends_on=[(job_id, None)]))
    assert aws.batch.submitted == []


def test_without_a_name_the_job_is_named_after_it_and_the_utc_time(aws: Moto) -> None:
    result = aws.submitter().submit(aws.target, SubmitRequest("hello"))[0]
    assert re.fullmatch(r"hello-\d{8}T\d{6}Z", result.name)
    assert aws.describe(result.job_id)["jobName"] == result.name


@pytest.mark.parametrize("name", ["a1", "A_b-1", "9" * 128])
def test_a_valid_name_is_used_as_given(aws: Moto, name: str) -> None:
    result = aws.submitter().submit(aws.target, SubmitRequest("hello", name=name))[0]
    assert aws.describe(result.job_id)["jobName"] == name


# ---- fan-out --------------------------------------------------------------------------------


def test_one_item_is_a_plain_job_with_its_item_in_the_environment(aws: Moto) -> None:
    results = aws.submitter().submit(aws.target, SubmitRequest("hello", items=['{"file":"a.csv"}']))
    assert len(results) == 1
    assert (results[0].array_size, results[0].children) == (None, 1)
    job = aws.describe(results[0].job_id)
    assert "arrayProperties" not in job
    env = environment(job)
    assert env["BATCHFORM_ITEM"] == '{"file":"a.csv"}'
    assert env["BATCHFORM_ITEMS_OFFSET"] == "0"
    assert "BATCHFORM_ITEMS" not in env
    assert job["tags"]["batchform:chunk"] == "0"


def test_items_that_fit_in_the_container_overrides_are_sent_inline(aws: Moto) -> None:
    items = [f"input/{i:03d}.csv" for i in range(300)]
    results = aws.submitter().submit(aws.target, SubmitRequest("hello", items=items))
    [request] = aws.batch.submitted
    assert overrides_length(request) <= OVERRIDES_LIMIT
    assert [(r.array_size, r.children) for r in results] == [(300, 300)]
    env = environment(aws.describe(results[0].job_id))
    assert json.loads(env["BATCHFORM_ITEMS"]) == items
    assert env["BATCHFORM_ITEMS_OFFSET"] == "0"
    assert "BATCHFORM_ITEMS_URL" not in env
    assert aws.stored_keys() == []


def test_a_thousand_short_items_are_one_array_job_whose_items_are_one_object_in_the_data_bucket(
    aws: Moto,
) -> None:
    items = [f"input/{i:04d}.csv" for i in range(1000)]  # 14 KB of items: more than ECS takes inline
    results = aws.submitter().submit(aws.target, SubmitRequest("hello", items=items))
    [request] = aws.batch.submitted
    assert overrides_length(request) <= OVERRIDES_LIMIT
    assert [(r.array_size, r.children) for r in results] == [(1000, 1000)]
    job = aws.describe(results[0].job_id)
    assert job["arrayProperties"]["size"] == 1000
    env = environment(job)
    assert "BATCHFORM_ITEMS" not in env and "BATCHFORM_ITEM" not in env
    assert env["BATCHFORM_ITEMS_OFFSET"] == "0"
    assert aws.stored_items(env["BATCHFORM_ITEMS_URL"]) == items
    assert len(aws.stored_keys()) == 1


def test_a_hundred_thousand_items_are_ten_array_jobs_of_ten_thousand(
    aws: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto would make 100,000 child jobs; only the requests and the objects are of interest here.
    monkeypatch.setattr(aws.batch, "client", FakeBatch())
    items = [f"s3://inputs/part-{i:06d}.parquet" for i in range(100_000)]
    results = aws.submitter().submit(aws.target, SubmitRequest("hello", name="big", items=items))
    sent = aws.batch.submitted
    assert len(sent) == len(results) == 10
    found: list[str] = []
    for index, (result, request) in enumerate(zip(results, sent, strict=True)):
        assert overrides_length(request) <= OVERRIDES_LIMIT
        assert len(json.dumps(request)) <= LIMIT
        env = request_env(request)
        assert int(env["BATCHFORM_ITEMS_OFFSET"]) == len(found)
        chunk = aws.stored_items(env["BATCHFORM_ITEMS_URL"])
        assert request["arrayProperties"] == {"size": 10_000} == {"size": result.children}
        assert request["tags"]["batchform:chunk"] == str(index)
        assert result.name == request["jobName"] == f"big-{index}"
        found += chunk
    assert found == items
    assert len(aws.stored_keys()) == 10


def test_items_are_stored_before_their_job_is_submitted_under_a_key_of_account_token_and_chunk(
    aws: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs.limits, "MAX_ARRAY_SIZE", 100)
    items = [f"item-{i:03d}-" + "x" * 40 for i in range(150)]
    present: list[bool] = []

    def object_there(request: dict[str, Any]) -> None:
        url = request_env(request)["BATCHFORM_ITEMS_URL"]
        present.append(bool(aws.stored_items(url)))

    aws.batch.before_submit = object_there
    results = aws.submitter().submit(aws.target, SubmitRequest("hello", items=items))
    assert present == [True, True]
    # Two jobs of nearly equal size, never a last job of one item.
    assert [(r.array_size, r.children) for r in results] == [(75, 75), (75, 75)]
    urls = [request_env(r)["BATCHFORM_ITEMS_URL"] for r in aws.batch.submitted]
    digest = hashlib.sha256(f"{ACCOUNT_ID}/{results[0].token}".encode()).hexdigest()[:32]
    assert urls == [f"s3://{DATA_BUCKET}/{PREFIX}{digest}/{i}.json" for i in range(2)]
    # Another account's submission of the same token writes elsewhere.
    assert jobs.items_key(PREFIX, "210987654321", results[0].token, 0) != f"{PREFIX}{digest}/0.json"


def test_non_ascii_items_are_counted_as_botocore_sends_them(aws: Moto) -> None:
    # 600 characters of items, but 3,600 once botocore escapes them: "é" is sent as "\u00e9".
    items = ["é" * 300, "é" * 300]
    aws.submitter().submit(aws.target, SubmitRequest("hello", items=items))
    assert "BATCHFORM_ITEMS" in request_env(aws.batch.submitted[0])
    bigger = ["é" * 1000, "é" * 1000]  # 2,000 characters; 12,000 as sent
    aws.submitter().submit(aws.target, SubmitRequest("hello", items=bigger))
    env = request_env(aws.batch.submitted[1])
    assert aws.stored_items(env["BATCHFORM_ITEMS_URL"]) == bigger
    assert all(overrides_length(r) <= OVERRIDES_LIMIT for r in aws.batch.submitted)


def test_a_single_item_too_large_to_send_inline_is_a_plain_job_reading_it_from_the_bucket(aws: Moto) -> None:
    [result] = aws.submitter().submit(aws.target, SubmitRequest("hello", items=["x" * 9000]))
    assert (result.array_size, result.children) == (None, 1)
    env = request_env(aws.batch.submitted[0])
    assert "BATCHFORM_ITEM" not in env
    assert aws.stored_items(env["BATCHFORM_ITEMS_URL"]) == ["x" * 9000]


def test_items_that_need_the_bucket_are_refused_before_any_call_where_none_is_deployed(aws: Moto) -> None:
    bare = dataclasses.replace(aws.target, data_bucket=None, items_prefix=None)
    items = [f"input/{i:04d}.csv" for i in range(1000)]
    with pytest.raises(
        UserError, match=r"^items: 1000 items do not fit .* run invoke tf.apply --account test$"
    ):
        aws.submitter().submit(bare, SubmitRequest("hello", items=items))
    assert aws.account.client_calls == 0
    # Items that fit inline need no bucket.
    aws.submitter().submit(bare, SubmitRequest("hello", items=["a", "b"]))
    assert len(aws.batch.submitted) == 1


# ---- fair share -----------------------------------------------------------------------------
# AWS-FIDELITY: SubmitJob shareIdentifier: "If the job queue has a fair-share scheduling
# policy, then this parameter must be specified." A queue without a policy refuses one.


def test_a_fair_share_queue_gets_the_share_and_priority_given(aws: Moto) -> None:
    target = dataclasses.replace(aws.target, fair_share=True, share_identifier="batch_default")
    aws.submitter().submit(target, SubmitRequest("hello", share="team_a", priority=9999))
    aws.submitter().submit(target, SubmitRequest("hello", share="team_b", priority="0"))
    sent = [(r["shareIdentifier"], r["schedulingPriorityOverride"]) for r in aws.batch.submitted]
    assert sent == [("team_a", 9999), ("team_b", 0)]


def test_without_share_a_fair_share_queue_gets_the_jobs_declared_share(aws: Moto) -> None:
    target = dataclasses.replace(aws.target, fair_share=True, share_identifier="batch_default")
    [result] = aws.submitter().submit(target, SubmitRequest("hello"))
    assert aws.batch.submitted[0]["shareIdentifier"] == "batch_default"
    assert "schedulingPriorityOverride" not in aws.batch.submitted[0]
    # The declared share is part of the request: giving it explicitly is the same submission.
    again = aws.submitter().submit(target, SubmitRequest("hello", share="batch_default"))[0]
    assert again.reattached and again.job_id == result.job_id


@pytest.mark.parametrize(
    ("deployed", "fields", "message"),
    [
        (
            {"fair_share": True},
            {},
            r"^share: queue batchform-default has a fair-share scheduling policy, .*job hello declares "
            r"no default share: give share ID$",
        ),
        ({"fair_share": True}, {"priority": 5}, r"^share: queue batchform-default has a fair-share"),
        (
            {"fair_share": False},
            {"share": "team_a"},
            r"^share team_a: queue batchform-default has no fair-share scheduling policy",
        ),
        ({"fair_share": False}, {"priority": 5}, r"^priority 5: only for a queue with a fair-share"),
        (
            {"fair_share": False, "share_identifier": "batch_default"},
            {"priority": 1},
            r"^priority 1: only for a queue with a fair-share",
        ),
    ],
    ids=[
        "fair-share-no-share",
        "fair-share-priority-only",
        "share-no-policy",
        "priority-no-policy",
        "declared",
    ],
)
def test_share_and_priority_that_the_queue_would_refuse_are_refused_before_any_call(
    aws: Moto, deployed: dict[str, Any], fields: dict[str, Any], message: str
) -> None:
    target = dataclasses.replace(aws.target, **deployed)
    with pytest.raises(UserError, match=message):
        jobs.validate(SubmitRequest("hello", **fields), target)
    with pytest.raises(UserError, match=message):
        aws.submitter().submit(target, SubmitRequest("hello", **fields))
    assert aws.account.client_calls == 0


def test_a_queue_whose_policy_is_not_known_takes_a_share_or_none(aws: Moto) -> None:
    """Outputs of accounts applied before they said which queues are fair-share: nothing to check."""
    aws.submitter().submit(aws.target, SubmitRequest("hello"))
    aws.submitter().submit(aws.target, SubmitRequest("hello", share="team_a"))
    assert [r.get("shareIdentifier") for r in aws.batch.submitted] == [None, "team_a"]


def test_share_and_priority_are_part_of_the_token_and_absent_ones_leave_it_as_it_was() -> None:
    account = StandInAccount(None)
    plain = jobs.request_token(account, SubmitRequest("hello"))
    shared = jobs.request_token(account, SubmitRequest("hello", share="a"))
    assert len({plain, shared, jobs.request_token(account, SubmitRequest("hello", share="b"))}) == 3
    assert shared != jobs.request_token(account, SubmitRequest("hello", share="a", priority=1))
    identity = {
        "account": ACCOUNT_ID,
        "job": "hello",
        "env": [],
        "params": [],
        "command": None,
        "array_size": None,
        "depends_on": [],
        "tags": [],
        "timeout": None,
        "retries": None,
        "items": None,
    }
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    assert plain == hashlib.sha256(text.encode()).hexdigest()[:32]


# ---- propagated tags ------------------------------------------------------------------------
# AWS-FIDELITY: propagateTags: "If the total number of combined tags from the job and job
# definition is over 50, the job is moved to the FAILED state." Count the job's tags, the job
# definition's tags and the provider's default tags together.


def test_tags_of_job_definition_and_job_over_50_together_are_refused_naming_tag(aws: Moto) -> None:
    definition_tags = {f"d{i}": "v" for i in range(45)}
    target = dataclasses.replace(aws.target, tags=definition_tags)
    five = {f"k{i}": "v" for i in range(5)}  # 45 + 5 + batchform's token: 51
    message = (
        r"^tags: the job's tasks would get 51 tags \(5 from tags, 1 of batchform's, 45 of job "
        r"definition hello with the default tags; .*more than the 50 AWS Batch propagates"
    )
    with pytest.raises(UserError, match=message):
        aws.submitter().submit(target, SubmitRequest("hello", tags=five))
    with pytest.raises(UserError, match=r"^tags: the job's tasks would get 51 tags \(4 from tags, 2 of"):
        aws.submitter().submit(
            target, SubmitRequest("hello", tags=dict(list(five.items())[:4]), items=["a", "b"])
        )
    assert aws.account.client_calls == 0
    # A key the job and its definition both have is one tag: 45 + 4 new + 1 shared + token = 50.
    aws.submitter().submit(
        target, SubmitRequest("hello", tags={**dict(list(five.items())[:4]), "d0": "mine"})
    )
    assert len(aws.batch.submitted) == 1


# ---- idempotency ----------------------------------------------------------------------------


def test_the_same_request_again_reattaches_instead_of_submitting(aws: Moto) -> None:
    submitter = aws.submitter()
    request = SubmitRequest("hello", env={"GREETING": "hi"})
    first = submitter.submit(aws.target, request)[0]
    again = aws.submitter().submit(aws.target, SubmitRequest("hello", env={"GREETING": "hi"}))[0]
    assert not first.reattached
    assert again.reattached
    assert (again.job_id, again.name, again.token) == (first.job_id, first.name, first.token)
    assert again.submitted_at == first.submitted_at
    assert len(aws.batch.submitted) == 1
    assert len(aws.jobs_tagged(first.token)) == 1


def test_the_journal_says_submitting_before_submit_job_and_submitted_after(aws: Moto) -> None:
    journal = aws.journal_dir / "test.jsonl"
    during: list[list[dict[str, Any]]] = []
    aws.batch.before_submit = lambda _request: during.append(
        [json.loads(line) for line in journal.read_text().splitlines()]
    )
    result = aws.submitter().submit(aws.target, SubmitRequest("hello", name="journalled"))[0]
    assert [r["state"] for r in during[0]] == ["submitting"]
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [(r["state"], r["job_id"]) for r in records] == [
        ("submitting", None),
        ("submitted", result.job_id),
    ]
    for record in records:
        assert (record["token"], record["chunk"], record["name"]) == (result.token, 0, "journalled")
        assert isinstance(record["at"], float)


def test_the_default_token_depends_on_account_job_and_content_but_not_name() -> None:
    account = StandInAccount(None)
    token = jobs.request_token(
        account, SubmitRequest("hello", name="a", env={"X": "1"}, depends_on=[("b", None), ("a", None)])
    )
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert token == jobs.request_token(
        account, SubmitRequest("hello", name="b", env={"X": "1"}, depends_on=[("a", None), ("b", None)])
    )
    assert token != jobs.request_token(
        account, SubmitRequest("hello", env={"X": "2"}, depends_on=[("a", None), ("b", None)])
    )
    assert token != jobs.request_token(
        account, SubmitRequest("other", env={"X": "1"}, depends_on=[("a", None), ("b", None)])
    )
    other_account = StandInAccount(None, account_id="210987654321")
    assert token != jobs.request_token(
        other_account, SubmitRequest("hello", env={"X": "1"}, depends_on=[("a", None), ("b", None)])
    )
    assert jobs.request_token(account, SubmitRequest("hello", items=["a", "b"])) != jobs.request_token(
        account, SubmitRequest("hello", items=["b", "a"])
    )


class Crash(Exception):
    """The process dying at this point."""


def crash_on_submitted_line(monkeypatch: pytest.MonkeyPatch, number: int) -> None:
    """Make the `number`th `submitted` journal line fail to be written, once."""
    original = jobs.Journal.append
    seen = {"submitted": 0}

    def append(self: jobs.Journal, record: dict[str, Any], **options: bool) -> None:
        if record["state"] == "submitted":
            seen["submitted"] += 1
            if seen["submitted"] == number:
                raise Crash
        original(self, record, **options)

    monkeypatch.setattr(jobs.Journal, "append", append)


def test_after_a_crash_between_submit_job_and_the_journal_the_job_is_found_not_resubmitted(
    aws: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash_on_submitted_line(monkeypatch, 1)
    request = SubmitRequest("hello", env={"RUN": "once"})
    with pytest.raises(Crash):
        aws.submitter().submit(aws.target, request)
    created = aws.batch.client.list_jobs(jobQueue=aws.target.queue)["jobSummaryList"]
    again = aws.submitter().submit(aws.target, request)[0]
    assert again.reattached
    assert again.job_id == created[0]["jobId"]
    assert len(aws.batch.submitted) == 1
    assert [job["jobId"] for job in aws.jobs_tagged(again.token)] == [again.job_id]
    # Found once, recorded: a third submit reads the journal and only checks the job still exists.
    calls = aws.account.client_calls
    assert aws.submitter().submit(aws.target, request)[0].job_id == again.job_id
    assert aws.account.client_calls == calls + 1
    assert len(aws.batch.submitted) == 1


def test_a_recorded_job_that_aws_no_longer_knows_is_submitted_again(aws: Moto) -> None:
    """A reset local stack or a purged account lost the job: reattaching to it would lose the work."""
    request = SubmitRequest("hello", env={"RUN": "lost"})
    first = aws.submitter().submit(aws.target, request)[0]
    aws.batch.client.cancel_job(jobId=first.job_id, reason="x")
    from moto.batch.models import batch_backends

    backend = batch_backends[aws.account.account_id]["us-east-1"]
    backend._jobs.pop(first.job_id)  # noqa: SLF001 - the emulator forgetting the job
    again = aws.submitter().submit(aws.target, request)[0]
    assert not again.reattached and again.job_id != first.job_id


def test_after_a_crash_before_the_job_reached_aws_it_is_submitted_under_the_recorded_name(
    aws: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = itertools.count(1)
    monkeypatch.setattr(jobs.requests, "default_job_name", lambda _job, now=None: f"hello-{next(numbers)}")

    def dies(_request: dict[str, Any]) -> None:
        aws.batch.before_submit = None
        raise Crash

    aws.batch.before_submit = dies
    request = SubmitRequest("hello")
    with pytest.raises(Crash):
        aws.submitter().submit(aws.target, request)
    first_name = aws.batch.submitted[0]["jobName"]
    result = aws.submitter().submit(aws.target, request)[0]
    assert not result.reattached
    assert result.name == first_name
    assert jobs.default_job_name("hello") != first_name  # a new default name would differ
    assert [job["jobName"] for job in aws.jobs_tagged(result.token)] == [first_name]


@pytest.mark.parametrize("lost", ["before", "after"], ids=["request-lost", "answer-lost"])
def test_a_connection_lost_during_submit_job_ends_with_exactly_one_job(aws: Moto, lost: str) -> None:
    """Whether the request or only its answer was lost, the submitter looks before sending again."""

    def drop(_message: dict[str, Any]) -> None:
        setattr(aws.batch, f"{lost}_submit", None)
        raise ConnectionClosedError(endpoint_url="https://batch.us-east-1.amazonaws.com")

    setattr(aws.batch, f"{lost}_submit", drop)
    [result] = aws.submitter().submit(aws.target, SubmitRequest("hello"))
    assert [job["jobId"] for job in aws.jobs_tagged(result.token)] == [result.job_id]
    assert len(aws.batch.submitted) == (2 if lost == "before" else 1)


def test_an_interrupted_fan_out_submits_only_the_missing_jobs(
    aws: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs.limits, "MAX_ARRAY_SIZE", 14)
    items = [f"{i:04d}" + "x" * 1996 for i in range(40)]  # three array jobs, items in the bucket
    request = SubmitRequest("hello", items=items)
    crash_on_submitted_line(monkeypatch, 2)  # chunk 0 journalled, chunk 1 submitted only, chunk 2 not
    with pytest.raises(Crash):
        aws.submitter().submit(aws.target, request)
    assert len(aws.batch.submitted) == 2
    assert len(aws.stored_keys()) == 2
    results = aws.submitter().submit(aws.target, request)
    assert [r.reattached for r in results] == [True, True, False]
    assert len(aws.batch.submitted) == 3
    assert [request_env(r)["BATCHFORM_ITEMS_OFFSET"] for r in aws.batch.submitted] == ["0", "14", "27"]
    tagged = aws.jobs_tagged(results[0].token)
    assert sorted(job["jobId"] for job in tagged) == sorted(r.job_id for r in results)
    assert sorted(job["tags"]["batchform:chunk"] for job in tagged) == ["0", "1", "2"]
    # One object per chunk, the same ones whoever wrote them, holding the file's items in order.
    assert len(aws.stored_keys()) == 3
    urls = [request_env(r)["BATCHFORM_ITEMS_URL"] for r in aws.batch.submitted]
    assert [item for url in urls for item in aws.stored_items(url)] == items


def test_the_lookup_after_a_crash_trusts_the_token_and_chunk_tags_not_the_name(aws: Moto) -> None:
    request = SubmitRequest("hello", items=["only item"])
    token = jobs.request_token(aws.account, request)
    for tags in (
        {},
        {"batchform:token": "someone-else", "batchform:chunk": "0"},
        {"batchform:token": token, "batchform:chunk": "1"},
    ):
        aws.batch.client.submit_job(
            jobName="hello-crashed", jobQueue=aws.target.queue, jobDefinition="hello", tags=tags
        )
    jobs.Journal(aws.journal_dir / "test.jsonl").append(
        {
            "token": token,
            "chunk": 0,
            "name": "hello-crashed",
            "state": "submitting",
            "job_id": None,
            "at": time.time(),
        }
    )
    result = aws.submitter().submit(aws.target, request)[0]
    assert not result.reattached
    assert result.name == "hello-crashed"
    assert [job["jobId"] for job in aws.jobs_tagged(token) if job["tags"].get("batchform:chunk") == "0"] == [
        result.job_id
    ]


def test_a_server_error_after_the_job_was_created_does_not_submit_it_twice(aws: Moto) -> None:
    created: list[str] = []

    def fail_after_creating(response: dict[str, Any]) -> None:
        aws.batch.after_submit = None
        created.append(response["jobId"])
        raise client_error("InternalServerError", 500)

    aws.batch.after_submit = fail_after_creating
    sleeps: list[float] = []
    result = aws.submitter(sleep=sleeps.append).submit(aws.target, SubmitRequest("hello"))[0]
    assert result.job_id == created[0]
    assert len(aws.batch.submitted) == 1
    assert len(sleeps) == 1
    assert len(aws.jobs_tagged(result.token)) == 1


def test_submitting_again_outside_the_reattach_window_submits_a_new_job(aws: Moto) -> None:
    now = {"t": 1_000_000.0}
    submitter = aws.submitter(wall_clock=lambda: now["t"])
    request = SubmitRequest("hello", env={"DAILY": "report"})
    first = submitter.submit(aws.target, request)[0]
    now["t"] += 3601
    later = submitter.submit(aws.target, request)[0]
    assert not later.reattached
    assert later.job_id != first.job_id
    now["t"] += 3599
    again = submitter.submit(aws.target, request)[0]
    assert again.reattached
    assert again.job_id == later.job_id
    assert len(aws.jobs_tagged(first.token)) == 2


def test_an_explicit_token_names_the_submission(aws: Moto) -> None:
    submitter = aws.submitter()
    first = submitter.submit(
        aws.target, SubmitRequest("hello", env={"DAY": "1"}), token="nightly-2024-06-01"
    )[0]
    assert first.token == "nightly-2024-06-01"
    assert aws.describe(first.job_id)["tags"]["batchform:token"] == "nightly-2024-06-01"
    same = submitter.submit(aws.target, SubmitRequest("hello", env={"DAY": "2"}), token="nightly-2024-06-01")[
        0
    ]
    assert same.reattached
    assert same.job_id == first.job_id
    other = submitter.submit(
        aws.target, SubmitRequest("hello", env={"DAY": "1"}), token="nightly-2024-06-02"
    )[0]
    assert not other.reattached
    assert other.job_id != first.job_id


def test_a_journal_line_cut_short_by_a_crash_does_not_hide_later_ones(aws: Moto) -> None:
    aws.journal_dir.mkdir(parents=True)
    (aws.journal_dir / "test.jsonl").write_text('{"token": "abc", "state": "subm')
    first = aws.submitter().submit(aws.target, SubmitRequest("hello"))[0]
    again = aws.submitter().submit(aws.target, SubmitRequest("hello"))[0]
    assert again.reattached
    assert again.job_id == first.job_id


def test_the_journal_is_compacted_to_recent_lines_when_it_grows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs.journal, "JOURNAL_COMPACT_BYTES", 2_000)
    journal = jobs.Journal(tmp_path / "test.jsonl", keep_seconds=100)
    for at in range(0, 300, 10):
        journal.append({"token": "t", "chunk": 0, "state": "submitted", "job_id": f"j{at}", "at": float(at)})
    kept = [json.loads(line)["at"] for line in (tmp_path / "test.jsonl").read_text().splitlines()]
    assert kept[-1] == 290
    assert min(kept) >= 100
    assert [r["job_id"] for r in journal.records("t", since=280)] == ["j280", "j290"]


def record(token: str, at: float, state: str = "submitted") -> dict[str, Any]:
    return {"token": token, "chunk": 0, "state": state, "job_id": f"{token}-{at:g}", "at": at}


def test_a_journal_reads_what_other_writers_appended_since_its_last_read(tmp_path: Path) -> None:
    """Each process keeps the records it read; lines another one appends later are read too."""
    path = tmp_path / "test.jsonl"
    reader, writer = jobs.Journal(path), jobs.Journal(path)
    writer.append(record("a", 1))
    assert [r["job_id"] for r in reader.records("a", since=0)] == ["a-1"]
    writer.append(record("a", 2))
    writer.append(record("b", 3))
    assert [r["job_id"] for r in reader.records("a", since=0)] == ["a-1", "a-2"]
    assert [r["job_id"] for r in reader.records("b", since=0)] == ["b-3"]
    assert [r["job_id"] for r in reader.records("a", since=2)] == ["a-2"]


def test_a_line_still_being_written_is_read_once_whole(tmp_path: Path) -> None:
    path = tmp_path / "test.jsonl"
    journal = jobs.Journal(path)
    journal.append(record("a", 1))
    line = json.dumps(record("a", 2), sort_keys=True, separators=(",", ":"))
    with open(path, "a") as out:
        out.write(line[:20])
    assert [r["job_id"] for r in journal.records("a", since=0)] == ["a-1"]
    with open(path, "a") as out:
        out.write(line[20:] + "\n")
    assert [r["job_id"] for r in journal.records("a", since=0)] == ["a-1", "a-2"]


def test_a_journal_compacted_by_another_writer_is_read_again_from_its_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "test.jsonl"
    reader, writer = jobs.Journal(path, keep_seconds=100), jobs.Journal(path, keep_seconds=100)
    for at in range(0, 100, 10):
        writer.append(record("old", float(at)))
    assert len(reader.records("old", since=0)) == 10
    monkeypatch.setattr(jobs.journal, "JOURNAL_COMPACT_BYTES", 500)
    writer.append(record("new", 250.0))  # the old records have aged out: the journal is replaced
    assert all(r["at"] >= 150 for r in map(json.loads, path.read_text().splitlines()))
    assert reader.records("old", since=0) == []
    assert [r["job_id"] for r in reader.records("new", since=0)] == ["new-250"]


def test_a_journal_no_longer_used_closes_the_files_it_kept_open(tmp_path: Path) -> None:
    """Submitters are made per command and per test: the journal's open files go with each."""
    before = len(os.listdir("/proc/self/fd"))
    for at in range(50):
        journal = jobs.Journal(tmp_path / "test.jsonl")
        journal.append(record("a", float(at)))
        assert len(journal.records("a", since=0)) == at + 1
        del journal
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) <= before


def test_durable_records_reach_the_disk_at_least_once_a_sync_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first durable record at once (a command-line submit is one); others within the interval wait."""
    (tmp_path / "test.jsonl").touch()  # not created by the first append: no fsync of the directory
    synced: list[int] = []
    monkeypatch.setattr(jobs.journal.os, "fsync", synced.append)
    journal = jobs.Journal(tmp_path / "test.jsonl")
    journal.append(record("a", 1))
    assert len(synced) == 1
    journal.append(record("a", 2))
    journal.append(record("a", 3), durable=False)
    assert len(synced) == 1
    monkeypatch.setattr(jobs.journal, "SYNC_SECONDS", 0.0)
    journal.append(record("a", 4), durable=False)
    assert len(synced) == 1
    journal.append(record("a", 5))
    assert len(synced) == 2
    assert len(journal.records("a", since=0)) == 5  # all of them in the file, synced or not


def test_the_submitter_asks_for_submitting_records_on_disk_and_not_submitted_ones(
    aws: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lost `submitting` could start a second job after a crash; a lost `submitted` costs a look-up."""
    asked: list[tuple[str, bool]] = []
    original = jobs.Journal.append

    def append(self: jobs.Journal, record: dict[str, Any], durable: bool = True) -> None:
        asked.append((record["state"], durable))
        original(self, record, durable=durable)

    monkeypatch.setattr(jobs.Journal, "append", append)
    aws.submitter().submit(aws.target, SubmitRequest("hello"))
    assert asked == [("submitting", True), ("submitted", False)]


# ---- pacing ---------------------------------------------------------------------------------


def test_submits_beyond_the_rate_wait_their_turn(tmp_path: Path) -> None:
    clock, batch = FakeClock(), FakeBatch()
    submitter = fake_submitter(tmp_path, batch, clock, rate_per_second=50)
    for i in range(120):
        submitter.submit(TARGET, SubmitRequest("hello", env={"N": str(i)}))
    assert batch.calls == 120
    assert 1.39 <= clock.now <= 1.45  # 50 at once, then 70 at 50 a second


def test_the_rate_limit_is_shared_by_threads(tmp_path: Path) -> None:
    clock, batch = FakeClock(), FakeBatch()
    submitter = fake_submitter(tmp_path, batch, clock, rate_per_second=50)

    def submit_many(thread: int) -> None:
        for i in range(30):
            submitter.submit(TARGET, SubmitRequest("hello", env={"N": f"{thread}-{i}"}))

    threads = [threading.Thread(target=submit_many, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert batch.calls == 120
    assert sum(clock.sleeps) >= 1.39  # 30 a thread is within the burst: only a shared bucket waits


def test_a_throttled_submit_is_retried_after_backoff(tmp_path: Path) -> None:
    clock = FakeClock()
    batch = FakeBatch([client_error("ThrottlingException"), client_error("ThrottlingException")])
    result = fake_submitter(tmp_path, batch, clock).submit(TARGET, SubmitRequest("hello"))[0]
    assert result.job_id == "job-3"
    assert batch.calls == 3
    assert len(clock.sleeps) == 2
    # The one retry policy's full jitter: below base * 2**n before try n + 2.
    assert 0 <= clock.sleeps[0] <= retry.BACKOFF_BASE
    assert 0 <= clock.sleeps[1] <= retry.BACKOFF_BASE * 2


@pytest.mark.parametrize(
    ("code", "status"),
    [("TooManyRequestsException", 400), ("Throttling", 400), ("SlowDown", 429), ("ServiceUnavailable", 503)],
)
def test_throttling_codes_and_server_errors_are_retried(tmp_path: Path, code: str, status: int) -> None:
    clock = FakeClock()
    batch = FakeBatch([client_error(code, status)])
    fake_submitter(tmp_path, batch, clock).submit(TARGET, SubmitRequest("hello"))
    assert batch.calls == 2
    assert len(clock.sleeps) == 1


def test_backoff_is_the_retry_policys_doubling_up_to_its_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    batch = FakeBatch([client_error("ThrottlingException") for _ in range(8)])
    submitter = fake_submitter(tmp_path, batch, clock, max_retries=8)
    monkeypatch.setattr(random, "uniform", lambda _low, high: high)  # the longest jitter
    submitter.submit(TARGET, SubmitRequest("hello"))
    expected = [min(retry.BACKOFF_CAP, retry.BACKOFF_BASE * 2**n) for n in range(8)]
    assert clock.sleeps == pytest.approx(expected)


class LookedUpBatch(FakeBatch):
    """FakeBatch that records the order of SubmitJob and ListJobs calls."""

    def __init__(self, failures: list[Exception] | None = None):
        super().__init__(failures)
        self.order: list[str] = []

    def submit_job(self, **kwargs: Any) -> dict[str, Any]:
        self.order.append("submit")
        return super().submit_job(**kwargs)

    def list_jobs(self, **kwargs: Any) -> dict[str, Any]:
        self.order.append("look")
        return super().list_jobs(**kwargs)


def test_a_submit_job_failing_with_a_server_error_is_looked_up_before_each_resend(tmp_path: Path) -> None:
    """A 5xx does not say whether the job was created: each re-send comes after a look-up by token."""
    clock = FakeClock()
    batch = LookedUpBatch([client_error("ServiceUnavailable", 503) for _ in range(2)])
    result = fake_submitter(tmp_path, batch, clock).submit(TARGET, SubmitRequest("hello"))[0]
    assert result.job_id == "job-3"
    looks = len(LOOKUP_STATUSES)  # one ListJobs per status of the job's lifecycle
    assert batch.order == ["submit", *["look"] * looks, "submit", *["look"] * looks, "submit"]
    assert len(clock.sleeps) == 2


def test_a_throttled_submit_job_is_sent_again_without_a_look_up_and_the_retries_are_bounded(
    tmp_path: Path,
) -> None:
    """Throttled means not done: no look-up is needed, and after max_retries the error says so."""
    clock = FakeClock()
    batch = LookedUpBatch([client_error("ThrottlingException") for _ in range(10)])
    refused = r"^account test is throttling AWS Batch requests: submit_job refused 3 times"
    with pytest.raises(UserError, match=refused):
        fake_submitter(tmp_path, batch, clock, max_retries=2).submit(TARGET, SubmitRequest("hello"))
    assert batch.order == ["submit"] * 3
    assert len(clock.sleeps) == 2


def test_a_submit_job_that_keeps_failing_is_bounded_and_looked_up_between_tries(tmp_path: Path) -> None:
    clock = FakeClock()
    batch = LookedUpBatch([client_error("InternalFailure", 500) for _ in range(10)])
    with pytest.raises(UserError, match=r"keeps failing: submit_job failed 3 times"):
        fake_submitter(tmp_path, batch, clock, max_retries=2).submit(TARGET, SubmitRequest("hello"))
    assert batch.order.count("submit") == 3
    assert batch.order[-1] == "submit"  # no look-up after the last try: nothing is sent after it


def test_the_submitters_batch_client_makes_one_attempt_per_call(tmp_path: Path) -> None:
    """Retrying is the policy's alone: botocore's own retries would run under it, unpaced."""
    account = StandInAccount(FakeBatch())
    Submitter(account, journal_dir=tmp_path / "journal").submit(TARGET, SubmitRequest("hello"))
    assert account.retries_asked == [("batch", False)]


def test_persistent_throttling_is_a_user_error_saying_so(tmp_path: Path) -> None:
    clock = FakeClock()
    batch = FakeBatch([client_error("ThrottlingException") for _ in range(10)])
    with pytest.raises(UserError, match=r"^account test is throttling AWS Batch requests"):
        fake_submitter(tmp_path, batch, clock, max_retries=3).submit(TARGET, SubmitRequest("hello"))
    assert batch.calls == 4
    assert len(clock.sleeps) == 3


def test_other_aws_errors_are_user_errors_without_retry(tmp_path: Path) -> None:
    clock = FakeClock()
    batch = FakeBatch([client_error("ClientException")])
    with pytest.raises(UserError, match=r"^submit_job in account test: ClientException"):
        fake_submitter(tmp_path, batch, clock).submit(TARGET, SubmitRequest("hello"))
    assert batch.calls == 1
    assert clock.sleeps == []


# ---- deployed jobs and the one-call submit --------------------------------------------------


def outputs_for(target: DeployedJob) -> dict[str, Any]:
    return {
        "job_definition_arn_prefixes": {"hello": target.definition, "stats": "stats-definition"},
        "job_queue_arns": {"default": target.queue},
        "log_group_names": {"hello": "/batchform/test/hello"},
    }


def test_deployed_job_comes_from_terraform_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs.requests, "outputs", lambda _account: outputs_for(TARGET))
    found = jobs.deployed_job(StandInAccount(None), "hello")
    assert found == DeployedJob("hello", TARGET.definition, TARGET.queue, "/batchform/test/hello")


def test_deployed_job_prefers_the_jobs_output(monkeypatch: pytest.MonkeyPatch) -> None:
    deployed = outputs_for(TARGET) | {"jobs": {"hello": {"definition": "d", "queue": "q", "log_group": "g"}}}
    monkeypatch.setattr(jobs.requests, "outputs", lambda _account: deployed)
    assert jobs.deployed_job(StandInAccount(None), "hello") == DeployedJob("hello", "d", "q", "g")


def test_deployed_job_reads_the_bucket_prefix_tags_and_share_of_newer_outputs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    where = {
        "definition": "d",
        "queue": "q",
        "log_group": "g",
        "items_prefix": "fan-out/hello/",
        "tags": {"owner": "data", "environment": "dev"},
        "fair_share": True,
        "share_identifier": "batch_default",
    }
    monkeypatch.setattr(
        jobs.requests,
        "outputs",
        lambda _account: outputs_for(TARGET) | {"data_bucket": "data", "jobs": {"hello": where}},
    )
    found = jobs.deployed_job(StandInAccount(None), "hello")
    assert (found.data_bucket, found.items_prefix, found.fair_share, found.share_identifier) == (
        "data",
        "fan-out/hello/",
        True,
        "batch_default",
    )
    assert found.tags == {"owner": "data", "environment": "dev"}
    where.update(fair_share=False, share_identifier=None)
    assert jobs.deployed_job(StandInAccount(None), "hello").fair_share is False
    assert jobs.deployed_job(StandInAccount(None), "hello").share_identifier is None


def test_deployed_job_of_older_outputs_knows_none_of_them(monkeypatch: pytest.MonkeyPatch) -> None:
    deployed = outputs_for(TARGET) | {"jobs": {"hello": {"definition": "d", "queue": "q"}}}
    monkeypatch.setattr(jobs.requests, "outputs", lambda _account: deployed)
    found = jobs.deployed_job(StandInAccount(None), "hello")
    assert (found.data_bucket, found.items_prefix, found.tags, found.fair_share, found.share_identifier) == (
        (None,) * 5
    )


def test_an_unknown_job_is_a_user_error_listing_the_deployed_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs.requests, "outputs", lambda _account: outputs_for(TARGET))
    with pytest.raises(UserError, match=r"^unknown job 'nope' in account test \(deployed: hello, stats\)$"):
        jobs.deployed_job(StandInAccount(None), "nope")


# ---- resources and queue at submit -----------------------------------------------------------


def test_vcpus_memory_and_gpus_reach_the_container_overrides_as_resource_requirements(aws: Moto) -> None:
    fargate = dataclasses.replace(aws.target, platform="FARGATE", vcpus=0.25, memory=512)
    aws.submitter().submit(fargate, SubmitRequest("hello", vcpus="0.5", memory="2048"))
    ec2 = dataclasses.replace(aws.target, platform="EC2", vcpus=1, memory=2048)
    aws.submitter().submit(ec2, SubmitRequest("hello", vcpus=4, gpus=1))
    sent = [r["containerOverrides"]["resourceRequirements"] for r in aws.batch.submitted]
    assert sent == [
        [{"type": "VCPU", "value": "0.5"}, {"type": "MEMORY", "value": "2048"}],
        [{"type": "VCPU", "value": "4"}, {"type": "GPU", "value": "1"}],
    ]


@pytest.mark.parametrize(
    ("deployed", "fields", "message"),
    [
        (
            {"platform": "FARGATE"},
            {"vcpus": 0.3},
            r"^vcpus: must be one of 0.25, 0.5, 1, 2, 4, 8 or 16 on Fargate",
        ),
        ({"platform": "EC2"}, {"vcpus": 1.5}, r"^vcpus: must be a whole number on EC2"),
        (
            {"platform": "FARGATE", "vcpus": 1},
            {"memory": 1024},
            r"^memory: 1024 MiB is no Fargate size; 1 vCPU",
        ),
        (
            {"platform": "FARGATE", "vcpus": 0.25, "memory": 512},
            {"vcpus": 4},
            r"^vcpus 4: job hello keeps its 512 MiB, and 512 MiB is no Fargate size; .*give memory too$",
        ),
        ({"platform": "EC2"}, {"memory": 256}, r"^memory: must be a whole number of MiB, at least 512"),
        (
            {"platform": "FARGATE"},
            {"gpus": 1},
            r"^gpus: GPUs are for EC2 compute, and Fargate has none$",
        ),
        ({"platform": "EC2"}, {"gpus": 0}, r"^gpus: must be a whole number from 1 to 64, got 0$"),
        ({}, {"vcpus": -1}, r"^vcpus: must be a positive number"),
        ({}, {"vcpus": "many"}, r"^vcpus 'many': must be a number$"),
        ({}, {"vcpus": "inf"}, r"^vcpus 'inf': must be a number$"),
        (
            {"queue_name": "default"},
            {"queue": "shared"},
            r"^queue shared: job hello was looked up on queue default",
        ),
        (
            {"platform": "FARGATE", "max_vcpus": 4, "queue_name": "default"},
            {"vcpus": 8, "memory": 16384},
            r"^vcpus 8: more than queue default's compute environments can run \(at most 4 vCPUs\); "
            r"the job would wait in RUNNABLE for good$",
        ),
    ],
    ids=[
        "fargate-vcpus-size",
        "ec2-fractional-vcpus",
        "fargate-memory-for-its-vcpus",
        "fargate-vcpus-for-the-definitions-memory",
        "memory-under-512",
        "gpus-on-fargate",
        "gpus-zero",
        "negative-vcpus-anywhere",
        "vcpus-not-a-number",
        "vcpus-infinite",
        "queue-the-job-was-not-looked-up-on",
        "more-vcpus-than-the-queue-runs",
    ],
)
def test_resources_the_compute_would_refuse_are_refused_before_any_call(
    aws: Moto, deployed: dict[str, Any], fields: dict[str, Any], message: str
) -> None:
    target = dataclasses.replace(aws.target, **deployed)
    with pytest.raises(UserError, match=message):
        aws.submitter().submit(target, SubmitRequest("hello", **fields))
    assert aws.account.client_calls == 0


def test_resources_and_queue_are_part_of_the_token_and_absent_ones_leave_it_as_it_was() -> None:
    account = StandInAccount(None)
    plain = jobs.request_token(account, SubmitRequest("hello"))
    changed = {
        jobs.request_token(account, SubmitRequest("hello", **fields))
        for fields in ({"vcpus": 1}, {"memory": 4096}, {"gpus": 1}, {"queue": "shared"})
    }
    assert plain not in changed and len(changed) == 4
    assert jobs.request_token(account, SubmitRequest("hello", vcpus=None, queue=None)) == plain


def test_another_queue_is_the_one_terraform_deployed_with_its_fair_share_and_platform(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from batchform.jobs import requests as requests_module

    deployed = {
        "jobs": {
            "hello": {
                "definition": "arn:aws:batch:us-east-1:111111111111:job-definition/batchform-dev-hello",
                "queue": "arn:aws:batch:us-east-1:111111111111:job-queue/batchform-dev-default",
                "fair_share": False,
                "platform": "FARGATE",
                "vcpus": 0.25,
                "memory": 512,
                "max_vcpus": 4,
            }
        },
        "queues": {
            "default": {
                "arn": "arn:aws:batch:us-east-1:111111111111:job-queue/batchform-dev-default",
                "fair_share": False,
                "platform": "FARGATE",
                "max_vcpus": 4,
            },
            "shared": {
                "arn": "arn:aws:batch:us-east-1:111111111111:job-queue/batchform-dev-shared",
                "fair_share": True,
                "platform": "EC2",
                "max_vcpus": 64,
            },
        },
    }
    monkeypatch.setattr(requests_module, "outputs", lambda _account: deployed)
    from batchform.accounts import Accounts

    account = Accounts({"accounts": {"dev": {"account_id": "111111111111"}}}).get("dev")

    target = jobs.deployed_job(account, "hello", "shared")
    assert (target.queue.rpartition("/")[2], target.queue_name, target.fair_share, target.platform) == (
        "batchform-dev-shared",
        "shared",
        True,
        "EC2",
    )
    assert (target.vcpus, target.memory, target.max_vcpus) == (0.25, 512, 64)  # the definition's own
    assert (jobs.deployed_job(account, "hello").platform, jobs.deployed_job(account, "hello").max_vcpus) == (
        "FARGATE",
        4,
    )
    with pytest.raises(
        UserError, match=r"^queue bulk: account dev has no such queue \(queues: default, shared\)$"
    ):
        jobs.deployed_job(account, "hello", "bulk")
