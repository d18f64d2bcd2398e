"""Following Batch jobs: status lines, throttling, arrays, stuck jobs, and exactly-once log lines.

Batch is a scripted fake (its statuses change when the watcher sleeps, on a fake clock);
CloudWatch Logs is moto's, in process. One test runs moto's own Batch, with the container
run replaced, to check the watcher against the shapes moto's DescribeJobs and ListJobs return.
"""

from __future__ import annotations

import copy
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from batchform import logfollow, ratelimit, retry
from batchform import logs as joblogs
from batchform.errors import UserError
from batchform.follow import DRAIN_TRIES, JobWatcher, LogFollower
from batchform.jobs import stop_job
from batchform.settings import write_atomic
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws

GROUP = "/aws/batch/job"
STREAM = "work/default/j"


# ---- fakes ---------------------------------------------------------------------------------


class Clock:
    """A fake monotonic clock; each sleep advances it and runs the next scripted step."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.steps: list[Callable[[], None]] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.steps:
            self.steps.pop(0)()


def job(job_id: str, status: str, name: str = "work", **extra: Any) -> dict[str, Any]:
    return {
        "jobId": job_id,
        "jobName": name,
        "status": status,
        "jobDefinition": "arn:aws:batch:us-east-1:123456789012:job-definition/work:1",
        **extra,
    }


def client_error(code: str, status: int = 400, operation: str = "DescribeJobs") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} for the test"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


class FakeBatch:
    """describe_jobs / list_jobs / terminate_job over a dict of job descriptions the test edits."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.jobs: dict[str, dict[str, Any]] = {}
        self.children: dict[str, list[str]] = {}
        self.describe_calls: list[list[str]] = []
        self.list_calls: list[dict[str, Any]] = []
        self.errors: list[Exception] = []
        self.terminated: list[tuple[str, str, float]] = []
        self.definitions: dict[str, dict[str, Any]] = {}

    def describe_jobs(self, jobs: list[str]) -> dict[str, Any]:
        self.describe_calls.append(list(jobs))
        if self.errors:
            raise self.errors.pop(0)
        return {"jobs": [copy.deepcopy(self.jobs[j]) for j in jobs if j in self.jobs]}

    def list_jobs(self, arrayJobId: str, jobStatus: str, nextToken: str | None = None) -> dict[str, Any]:  # noqa: N803
        self.list_calls.append({"arrayJobId": arrayJobId, "jobStatus": jobStatus, "nextToken": nextToken})
        matching = [c for c in self.children[arrayJobId] if self.jobs[c]["status"] == jobStatus]
        start = int(nextToken or 0)
        page: dict[str, Any] = {"jobSummaryList": [{"jobId": c} for c in matching[start : start + 2]]}
        if start + 2 < len(matching):
            page["nextToken"] = str(start + 2)
        return page

    def terminate_job(self, jobId: str, reason: str) -> dict[str, Any]:  # noqa: N803
        self.terminated.append((jobId, reason, self.clock.now))
        self.jobs[jobId].update(status="FAILED", statusReason=reason)
        return {}

    def describe_job_definitions(self, jobDefinitions: list[str]) -> dict[str, Any]:  # noqa: N803
        return {"jobDefinitions": [self.definitions[d] for d in jobDefinitions if d in self.definitions]}


class FakeAccount:
    name = "test"
    account_id, region = "123456789012", "us-east-1"
    logs_read_rate: float | None = 1e6  # the shared bucket never runs dry unless a test says so

    def __init__(self, **clients: Any) -> None:
        self.clients = clients
        self.one_attempt: list[str] = []

    def client(self, service: str, retries: bool = True) -> Any:
        if not retries:
            self.one_attempt.append(service)
        return self.clients[service]


@pytest.fixture(autouse=True)
def _fresh_buckets() -> Iterator[None]:
    """Each test starts with no shared bucket, so no test waits for another's tokens."""
    ratelimit.reset()
    yield
    ratelimit.reset()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def batch(clock: Clock) -> FakeBatch:
    return FakeBatch(clock)


def watcher(batch: FakeBatch, clock: Clock, out: list[str], **kwargs: Any) -> JobWatcher:
    kwargs.setdefault("poll", 2.0)
    return JobWatcher(FakeAccount(batch=batch), echo=out.append, sleep=clock.sleep, clock=clock, **kwargs)


# ---- JobWatcher: status lines ----------------------------------------------------------------


def test_each_status_change_is_echoed_once_with_the_elapsed_time(batch: FakeBatch, clock: Clock) -> None:
    batch.jobs["a"] = job("a", "SUBMITTED")

    def status(value: str) -> Callable[[], None]:
        return lambda: batch.jobs["a"].update(status=value)

    clock.steps = [lambda: None, status("RUNNABLE"), lambda: None, lambda: None, status("RUNNING")]
    clock.steps.append(status("SUCCEEDED"))
    out: list[str] = []

    outcomes = watcher(batch, clock, out).wait(["a"])

    assert out == [
        "work (a): SUBMITTED after 0.0 s",
        "work (a): RUNNABLE after 4.0 s",
        "work (a): RUNNING after 10.0 s",
        "work (a): SUCCEEDED after 12.0 s",
    ]
    assert outcomes["a"].succeeded
    assert outcomes["a"].status == "SUCCEEDED"


def test_many_jobs_share_describe_calls_of_at_most_100_ids_and_finished_ones_are_dropped(
    batch: FakeBatch, clock: Clock
) -> None:
    ids = [f"job-{n:03d}" for n in range(150)]
    for job_id in ids:
        batch.jobs[job_id] = job(job_id, "RUNNING", name=f"n{job_id[-3:]}")

    def finish(chosen: list[str]) -> Callable[[], None]:
        return lambda: [batch.jobs[j].update(status="SUCCEEDED") for j in chosen]

    clock.steps = [finish(ids[:100]), finish(ids[100:])]
    out: list[str] = []

    outcomes = watcher(batch, clock, out).wait(ids)

    assert [len(call) for call in batch.describe_calls] == [100, 50, 100, 50, 50]
    assert batch.describe_calls[-1] == ids[100:]
    assert list(outcomes) == ids
    assert all(o.succeeded for o in outcomes.values())
    assert len(out) == 300
    assert out.count("n000 (job-000): RUNNING after 0.0 s") == 1
    assert "n149 (job-149): SUCCEEDED after 4.0 s" in out


