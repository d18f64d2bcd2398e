"""Submitting, following and stopping real jobs on the local stack, through `invoke submit` and jobs.*.

The local account was deployed by the demo (`demo_run`); every job here runs as a container.
"""

from __future__ import annotations

import dataclasses
import json
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from batchform import jobs
from batchform.follow import JobWatcher, LogFollower

pytestmark = [pytest.mark.stack, pytest.mark.terraform]  # the demo (demo_run) applies the local account

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "batchform-local-data"


def described(account, job_ids: list[str]) -> dict[str, dict]:  # noqa: ANN001
    """DescribeJobs of any number of ids (100 a call), by job id."""
    batch = account.client("batch")
    return {
        job["jobId"]: job
        for at in range(0, len(job_ids), 100)
        for job in batch.describe_jobs(jobs=job_ids[at : at + 100])["jobs"]
    }


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "batchform", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def scripts(local_account, demo_run) -> str:  # noqa: ANN001
    """A bucket of shell scripts for fetch-and-run; returns its s3:// prefix."""
    s3 = local_account.client("s3")
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    scripts = {
        "item.sh": '#!/bin/sh\necho "item=$BATCHFORM_ITEM index=${AWS_BATCH_JOB_ARRAY_INDEX:-none}"\n',
        "item-length.sh": '#!/bin/sh\nhead=$(printf %s "$BATCHFORM_ITEM" | cut -c 1-10)\n'
        'echo "item=$head length=${#BATCHFORM_ITEM} index=$AWS_BATCH_JOB_ARRAY_INDEX"\n',
        "sleep.sh": '#!/bin/sh\necho "sleeping $SECONDS_TO_SLEEP s"\nsleep "$SECONDS_TO_SLEEP"\n'
        'echo "woke up"\n',
    }
    for name, body in scripts.items():
        s3.put_object(Bucket=BUCKET, Key=f"scripts/{name}", Body=body.encode())
    return f"s3://{BUCKET}/scripts"


def test_a_successful_job_exits_0_and_its_environment_override_reaches_the_container(demo_run) -> None:
    greeting = f"hi {uuid.uuid4().hex[:6]}"
    result = cli("submit", "hello", "--env", f"GREETING={greeting}", "--follow")
    assert result.returncode == 0, result.stderr
    assert f"greeting {greeting}" in result.stdout
    assert "SUCCEEDED" in result.stdout


def test_a_failed_job_exits_non_zero_and_prints_the_container_exit_code_and_reason(demo_run) -> None:
    result = cli("submit", "hello", "--env", "EXIT_CODE=3", "--wait")
    assert result.returncode == 1
    assert "FAILED" in result.stderr and "exit code 3" in result.stderr


def test_an_array_job_runs_one_child_per_item_of_a_file(scripts, tmp_path: Path) -> None:  # noqa: ANN001
    items = tmp_path / "items.txt"
    items.write_text("alpha.csv\nbeta.csv\ngamma.csv\n")
    result = cli(
        "submit",
        "fetch-and-run",
        "--each",
        str(items),
        "--env",
        f"BATCH_FILE_URL={scripts}/item.sh",
        "--wait",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout[result.stdout.index("{") :])
    [parent] = report["submitted"]
    assert parent["array_size"] == 3
    from batchform import logs
    from batchform.accounts import Accounts

    account = Accounts().get("local")
    lines = [list(logs.lines(account, f"{parent['job_id']}:{i}")) for i in range(3)]
    assert [[x for x in line if x.startswith("item=")] for line in lines] == [
        ["item=alpha.csv index=0"],
        ["item=beta.csv index=1"],
        ["item=gamma.csv index=2"],
    ]


def test_items_too_large_to_send_inline_reach_each_child_through_the_data_bucket(
    local_account, scripts, tmp_path: Path
) -> None:  # noqa: ANN001
    # Until the account's own data bucket is deployed, the test's bucket stands in for it.
    target = dataclasses.replace(
        jobs.deployed_job(local_account, "fetch-and-run"), data_bucket=BUCKET, items_prefix="fan-out/test/"
    )
    items = [f"{name}-" + "x" * 3500 for name in ("alpha", "beta", "gamma")]  # 10.5 KB: over 8 KiB
    env = {"BATCH_FILE_URL": f"{scripts}/item-length.sh"}
    submitter = jobs.Submitter(local_account)
    [parent] = submitter.submit(
        target, jobs.SubmitRequest(job="fetch-and-run", env=env, items=items), token=uuid.uuid4().hex
    )
    [request_env] = [
        {e["name"]: e["value"] for e in job["container"]["environment"]}
        for job in described(local_account, [parent.job_id]).values()
    ]
    assert "BATCHFORM_ITEMS" not in request_env
    assert request_env["BATCHFORM_ITEMS_URL"].startswith(f"s3://{BUCKET}/fan-out/test/")
    outcomes = JobWatcher(local_account, echo=lambda _l: None, poll=0.5).wait([parent.job_id], timeout=300)
    assert outcomes[parent.job_id].succeeded, outcomes
    from batchform import logs

    printed = [
        [x for x in logs.lines(local_account, f"{parent.job_id}:{i}") if x.startswith("item=")]
        for i in range(3)
    ]
    assert printed == [[f"item={item[:10]} length={len(item)} index={i}"] for i, item in enumerate(items)]


