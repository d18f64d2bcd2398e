"""jobs.list shows which jobs a schedule started, and a schedule's runs carry the tags submit gives.

Against in-process moto: no docker, no local stack, and no job container is ever run. The
schedules' own tags are what terraform's root gives them (terraform/main.tf); its tests
(terraform/tests/root.tftest.hcl) hold the tokens derived here.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from batchform import jobs
from batchform.errors import FieldError
from batchform.jobs import SCHEDULE_TAG, TOKEN_TAG, SubmitRequest, Submitter, request_token
from batchform.jobs import listing as listing_module
from conftest import in_process_aws

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the repository root, where bench/ is

from bench.stack import unmanaged_queue  # noqa: E402

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account


class StandInAccount:
    """What listing and the submitter need of an Account."""

    def __init__(self, name: str = "test", account_id: str = ACCOUNT_ID):
        self.name = name
        self.account_id = account_id
        self.batch = boto3.client("batch", region_name=REGION)
        self.describe_calls = 0
        self.batch.meta.events.register("provide-client-params.batch.DescribeJobs", self._counted)

    def _counted(self, **_kwargs: Any) -> None:
        self.describe_calls += 1

    def client(self, service: str, retries: bool = True) -> Any:
        assert service == "batch", service
        return self.batch


@pytest.fixture
def account(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[StandInAccount, jobs.DeployedJob]]:
    with in_process_aws(monkeypatch, REGION):
        iam, batch = boto3.client("iam", region_name=REGION), boto3.client("batch", region_name=REGION)
        queue, _definition = unmanaged_queue(
            iam, batch, "batchform-test-default", "hello", role="batch-service"
        )
        monkeypatch.setattr(listing_module, "outputs", lambda _account: {"jobs": {"hello": {"queue": queue}}})
        yield StandInAccount(), jobs.DeployedJob("hello", "hello", queue)


def scheduled_run(account: StandInAccount, target: jobs.DeployedJob, schedule: str) -> str:
    """A job submitted as the schedule's SubmitJob target submits it: its Input's parameters."""
    tags = {
        SCHEDULE_TAG: schedule,
        TOKEN_TAG: request_token(account, SubmitRequest("hello", tags={SCHEDULE_TAG: schedule})),
    }
    return account.batch.submit_job(
        jobName="hello-scheduled",
        jobQueue=target.queue,
        jobDefinition=target.definition,
        tags=tags,
        propagateTags=True,
    )["jobId"]


def test_jobs_list_names_the_schedule_that_started_a_job_and_none_for_a_submitted_one(
    account: tuple[StandInAccount, jobs.DeployedJob], tmp_path: Path
) -> None:
    stand_in, target = account
    [submitted] = Submitter(stand_in, journal_dir=tmp_path / "journal", sleep=lambda _s: None).submit(
        target, SubmitRequest("hello", name="hello-by-hand")
    )
    scheduled = scheduled_run(stand_in, target, "batchform-test-hello")

    found = {job["jobId"]: job for job in jobs.list_jobs(stand_in, ["SUBMITTED"])}
    assert {job_id: job["schedule"] for job_id, job in found.items()} == {
        submitted.job_id: None,
        scheduled: "batchform-test-hello",
    }
    json.dumps(list(found.values()))  # what --json prints, with `schedule` in each job

    lines = jobs.listing_lines(sorted(found.values(), key=lambda job: job["jobName"]))
    assert lines == [
        f"{submitted.job_id}  SUBMITTED  hello-by-hand",
        f"{scheduled}  SUBMITTED  hello-scheduled  schedule batchform-test-hello",
    ]


def test_the_schedule_column_lines_up_and_a_listing_without_schedules_is_as_it_was() -> None:
    listed = [
        {
            "jobId": "a" * 36,
            "status": "RUNNING",
            "jobName": "report-scheduled",
            "schedule": "batchform-dev-report",
        },
        {
            "jobId": "b" * 36,
            "status": "FAILED",
            "jobName": "hello-scheduled",
            "schedule": "batchform-dev-hello",
        },
        {"jobId": "c" * 36, "status": "SUCCEEDED", "jobName": "hello-20261123T201830Z", "schedule": None},
    ]
    lines = jobs.listing_lines(listed)
    assert lines[0].index(" schedule ") == lines[1].index(" schedule ")
    assert lines[2] == f"{'c' * 36}  SUCCEEDED  hello-20261123T201830Z"
    assert jobs.listing_lines(listed[2:]) == [f"{'c' * 36}  SUCCEEDED  hello-20261123T201830Z"]


def test_tags_are_read_100_jobs_a_call(account: tuple[StandInAccount, jobs.DeployedJob]) -> None:
    stand_in, target = account
    for _ in range(150):
        stand_in.batch.submit_job(jobName="hello", jobQueue=target.queue, jobDefinition=target.definition)
    scheduled_run(stand_in, target, "batchform-test-hello")
    before = stand_in.describe_calls
    listed = jobs.list_jobs(stand_in, ["SUBMITTED"])
    assert len(listed) == 151 and sum(1 for job in listed if job["schedule"]) == 1
    assert stand_in.describe_calls - before == 2  # DescribeJobs takes at most 100 ids


def test_a_submit_may_not_pose_as_a_schedule() -> None:
    with pytest.raises(FieldError, match="batchform:schedule: set by batchform"):
        jobs.validate(SubmitRequest("hello", tags={SCHEDULE_TAG: "batchform-dev-hello"}))


class Identity:
    account_id = ACCOUNT_ID
    name = "check"


@pytest.mark.parametrize(
    ("job", "share"), [("hello", None), ("nightly", "nightly")], ids=["fifo-queue", "fair-share-queue"]
)
def test_a_schedules_tags_are_submits_for_the_request_it_makes(job: str, share: str | None) -> None:
    """terraform's root derives each schedule's token as request_token does (the account, the job,
    its share, the schedule's tag): its tests hold the tokens of account 123456789012."""
    schedule = f"batchform-check-{job}"
    token = request_token(Identity(), SubmitRequest(job, tags={SCHEDULE_TAG: schedule}, share=share))
    assert f'"{token}"' in (REPO / "terraform/tests/root.tftest.hcl").read_text()
    root = (REPO / "terraform/main.tf").read_text()
    tags = re.search(
        r'tags\s*=\s*\{ "([^"]+)" = local\.schedule_names\[name\], "([^"]+)" = local\.schedule_tokens', root
    )
    assert tags and tags.groups() == (SCHEDULE_TAG, TOKEN_TAG)
    assert f'tags = [["{SCHEDULE_TAG}", schedule]]' in root


def test_jobs_list_includes_the_jobs_of_a_queue_no_declared_job_goes_to(
    account: tuple[StandInAccount, jobs.DeployedJob], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`submit --queue shared` sends a job to a queue of the account that its declared jobs do
    not name; it is listed all the same (terraform's job_queue_arns names every queue)."""
    stand_in, target = account
    shared, definition = unmanaged_queue(
        boto3.client("iam", region_name=REGION),
        stand_in.batch,
        "batchform-test-shared",
        "other",
        role="other",
    )
    deployed = {
        "jobs": {"hello": {"queue": target.queue}},
        "job_queue_arns": {"default": target.queue, "shared": shared},
    }
    monkeypatch.setattr(listing_module, "outputs", lambda _account: deployed)
    job_id = stand_in.batch.submit_job(jobName="on-shared", jobQueue=shared, jobDefinition=definition)[
        "jobId"
    ]
    assert [job["jobId"] for job in jobs.list_jobs(stand_in)] == [job_id]