def test_a_job_describejobs_never_knows_is_an_error(batch: FakeBatch, clock: Clock) -> None:
    batch.jobs["a"] = job("a", "RUNNING")

    with pytest.raises(UserError, match="no job ghost in account test"):
        watcher(batch, clock, []).wait(["a", "ghost"])
    assert len(batch.describe_calls) == 3


# ---- JobWatcher: throttling ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "http_status"),
    [
        ("ThrottlingException", 400),
        ("TooManyRequestsException", 429),
        ("Throttling", 400),
        ("SlowDown", 429),
    ],
)
def test_throttled_describe_backs_off_longer_each_time_then_resumes_the_poll_interval(
    batch: FakeBatch, clock: Clock, code: str, http_status: int
) -> None:
    batch.jobs["a"] = job("a", "RUNNING")
    batch.errors = [client_error(code, http_status), client_error(code, http_status)]
    clock.steps = [lambda: None, lambda: None, lambda: batch.jobs["a"].update(status="SUCCEEDED")]
    out: list[str] = []
    w = watcher(batch, clock, out, poll=1.0, max_poll=30.0)
    w._random = TopOfRange()  # the jitter's ceiling: retry.backoff's bound, poll * 2**attempt

    outcomes = w.wait(["a"])

    first, second, after = clock.sleeps
    assert (first, second, after) == (2.0, 4.0, 1.0)
    assert w.account.one_attempt == ["batch"] * 4  # botocore retries nothing under this loop
    assert outcomes["a"].succeeded
    assert out == [
        f"work (a): RUNNING after {first + second:.1f} s",
        f"work (a): SUCCEEDED after {clock.now:.1f} s",
    ]


class TopOfRange:
    """An rng whose full jitter always draws the ceiling, so the ceilings show."""

    def uniform(self, _low: float, high: float) -> float:
        return high


def test_backoff_never_exceeds_max_poll(batch: FakeBatch, clock: Clock) -> None:
    batch.jobs["a"] = job("a", "SUCCEEDED")
    batch.errors = [client_error("ThrottlingException") for _ in range(8)]

    watcher(batch, clock, [], poll=1.0, max_poll=5.0).wait(["a"])

    assert len(clock.sleeps) == 8
    assert all(0 <= s <= 5.0 for s in clock.sleeps)

    ceilings = Clock()
    batch.errors = [client_error("ThrottlingException") for _ in range(8)]
    w = watcher(batch, ceilings, [], poll=1.0, max_poll=5.0)
    w._random = TopOfRange()
    w.wait(["a"])
    assert ceilings.sleeps == [2.0, 4.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0]


def test_other_describe_errors_are_not_retried(batch: FakeBatch, clock: Clock) -> None:
    batch.jobs["a"] = job("a", "RUNNING")
    batch.errors = [client_error("AccessDeniedException")]

    with pytest.raises(ClientError, match="AccessDeniedException"):
        watcher(batch, clock, []).wait(["a"])
    assert clock.sleeps == []


# ---- JobWatcher: arrays ------------------------------------------------------------------------


def summary(**counts: int) -> dict[str, int]:
    statuses = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
    return {s: counts.get(s.lower(), 0) for s in statuses}


def test_array_parent_prints_progress_on_change_and_lists_its_failed_children(
    batch: FakeBatch, clock: Clock
) -> None:
    children = [f"p:{n}" for n in range(10)]
    batch.children["p"] = children
    for child in children:
        batch.jobs[child] = job(child, "SUCCEEDED", name="sweep")
    batch.jobs["p:2"] = job(
        "p:2",
        "FAILED",
        name="sweep",
        statusReason="Essential container in task exited",
        container={"exitCode": 1},
    )
    batch.jobs["p:5"] = job(
        "p:5",
        "FAILED",
        name="sweep",
        container={},
        attempts=[{"container": {"exitCode": 137, "reason": "OutOfMemoryError: Container killed"}}],
    )
    batch.jobs["p:9"] = job(
        "p:9", "FAILED", name="sweep", statusReason="CannotPullContainerError: no such image"
    )

    def parent(status: str, **counts: int) -> Callable[[], None]:
        return lambda: batch.jobs.__setitem__(
            "p",
            job("p", status, name="sweep", arrayProperties={"size": 10, "statusSummary": summary(**counts)}),
        )

    parent("PENDING", submitted=10)()
    clock.steps = [
        parent("PENDING", submitted=10),
        parent("PENDING", succeeded=4, failed=1, running=2, starting=1, runnable=2),
        parent("PENDING", succeeded=4, failed=1, running=2, starting=1, runnable=2),
        parent("FAILED", succeeded=7, failed=3),
    ]
    out: list[str] = []

    outcome = watcher(batch, clock, out).wait(["p"])["p"]

    assert out == [
        "sweep (p): PENDING after 0.0 s",
        "sweep (p): [..........] 0/10 done (0 succeeded, 0 failed, 0 running, 10 pending)",
        "sweep (p): [#####.....] 5/10 done (4 succeeded, 1 failed, 3 running, 2 pending)",
        "sweep (p): FAILED after 8.0 s",
        "sweep (p): [##########] 10/10 done (7 succeeded, 3 failed, 0 running, 0 pending)",
        "sweep (p): 3 failed child job(s):",
        "  p:2: Essential container in task exited (exit code 1)",
        "  p:5: OutOfMemoryError: Container killed (exit code 137)",
        "  p:9: CannotPullContainerError: no such image",
    ]
    assert outcome.failed_children == [
        ("p:2", "Essential container in task exited", 1),
        ("p:5", "OutOfMemoryError: Container killed", 137),
        ("p:9", "CannotPullContainerError: no such image", None),
    ]
    assert [c["nextToken"] for c in batch.list_calls] == [None, "2"]
    assert all(
        c == {"arrayJobId": "p", "jobStatus": "FAILED", "nextToken": c["nextToken"]} for c in batch.list_calls
    )
    assert not outcome.succeeded
    assert (outcome.array_size, outcome.summary["FAILED"]) == (10, 3)