def test_a_dependent_job_starts_only_after_its_dependency_ends(local_account, scripts) -> None:  # noqa: ANN001
    target = jobs.deployed_job(local_account, "fetch-and-run")
    submitter = jobs.Submitter(local_account)
    env = {"BATCH_FILE_URL": f"{scripts}/sleep.sh", "SECONDS_TO_SLEEP": "3"}
    [first] = submitter.submit(
        target, jobs.SubmitRequest(job="fetch-and-run", env=env), token=uuid.uuid4().hex
    )
    [second] = submitter.submit(
        target,
        jobs.SubmitRequest(
            job="fetch-and-run", env={**env, "SECONDS_TO_SLEEP": "0"}, depends_on=[(first.job_id, None)]
        ),
        token=uuid.uuid4().hex,
    )
    outcomes = JobWatcher(local_account, echo=lambda _l: None, poll=0.5).wait(
        [first.job_id, second.job_id], timeout=180
    )
    assert all(o.succeeded for o in outcomes.values())
    found = described(local_account, [first.job_id, second.job_id])
    assert found[second.job_id]["startedAt"] >= found[first.job_id]["stoppedAt"]


def test_resubmitting_after_a_crash_reattaches_instead_of_starting_a_duplicate(local_account) -> None:  # noqa: ANN001
    token = uuid.uuid4().hex
    first = cli("submit", "hello", "--env", "GREETING=once", "--token", token)
    assert first.returncode == 0, first.stderr
    again = cli("submit", "hello", "--env", "GREETING=once", "--token", token)
    assert again.returncode == 0 and "reattached to" in again.stdout
    job_id = first.stdout.split(" as ")[1].split()[0]
    assert job_id in again.stdout
    named = [j for j in jobs.list_jobs(local_account) if j.get("jobId") == job_id]
    assert len(named) == 1


def test_follow_streams_lines_as_they_arrive_with_no_duplicate_or_missing_line(
    local_account, scripts
) -> None:  # noqa: ANN001
    target = jobs.deployed_job(local_account, "fetch-and-run")
    env = {"BATCH_FILE_URL": f"{scripts}/sleep.sh", "SECONDS_TO_SLEEP": "10"}
    [job] = jobs.Submitter(local_account).submit(
        target, jobs.SubmitRequest(job="fetch-and-run", env=env), token=uuid.uuid4().hex
    )
    printed: list[str] = []
    follower = LogFollower(local_account, job.job_id, echo=printed.append, poll=0.3)
    thread = threading.Thread(target=follower.follow)
    thread.start()

    def wait_for(line: str) -> None:
        deadline = time.monotonic() + 60
        while line not in printed:
            assert time.monotonic() < deadline, f"{line!r} never printed: {printed}"
            time.sleep(0.1)

    wait_for("sleeping 10 s")  # the container's first line, printed while it runs
    # Also write to the job's stream from outside, as any awslogs writer would.
    stream = described(local_account, [job.job_id])[job.job_id]["container"]["logStreamName"]
    written = [f"live line {i}" for i in range(6)]
    logs_client = local_account.client("logs")
    for line in written:
        logs_client.put_log_events(
            logGroupName=target.log_group,
            logStreamName=stream,
            logEvents=[{"timestamp": int(time.time() * 1000), "message": line}],
        )
        wait_for(line)  # each appears while the job still runs
    assert described(local_account, [job.job_id])[job.job_id]["status"] == "RUNNING"
    thread.join(timeout=120)

    interesting = [
        line for line in printed if line in ("sleeping 10 s", "woke up") or line.startswith("live")
    ]
    assert interesting == ["sleeping 10 s", *written, "woke up"]
    assert len(printed) == len(set(printed)), printed