def test_with_progress_an_arrays_changes_go_in_place_and_only_its_end_is_printed(
    batch: FakeBatch, clock: Clock
) -> None:
    """On a terminal: one line per job, replaced at each change; what is printed at the end is
    what is printed off a terminal (the test above)."""
    batch.children["p"] = []

    def parent(status: str, **counts: int) -> Callable[[], None]:
        return lambda: batch.jobs.__setitem__(
            "p",
            job("p", status, name="sweep", arrayProperties={"size": 4, "statusSummary": summary(**counts)}),
        )

    parent("PENDING", submitted=4)()
    clock.steps = [parent("PENDING", succeeded=1, running=3), parent("SUCCEEDED", succeeded=4)]
    out: list[str] = []
    shown: list[tuple[str, str]] = []

    watcher(batch, clock, out, progress=lambda label, line: shown.append((label, line))).wait(["p"])

    assert out == [
        "sweep (p): SUCCEEDED after 4.0 s",
        "sweep (p): [##########] 4/4 done (4 succeeded, 0 failed, 0 running, 0 pending)",
    ]
    assert shown == [
        (
            "sweep (p)",
            "PENDING after 0 s [..........] 0/4 done (0 succeeded, 0 failed, 0 running, 4 pending)",
        ),
        (
            "sweep (p)",
            "PENDING after 2 s [##........] 1/4 done (1 succeeded, 0 failed, 3 running, 0 pending)",
        ),
        (
            "sweep (p)",
            "SUCCEEDED after 4 s [##########] 4/4 done (4 succeeded, 0 failed, 0 running, 0 pending)",
        ),
    ]


def test_a_succeeded_array_parent_lists_no_children(batch: FakeBatch, clock: Clock) -> None:
    batch.children["p"] = []
    batch.jobs["p"] = job(
        "p", "SUCCEEDED", arrayProperties={"size": 2, "statusSummary": summary(succeeded=2)}
    )

    outcome = watcher(batch, clock, []).wait(["p"])["p"]

    assert outcome.succeeded
    assert batch.list_calls == []


# ---- JobWatcher: exit code and reason ----------------------------------------------------------


@pytest.mark.parametrize(
    ("described", "reason", "exit_code"),
    [
        (
            {
                "statusReason": "Essential container in task exited",
                "container": {"exitCode": 2},
                "attempts": [{"container": {"exitCode": 9}}],
            },
            "Essential container in task exited",
            2,
        ),
        (
            {
                "container": {},
                "attempts": [
                    {"statusReason": "first try", "container": {"exitCode": 1}},
                    {"statusReason": "Task failed to start", "container": {"exitCode": 3}},
                ],
            },
            "Task failed to start",
            3,
        ),
        (
            {"attempts": [{"container": {"reason": "OutOfMemoryError", "exitCode": 137}}]},
            "OutOfMemoryError",
            137,
        ),
        ({"container": {"exitCode": 0}, "attempts": [{"container": {"exitCode": 5}}]}, "", 0),
    ],
)
def test_exit_code_and_reason_come_from_the_job_else_its_last_attempt(
    batch: FakeBatch, clock: Clock, described: dict[str, Any], reason: str, exit_code: int
) -> None:
    batch.jobs["a"] = job("a", "FAILED", **described)
    out: list[str] = []

    outcome = watcher(batch, clock, out).wait(["a"])["a"]

    assert (outcome.reason, outcome.exit_code) == (reason, exit_code)
    assert out == [f"work (a): FAILED after 0.0 s{': ' + reason if reason else ''} (exit code {exit_code})"]


# ---- JobWatcher: RUNNABLE, timeout, stop -------------------------------------------------------


@pytest.mark.parametrize(
    "reason",
    [
        "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement is higher than the CE",
        "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service cannot fulfill the capacity requested.",
        "Compute environment misconfiguration: no subnets",
    ],
)
def test_a_job_stuck_in_runnable_is_reported_once_with_its_reason(
    batch: FakeBatch, clock: Clock, reason: str
) -> None:
    batch.jobs["a"] = job("a", "RUNNABLE", statusReason=reason)
    out: list[str] = []
    polls: list[int] = []
    w = watcher(batch, clock, out)

    def on_poll(described: dict[str, dict]) -> None:
        polls.append(len(described))
        if len(polls) == 4:
            w.stop()

    outcome = w.wait(["a"], on_poll=on_poll)["a"]

    assert out == ["work (a): RUNNABLE after 0.0 s", f"work (a): stuck in RUNNABLE: {reason}"]
    assert (outcome.status, outcome.reason) == ("RUNNABLE", reason)
    assert polls == [1, 1, 1, 1]


def test_a_runnable_job_with_an_ordinary_reason_is_not_called_stuck(batch: FakeBatch, clock: Clock) -> None:
    batch.jobs["a"] = job("a", "RUNNABLE", statusReason="Waiting for capacity to scale up")
    clock.steps = [lambda: None, lambda: batch.jobs["a"].update(status="RUNNING", statusReason="")]
    clock.steps.append(lambda: batch.jobs["a"].update(status="SUCCEEDED"))
    out: list[str] = []

    watcher(batch, clock, out).wait(["a"])

    assert not any("stuck" in line for line in out)


def test_runnable_timeout_terminates_the_job_once_with_the_reason(batch: FakeBatch, clock: Clock) -> None:
    batch.jobs["a"] = job("a", "RUNNABLE")
    out: list[str] = []

    outcome = watcher(batch, clock, out).wait(["a"], runnable_timeout=5)["a"]

    assert batch.terminated == [("a", "batchform: RUNNABLE for more than 5 s", 6.0)]
    assert out == [
        "work (a): RUNNABLE after 0.0 s",
        "work (a): RUNNABLE for more than 5 s, terminated",
        "work (a): FAILED after 8.0 s: batchform: RUNNABLE for more than 5 s",
    ]
    assert (outcome.status, outcome.reason) == ("FAILED", "batchform: RUNNABLE for more than 5 s")


def test_runnable_timeout_counts_from_when_the_job_became_runnable(batch: FakeBatch, clock: Clock) -> None:
    batch.jobs["a"] = job("a", "SUBMITTED")
    clock.steps = [lambda: None, lambda: None, lambda: batch.jobs["a"].update(status="RUNNABLE")]
    clock.steps += [lambda: None, lambda: None, lambda: batch.jobs["a"].update(status="RUNNING")]
    clock.steps.append(lambda: batch.jobs["a"].update(status="SUCCEEDED"))

    outcome = watcher(batch, clock, []).wait(["a"], runnable_timeout=5)["a"]

    assert batch.terminated == []
    assert outcome.succeeded


def test_timeout_names_the_unfinished_jobs(batch: FakeBatch, clock: Clock) -> None:
    batch.jobs["a"] = job("a", "RUNNING")
    batch.jobs["b"] = job("b", "SUCCEEDED", name="quick")

    with pytest.raises(UserError, match=r"^1 job\(s\) not finished after 5 s: work \(a\) RUNNING$"):
        watcher(batch, clock, []).wait(["a", "b"], timeout=5)
    assert clock.sleeps == [2.0, 2.0, 1.0]


def test_stop_returns_the_current_statuses_and_the_watcher_can_wait_again(
    batch: FakeBatch, clock: Clock
) -> None:
    batch.jobs["a"] = job("a", "RUNNING")
    batch.jobs["b"] = job("b", "SUCCEEDED")
    w = watcher(batch, clock, [])
    clock.steps = [w.stop]

    outcomes = w.wait(["a", "b"])

    assert {k: o.status for k, o in outcomes.items()} == {"a": "RUNNING", "b": "SUCCEEDED"}
    assert len(batch.describe_calls) == 1
    clock.steps = [lambda: batch.jobs["a"].update(status="SUCCEEDED")]
    assert w.wait(["a"])["a"].succeeded


# ---- stopping a job ----------------------------------------------------------------------------


class StartingMeanwhile(FakeBatch):
    """Batch as AWS documents CancelJob: "Jobs that progressed to the STARTING or RUNNING state
    aren't canceled. However, the API operation still succeeds." The job is RUNNABLE when first
    described and moves to STARTING before any stop call reaches it."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.cancelled: list[str] = []

    def describe_jobs(self, jobs: list[str]) -> dict[str, Any]:
        described = super().describe_jobs(jobs)
        for job_id in jobs:
            if self.jobs[job_id]["status"] == "RUNNABLE":
                self.jobs[job_id]["status"] = "STARTING"
        return described

    def cancel_job(self, jobId: str, reason: str) -> dict[str, Any]:  # noqa: N803
        self.cancelled.append(jobId)
        if self.jobs[jobId]["status"] in ("SUBMITTED", "PENDING", "RUNNABLE"):
            self.jobs[jobId].update(status="FAILED", statusReason=reason)
        return {}


@pytest.mark.parametrize("status", ["SUBMITTED", "RUNNABLE", "STARTING", "RUNNING"])
def test_stopping_a_job_ends_it_whatever_state_it_has_reached_and_says_what_happened(
    clock: Clock, status: str
) -> None:
    batch = StartingMeanwhile(clock)
    batch.jobs["a"] = job("a", status)

    said = stop_job(FakeAccount(batch=batch), "a", "stopped by the test")

    assert batch.jobs["a"]["status"] == "FAILED"
    assert [t[0] for t in batch.terminated] == ["a"]
    assert said == f"terminated a (was {status}; now FAILED)"


def test_a_job_still_ending_after_terminate_is_said_to_be_stopping(batch: FakeBatch, clock: Clock) -> None:
    batch.jobs["a"] = job("a", "RUNNING")
    batch.terminate_job = lambda jobId, reason: batch.terminated.append((jobId, reason, 0.0))  # type: ignore[method-assign]  # noqa: N803

    said = stop_job(FakeAccount(batch=batch), "a", "stopped by the test")

    assert said == "terminated a (was RUNNING; now RUNNING, stopping)"


def test_stopping_a_finished_job_sends_nothing(batch: FakeBatch, clock: Clock) -> None:
    batch.jobs["a"] = job("a", "SUCCEEDED")
    assert stop_job(FakeAccount(batch=batch), "a", "r") == "a already SUCCEEDED: nothing to stop"
    assert batch.terminated == []


# ---- JobWatcher against moto's own Batch -------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """moto for every AWS call, with dummy credentials and nothing of the machine's AWS setup."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    with mock_aws():
        yield


def test_watcher_reads_moto_batch_array_jobs_and_their_failed_children(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.batch import models

    def run(self: Any) -> None:
        """The container 'exits' at once: 3 for indexes 1 and 4, else 0; the parent fails as on AWS."""
        index = (self.array_properties or {}).get("index")
        self.job_started_at = datetime.now()
        self._start_attempt()
        code = 3 if index in (1, 4) else 0
        self.latest_attempt["container"]["exitCode"] = code
        if code:
            self.job_stopped_reason = "Essential container in task exited"
        self.exit_code = code
        self._mark_stopped(success=code == 0)
        parent = self.all_jobs.get(self.job_id.rpartition(":")[0])
        if parent is None:
            return
        while parent._child_jobs is None:  # moto starts the children before it links them
            time.sleep(0.001)
        if all(c.status in ("SUCCEEDED", "FAILED") for c in parent._child_jobs):
            if any(c.status == "FAILED" for c in parent._child_jobs):
                parent.status = "FAILED"

    monkeypatch.setattr(models.Job, "run", run)
    iam, batch = boto3.client("iam"), boto3.client("batch")
    role = iam.create_role(RoleName="batch", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    ce = batch.create_compute_environment(
        computeEnvironmentName="follow-ce", type="UNMANAGED", state="ENABLED", serviceRole=role
    )["computeEnvironmentArn"]
    queue = batch.create_job_queue(
        jobQueueName="follow-queue",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}],
    )["jobQueueArn"]
    definition = batch.register_job_definition(
        jobDefinitionName="sweep",
        type="container",
        containerProperties={"image": "busybox", "vcpus": 1, "memory": 128, "command": ["true"]},
    )["jobDefinitionArn"]
    parent = batch.submit_job(
        jobName="sweep", jobQueue=queue, jobDefinition=definition, arrayProperties={"size": 6}
    )
    single = batch.submit_job(jobName="single", jobQueue=queue, jobDefinition=definition)
    account = FakeAccount(batch=batch)
    out: list[str] = []
    ticks = itertools.count()

    outcomes = JobWatcher(
        account, echo=out.append, poll=1.0, sleep=lambda _: time.sleep(0.02), clock=lambda: float(next(ticks))
    ).wait([parent["jobId"], single["jobId"]], timeout=500)

    p = outcomes[parent["jobId"]]
    assert p.status == "FAILED"
    assert p.array_size == 6
    assert p.failed_children == [
        (f"{parent['jobId']}:1", "Essential container in task exited", 3),
        (f"{parent['jobId']}:4", "Essential container in task exited", 3),
    ]
    assert outcomes[single["jobId"]].succeeded
    assert f"  {parent['jobId']}:4: Essential container in task exited (exit code 3)" in out