def test_cancel_ends_a_waiting_job_and_a_running_one(local_account, scripts) -> None:  # noqa: ANN001
    target = jobs.deployed_job(local_account, "fetch-and-run")
    submitter = jobs.Submitter(local_account)
    env = {"BATCH_FILE_URL": f"{scripts}/sleep.sh", "SECONDS_TO_SLEEP": "60"}
    [running] = submitter.submit(
        target, jobs.SubmitRequest(job="fetch-and-run", env=env), token=uuid.uuid4().hex
    )
    [waiting] = submitter.submit(
        target,
        jobs.SubmitRequest(job="fetch-and-run", env=env, depends_on=[(running.job_id, None)]),
        token=uuid.uuid4().hex,
    )
    watcher = JobWatcher(local_account, echo=lambda _l: None, poll=0.3)
    deadline = time.monotonic() + 60
    while described(local_account, [running.job_id])[running.job_id]["status"] != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.3)

    assert f"terminated {waiting.job_id} (was " in cli("jobs.cancel", waiting.job_id).stdout
    assert f"terminated {running.job_id} (was RUNNING" in cli("jobs.cancel", running.job_id).stdout
    outcomes = watcher.wait([running.job_id, waiting.job_id], timeout=120)
    assert {o.status for o in outcomes.values()} == {"FAILED"}


def test_ctrl_c_twice_while_following_ends_the_running_job(local_account, scripts) -> None:  # noqa: ANN001
    command = [sys.executable, "-m", "batchform", "submit", "fetch-and-run", "--follow"]
    command += ["--env", f"BATCH_FILE_URL={scripts}/sleep.sh", "--env", "SECONDS_TO_SLEEP=120"]
    command += ["--token", uuid.uuid4().hex]
    follower = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    printed: list[str] = []
    assert follower.stdout is not None
    for line in follower.stdout:
        printed.append(line)
        if "sleeping 120 s" in line:  # the container runs
            break
    job_id = re.search(r"submitted fetch-and-run as (\S+)", "".join(printed)).group(1)
    follower.send_signal(signal.SIGINT)
    time.sleep(0.5)
    follower.send_signal(signal.SIGINT)
    rest, _ = follower.communicate(timeout=120)
    assert follower.returncode == 130
    assert re.search(rf"terminated {job_id} \(was (STARTING|RUNNING); now ", rest), rest
    state = JobWatcher(local_account, echo=lambda _l: None, poll=0.5).wait([job_id], timeout=120)[job_id]
    assert state.status == "FAILED"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--array-size", "1"], "--array-size"),
        (["--array-size", "10001"], "--array-size"),
        (["--timeout", "59"], "--timeout"),
        (["--retries", "11"], "--retries"),
        (["--retries", "0"], "--retries"),
        (["--name", "-starts-with-a-hyphen"], "--name"),
        (["--name", "x" * 129], "--name"),
        (["--env", "1BAD=x"], "--env"),
        (["--env", "AWS_BATCH_X=1"], "--env"),
        ([arg for i in range(21) for arg in ("--depends-on", f"{uuid.UUID(int=i)}")], "--depends-on"),
        (["--env", f"BIG={'x' * 31000}"], "30 KiB"),
    ],
    ids=[
        "array-1",
        "array-10001",
        "timeout-59",
        "retries-11",
        "retries-0",
        "name-start",
        "name-long",
        "env-name",
        "env-reserved",
        "21-dependencies",
        "payload",
    ],
)
def test_every_aws_limit_is_checked_before_calling_aws(args: list[str], message: str) -> None:
    result = cli("submit", "hello", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_submit_killed_before_recording_its_job_is_completed_once_by_the_rerun(
    local_account, demo_run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies after SubmitJob returned but before the journal said so: the re-run finds the job."""
    request = jobs.SubmitRequest(job="hello", env={"GREETING": f"crash {uuid.uuid4().hex[:6]}"})
    target = jobs.deployed_job(local_account, "hello")
    original = jobs.Journal.append

    class Killed(BaseException):
        pass

    def append(self, record: dict, **options: bool) -> None:  # noqa: ANN001
        if record.get("state") == "submitted":
            raise Killed
        original(self, record, **options)

    monkeypatch.setattr(jobs.Journal, "append", append)
    with pytest.raises(Killed):
        jobs.Submitter(local_account).submit(target, request)
    monkeypatch.setattr(jobs.Journal, "append", original)

    [again] = jobs.Submitter(local_account).submit(target, request)
    assert again.reattached
    tagged = [
        job
        for job in described(local_account, [j["jobId"] for j in jobs.list_jobs(local_account)]).values()
        if job.get("tags", {}).get("batchform:token") == again.token
    ]
    assert [job["jobId"] for job in tagged] == [again.job_id]