# ---- LogFollower ----------------------------------------------------------------------------------


_stamps = itertools.count(int(time.time() * 1000))


class Logs:
    """moto's CloudWatch Logs client, with scripted failures of get_log_events."""

    def __init__(self) -> None:
        self.real = boto3.client("logs")
        self.real.create_log_group(logGroupName=GROUP)
        self.failures: list[Exception] = []
        self.tokens: list[str | None] = []

    def get_log_events(self, **kwargs: Any) -> dict[str, Any]:
        self.tokens.append(kwargs.get("nextToken"))
        if self.failures:
            raise self.failures.pop(0)
        return self.real.get_log_events(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def put(self, stream: str, *messages: str, group: str = GROUP) -> None:
        existing = self.real.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream)[
            "logStreams"
        ]
        if not any(s["logStreamName"] == stream for s in existing):
            self.real.create_log_stream(logGroupName=group, logStreamName=stream)
        events = [{"timestamp": next(_stamps), "message": m} for m in messages]
        self.real.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


@pytest.fixture
def logs(aws: None) -> Logs:
    return Logs()


def running(job_id: str = "j", *streams: str, status: str = "RUNNING") -> dict[str, Any]:
    """A job whose attempts wrote to `streams`, the last one current."""
    attempts = [{"container": {"logStreamName": s}} for s in streams]
    container = {"logStreamName": streams[-1]} if streams else {}
    return job(job_id, status, container=container, attempts=attempts)


def follower(
    batch: FakeBatch, logs: Logs, clock: Clock, state_dir: Path, out: list[str], job_id: str = "j"
) -> LogFollower:
    account = FakeAccount(batch=batch, logs=logs)
    return LogFollower(
        account, job_id, echo=out.append, state_dir=state_dir, poll=2.0, sleep=clock.sleep, clock=clock
    )


def test_moto_forward_tokens_repeat_at_the_end_and_resume_after_new_events(logs: Logs) -> None:
    logs.put(STREAM, "one")
    first = logs.real.get_log_events(logGroupName=GROUP, logStreamName=STREAM, startFromHead=True)
    again = logs.real.get_log_events(
        logGroupName=GROUP, logStreamName=STREAM, startFromHead=True, nextToken=first["nextForwardToken"]
    )
    logs.put(STREAM, "two")
    later = logs.real.get_log_events(
        logGroupName=GROUP, logStreamName=STREAM, startFromHead=True, nextToken=again["nextForwardToken"]
    )

    assert [e["message"] for e in first["events"]] == ["one"]
    assert (again["events"], again["nextForwardToken"]) == ([], first["nextForwardToken"])
    assert [e["message"] for e in later["events"]] == ["two"]


def test_follow_waits_for_a_stream_not_there_yet_and_prints_each_line_once_in_order(
    batch: FakeBatch, logs: Logs, clock: Clock, tmp_path: Path
) -> None:
    batch.jobs["j"] = job("j", "RUNNABLE")

    def start() -> None:
        batch.jobs["j"] = running("j", STREAM)

    def finish() -> None:
        logs.put(STREAM, "four", "five")
        batch.jobs["j"]["status"] = "SUCCEEDED"

    clock.steps = [
        start,
        lambda: logs.put(STREAM, "one", "two"),
        lambda: logs.put(STREAM, "three"),
        lambda: None,
    ]
    clock.steps.append(finish)
    out: list[str] = []
    f = follower(batch, logs, clock, tmp_path, out)

    printed = f.follow()

    assert out == ["one", "two", "three", "four", "five"]
    assert printed == 5
    assert len(clock.sleeps) == 5
    assert not f.state_file.exists()


def test_a_second_attempt_gets_a_header_and_its_own_lines(
    batch: FakeBatch, logs: Logs, clock: Clock, tmp_path: Path
) -> None:
    second = "work/default/j-attempt-2"
    logs.put(STREAM, "a1", "a2")
    batch.jobs["j"] = running("j", STREAM)

    def retry() -> None:
        batch.jobs["j"] = running("j", STREAM, second)
        logs.put(second, "b1")

    def finish() -> None:
        logs.put(second, "b2")
        batch.jobs["j"]["status"] = "SUCCEEDED"

    clock.steps = [retry, finish]
    out: list[str] = []

    assert follower(batch, logs, clock, tmp_path / "first", out).follow() == 4
    assert out == ["a1", "a2", f"--- attempt 2 ({second}) ---", "b1", "b2"]

    replay: list[str] = []
    follower(batch, logs, clock, tmp_path / "second", replay).follow()
    assert replay == [
        f"--- attempt 1 ({STREAM}) ---",
        "a1",
        "a2",
        f"--- attempt 2 ({second}) ---",
        "b1",
        "b2",
    ]


@pytest.mark.parametrize(
    "failure",
    [
        client_error("ServiceUnavailableException", 503, "GetLogEvents"),
        client_error("ThrottlingException", 400, "GetLogEvents"),
        EndpointConnectionError(endpoint_url="http://logs.example"),
    ],
    ids=["unavailable", "throttled", "connection"],
)
def test_a_failed_read_is_retried_from_the_same_position_without_loss_or_duplicate(
    batch: FakeBatch, logs: Logs, clock: Clock, tmp_path: Path, failure: Exception
) -> None:
    logs.put(STREAM, "one", "two")
    batch.jobs["j"] = running("j", STREAM)

    def break_next_read() -> None:
        logs.put(STREAM, "three")
        logs.failures.append(failure)

    def finish() -> None:
        logs.put(STREAM, "four")
        batch.jobs["j"]["status"] = "SUCCEEDED"

    clock.steps = [break_next_read, finish]
    out: list[str] = []
    f = follower(batch, logs, clock, tmp_path, out)

    f.follow()

    assert out == ["one", "two", "three", "four"]
    # Reads: the head (a short page: all there is for now), then the failed read and its retry,
    # which sent the same token.
    assert logs.tokens[0] is None
    assert logs.tokens[1] is not None
    assert logs.tokens[1] == logs.tokens[2]
    # Retried by the policy in the same pass, after its first wait, not a poll later; by us
    # alone: the logs client makes one attempt per call.
    poll, retried, poll_again = clock.sleeps
    assert (poll, poll_again) == (2.0, 2.0)
    assert 0 <= retried <= retry.BACKOFF_BASE
    assert set(f.account.one_attempt) == {"batch", "logs"}


@pytest.mark.parametrize(
    ("failures", "policy_waits", "drain_polls"),
    # ATTEMPTS + 1 failures: the policy's tries (ATTEMPTS - 1 waits), a drain poll, then one more wait.
    [(2, 2, 0), (retry.ATTEMPTS + 1, retry.ATTEMPTS, 1)],
    ids=["the policy's tries suffice", "a drain poll after the policy gives up"],
)
def test_lines_written_as_the_job_ends_are_drained_and_a_failing_drain_is_retried(
    batch: FakeBatch,
    logs: Logs,
    clock: Clock,
    tmp_path: Path,
    failures: int,
    policy_waits: int,
    drain_polls: int,
) -> None:
    logs.put(STREAM, "early")
    batch.jobs["j"] = running("j", STREAM)

    def finish() -> None:
        logs.put(STREAM, "last", "words")
        batch.jobs["j"]["status"] = "FAILED"
        logs.failures += [client_error("InternalFailure", 500, "GetLogEvents")] * failures

    clock.steps = [finish]
    out: list[str] = []

    assert follower(batch, logs, clock, tmp_path, out).follow() == 3
    assert out == ["early", "last", "words"]
    waits = clock.sleeps[1:]
    assert clock.sleeps[0] == 2.0
    assert len([w for w in waits if w != 2.0]) == policy_waits
    assert len(waits) == policy_waits + drain_polls


def test_a_stream_that_cannot_be_read_after_the_job_ended_is_an_error(
    batch: FakeBatch, logs: Logs, clock: Clock, tmp_path: Path
) -> None:
    logs.put(STREAM, "one")
    batch.jobs["j"] = running("j", STREAM, status="SUCCEEDED")
    # Every try fails: the policy's tries in the first pass and in each drain poll.
    tries = (DRAIN_TRIES + 1) * retry.ATTEMPTS
    logs.failures += [client_error("InternalFailure", 500, "GetLogEvents")] * tries

    with pytest.raises(UserError, match=f"job j ended but its log could not be read to the end: {STREAM}"):
        follower(batch, logs, clock, tmp_path, []).follow()
    assert len(logs.tokens) == tries
    assert clock.sleeps.count(2.0) == DRAIN_TRIES


def test_a_job_that_ended_before_writing_a_stream_ends_the_follow(
    batch: FakeBatch, logs: Logs, clock: Clock, tmp_path: Path
) -> None:
    batch.jobs["j"] = running("j", STREAM, status="FAILED")

    assert follower(batch, logs, clock, tmp_path, []).follow() == 0
    assert clock.sleeps == []


def test_a_restart_continues_after_the_last_printed_line(
    batch: FakeBatch, logs: Logs, clock: Clock, tmp_path: Path
) -> None:
    logs.put(STREAM, "one", "two")
    batch.jobs["j"] = running("j", STREAM)
    first: list[str] = []
    assert follower(batch, logs, clock, tmp_path, first).read_available() == ["one", "two"]
    logs.put(STREAM, "three")
    batch.jobs["j"]["status"] = "SUCCEEDED"
    second: list[str] = []

    follower(batch, logs, clock, tmp_path, second).follow()

    assert (first, second) == (["one", "two"], ["three"])


def paged(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    monkeypatch.setattr(LogFollower, "page_size", size)


def test_an_interrupt_between_printing_a_batch_and_saving_it_neither_loses_nor_repeats_lines(
    batch: FakeBatch, logs: Logs, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paged(monkeypatch, 2)
    logs.put(STREAM, "l1", "l2", "l3", "l4", "l5")
    batch.jobs["j"] = running("j", STREAM, status="SUCCEEDED")
    writes = itertools.count(1)

    def interrupted_second_write(path: Path, data: str) -> None:
        if next(writes) == 2:
            raise KeyboardInterrupt
        write_atomic(path, data)

    monkeypatch.setattr(logfollow, "write_atomic", interrupted_second_write)
    before: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        follower(batch, logs, clock, tmp_path, before).follow()
    after: list[str] = []

    follower(batch, logs, clock, tmp_path, after).follow()

    assert (before, after) == (["l1", "l2", "l3", "l4"], ["l5"])


def test_an_echo_failing_mid_batch_resumes_at_the_first_line_not_printed(
    batch: FakeBatch, logs: Logs, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paged(monkeypatch, 2)
    logs.put(STREAM, "l1", "l2", "l3", "l4", "l5")
    batch.jobs["j"] = running("j", STREAM, status="SUCCEEDED")
    before: list[str] = []

    def broken_pipe_at_l4(line: str) -> None:
        if line == "l4":
            raise BrokenPipeError
        before.append(line)

    f = LogFollower(
        FakeAccount(batch=batch, logs=logs),
        "j",
        echo=broken_pipe_at_l4,
        state_dir=tmp_path,
        sleep=clock.sleep,
    )
    with pytest.raises(BrokenPipeError):
        f.follow()
    after: list[str] = []

    follower(batch, logs, clock, tmp_path, after).follow()

    assert (before, after) == (["l1", "l2", "l3"], ["l4", "l5"])


def test_a_failed_state_write_is_tried_again_and_following_goes_on(
    batch: FakeBatch, logs: Logs, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs.put(STREAM, "one", "two")
    batch.jobs["j"] = running("j", STREAM)
    failed: list[Path] = []

    def failing_once(path: Path, data: str) -> None:
        if not failed:
            failed.append(path)
            raise OSError("disk full")
        write_atomic(path, data)

    monkeypatch.setattr(logfollow, "write_atomic", failing_once)
    first: list[str] = []
    assert follower(batch, logs, clock, tmp_path, first).read_available() == ["one", "two"]
    logs.put(STREAM, "three")
    second: list[str] = []

    follower(batch, logs, clock, tmp_path, second).read_available()

    assert failed
    assert (first, second) == (["one", "two"], ["three"])


def test_a_restart_reading_shorter_pages_than_before_does_not_repeat_lines(
    batch: FakeBatch, logs: Logs, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A page holds up to 1 MB on AWS, so the page re-read after a restart can be shorter than
    # the one whose first lines were printed.
    logs.put(STREAM, "l1", "l2", "l3", "l4")
    batch.jobs["j"] = running("j", STREAM)
    first: list[str] = []

    def broken_pipe_at_l3(line: str) -> None:
        if line == "l3":
            raise BrokenPipeError
        first.append(line)

    account = FakeAccount(batch=batch, logs=logs)
    with pytest.raises(BrokenPipeError):
        LogFollower(account, "j", echo=broken_pipe_at_l3, state_dir=tmp_path).read_available()
    paged(monkeypatch, 1)
    batch.jobs["j"]["status"] = "SUCCEEDED"
    second: list[str] = []

    follower(batch, logs, clock, tmp_path, second).follow()

    assert (first, second) == (["l1", "l2"], ["l3", "l4"])


def test_a_running_jobs_short_page_ends_the_read_and_the_next_pass_goes_on_from_its_token(
    batch: FakeBatch, logs: Logs, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paged(monkeypatch, 2)
    logs.put(STREAM, "l1", "l2", "l3")
    batch.jobs["j"] = running("j", STREAM)
    out: list[str] = []
    f = follower(batch, logs, clock, tmp_path, out)

    assert f.read_available() == ["l1", "l2", "l3"]
    assert len(logs.tokens) == 2  # a full page, then a short one: no call only to hear "nothing more"
    logs.put(STREAM, "l4")
    assert f.read_available() == ["l4"]
    assert len(logs.tokens) == 3
    assert f.read_available() == []
    assert out == ["l1", "l2", "l3", "l4"]


def test_a_final_jobs_stream_is_read_until_the_same_token_comes_back(
    batch: FakeBatch, logs: Logs, clock: Clock, tmp_path: Path
) -> None:
    """Pages cut short of the event limit (by their 1 MB) do not end the last read early."""
    real_read = logs.get_log_events

    def one_event_pages(**kwargs: Any) -> dict[str, Any]:
        return real_read(**{**kwargs, "limit": 1})

    logs.get_log_events = one_event_pages  # type: ignore[method-assign]
    logs.put(STREAM, "one", "two", "three")
    batch.jobs["j"] = running("j", STREAM)
    out: list[str] = []
    f = follower(batch, logs, clock, tmp_path, out)
    assert f.read_available() == ["one"]  # running: the short page is taken as all there is, for now
    batch.jobs["j"]["status"] = "SUCCEEDED"

    f.follow()

    assert out == ["one", "two", "three"]
    assert not f.state_file.exists()


def test_follow_uses_the_callers_poll_instead_of_describing_the_job(
    batch: FakeBatch, logs: Logs, clock: Clock, tmp_path: Path
) -> None:
    logs.put(STREAM, "one")
    polls = iter([{"j": running("j", STREAM)}, {}, {"j": running("j", STREAM, status="SUCCEEDED")}])
    clock.steps = [lambda: None, lambda: logs.put(STREAM, "two")]
    out: list[str] = []

    follower(batch, logs, clock, tmp_path, out).follow(watcher_poll=lambda: next(polls))

    assert out == ["one", "two"]
    assert batch.describe_calls == []


def test_stop_ends_follow_at_the_next_poll_and_keeps_the_position(
    batch: FakeBatch, logs: Logs, clock: Clock, tmp_path: Path
) -> None:
    logs.put(STREAM, "one")
    batch.jobs["j"] = running("j", STREAM)
    out: list[str] = []
    f = follower(batch, logs, clock, tmp_path, out)
    clock.steps = [lambda: logs.put(STREAM, "two"), f.stop]

    assert f.follow() == 2
    assert out == ["one", "two"]
    assert f.state_file.exists()


def test_an_unknown_job_is_an_error(batch: FakeBatch, logs: Logs, clock: Clock, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no job j in account test"):
        follower(batch, logs, clock, tmp_path, []).follow()


# ---- where the lines are ------------------------------------------------------------------------


def test_the_log_group_comes_from_the_container_else_the_definition_else_the_default(
    batch: FakeBatch,
) -> None:
    account = FakeAccount(batch=batch)
    definition = "arn:aws:batch:us-east-1:123456789012:job-definition/work:1"
    batch.definitions[definition] = {
        "containerProperties": {
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/def"}}
        }
    }
    own = {"logConfiguration": {"options": {"awslogs-group": "/own"}}, "logStreamName": "s"}

    assert joblogs.log_location(account, job("a", "RUNNING", container=own)) == ("/own", "s")
    assert joblogs.log_group(account, job("a", "RUNNING", container={})) == "/def"
    batch.definitions.clear()
    assert joblogs.log_group(account, job("a", "RUNNING")) == joblogs.DEFAULT_GROUP


def test_follow_reads_the_group_its_job_definition_names(
    batch: FakeBatch, logs: Logs, clock: Clock, tmp_path: Path
) -> None:
    logs.real.create_log_group(logGroupName="/batchform/work")
    logs.put(STREAM, "from the definition's group", group="/batchform/work")
    batch.definitions[job("j", "x")["jobDefinition"]] = {
        "containerProperties": {"logConfiguration": {"options": {"awslogs-group": "/batchform/work"}}}
    }
    batch.jobs["j"] = running("j", STREAM, status="SUCCEEDED")
    out: list[str] = []

    follower(batch, logs, clock, tmp_path, out).follow()

    assert out == ["from the definition's group"]


def test_lines_reads_the_current_stream_as_before(batch: FakeBatch, logs: Logs) -> None:
    logs.put(STREAM, "one", "two")
    batch.jobs["j"] = running("j", "old-attempt", STREAM)

    assert list(joblogs.lines(FakeAccount(batch=batch, logs=logs), "j")) == ["one", "two"]


# ---- one read rate for every follower of an account ------------------------------------------


def test_followers_of_one_account_share_one_bucket_whatever_the_accounts_name(
    batch: FakeBatch, logs: Logs, tmp_path: Path
) -> None:
    first, second = FakeAccount(batch=batch, logs=logs), FakeAccount(batch=batch, logs=logs)
    elsewhere = FakeAccount(batch=batch, logs=logs)
    elsewhere.region = "eu-west-1"
    followers = [LogFollower(a, f"j{n}", state_dir=tmp_path) for n, a in enumerate([first, second] * 50)]

    assert len({id(f.bucket) for f in followers}) == 1
    assert followers[0].bucket is ratelimit.shared(first, ratelimit.GET_LOG_EVENTS)
    assert LogFollower(elsewhere, "k", state_dir=tmp_path).bucket is not followers[0].bucket


def test_many_followers_stay_under_the_accounts_rate_and_print_every_line_once(
    batch: FakeBatch, logs: Logs, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paged(monkeypatch, 2)
    rate = 4.0
    account = FakeAccount(batch=batch, logs=logs)
    account.logs_read_rate = None  # the bucket below sets the rate
    bucket = ratelimit.shared(account, ratelimit.GET_LOG_EVENTS, rate, clock=clock)
    reads: list[float] = []
    real_read = logs.get_log_events

    def timed_read(**kwargs: Any) -> dict[str, Any]:
        reads.append(clock.now)
        return real_read(**kwargs)

    logs.get_log_events = timed_read  # type: ignore[method-assign]
    followers = []
    for n in range(12):
        stream = f"work/default/j{n}"
        logs.put(stream, *(f"j{n} line {i}" for i in range(5)))
        batch.jobs[f"j{n}"] = running(f"j{n}", stream, status="SUCCEEDED")
        out: list[str] = []
        followers.append(
            (
                LogFollower(
                    account, f"j{n}", echo=out.append, state_dir=tmp_path, sleep=clock.sleep, clock=clock
                ),
                out,
            )
        )

    for f, _out in followers:
        f.follow()

    assert all(out == [f"j{n} line {i}" for i in range(5)] for n, (_f, out) in enumerate(followers))
    assert all(f.bucket is bucket for f, _out in followers)
    assert len(reads) == bucket.taken == 12 * 4  # pages of 2, 2 and 1 line, then the same token back
    # Within any window of a second, at most a burst of `rate` plus `rate` refilled.
    for start in reads:
        assert len([at for at in reads if start <= at < start + 1.0]) <= 2 * rate
    assert reads[-1] - reads[0] >= (len(reads) - rate) / rate


def test_a_throttled_read_of_a_shared_bucket_waits_retries_and_loses_nothing(
    batch: FakeBatch, logs: Logs, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paged(monkeypatch, 1)
    account = FakeAccount(batch=batch, logs=logs)
    account.logs_read_rate = None
    bucket = ratelimit.shared(account, ratelimit.GET_LOG_EVENTS, 1.0, clock=clock)
    logs.put(STREAM, "one", "two", "three")
    batch.jobs["j"] = running("j", STREAM, status="SUCCEEDED")
    logs.failures += [client_error("ThrottlingException", 400, "GetLogEvents")] * 2
    out: list[str] = []

    LogFollower(account, "j", echo=out.append, state_dir=tmp_path, sleep=clock.sleep, clock=clock).follow()

    assert out == ["one", "two", "three"]
    # Each try took a token: 2 throttled, 3 pages of one line, 1 page that ends the stream.
    assert bucket.taken == len(logs.tokens) == 6
    assert logs.tokens[:3] == [None, None, None]  # the throttled tries and their retry: the same position


def test_stop_ends_a_wait_for_a_token_at_once_and_a_restart_repeats_nothing(
    batch: FakeBatch, logs: Logs, tmp_path: Path
) -> None:
    logs.put(STREAM, "one", "two")
    batch.jobs["j"] = running("j", STREAM)
    account = FakeAccount(batch=batch, logs=logs)
    account.logs_read_rate = 0.001  # one read, then a wait of some 1,000 s for the next token
    out: list[str] = []
    f = LogFollower(account, "j", echo=out.append, state_dir=tmp_path)
    returned: list[int] = []
    thread = threading.Thread(target=lambda: returned.append(f.follow()))
    thread.start()
    while f.bucket.taken < 1 or f.bucket.try_take() == 0.0:
        time.sleep(0.01)

    f.stop()
    thread.join(timeout=60)

    assert not thread.is_alive()
    assert (returned, out) == ([2], ["one", "two"])
    assert f.state_file.exists()
    ratelimit.reset()
    account.logs_read_rate = 1e6
    logs.put(STREAM, "three")
    batch.jobs["j"]["status"] = "SUCCEEDED"
    again: list[str] = []
    LogFollower(account, "j", echo=again.append, state_dir=tmp_path).follow()
    assert again == ["three"]


def test_stop_ends_a_watchers_backoff_at_once(batch: FakeBatch) -> None:
    batch.jobs["a"] = job("a", "RUNNING")
    batch.errors = [client_error("ThrottlingException")]
    w = JobWatcher(FakeAccount(batch=batch), echo=lambda _line: None, poll=500.0, max_poll=1000.0)
    w._random = TopOfRange()  # a backoff of 1,000 s
    returned: list[dict] = []
    thread = threading.Thread(target=lambda: returned.append(w.wait(["a"])))
    thread.start()
    while not batch.describe_calls:
        time.sleep(0.01)

    w.stop()
    thread.join(timeout=60)

    assert not thread.is_alive()
    assert returned[0]["a"].status == "UNKNOWN"  # stopped before any description came
