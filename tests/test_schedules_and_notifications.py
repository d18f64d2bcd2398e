"""Scheduled jobs and failure notifications, applied by the root configuration to an account of a
private stack (the emulator of this checkout, on free ports; job containers off, so a submitted
job succeeds at once).

The emulator never fires a schedule, so what a run would send is read back (GetSchedule) and
compared with what `submit` sends for that job: the request submit builds (`submit_body`), with
the schedule's tag and the token submit derives for it, named as SubmitJob's API names its
parameters (the universal target's Input). Notifications are proven end to end: a job of the
account's queues ends, Batch's event reaches the rule, the message reaches the SQS subscriber.

The steps share one deployment and run in file order.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from batchform.accounts import Account, Accounts
from batchform.deployment import outputs
from batchform.jobs import SCHEDULE_TAG, SubmitRequest, Submitter, deployed_job, request_token
from batchform.jobs.fanout import Chunk, submit_body
from batchform.jobs.limits import with_default_share
from batchform.terraform import TerraformRunner

pytestmark = [pytest.mark.stack, pytest.mark.terraform]

ACCOUNT_ID = "456789012345"
NAME = "batchform-sched"
INBOX = "batch-events"
WORKLOAD: dict[str, Any] = {
    "compute": {"type": "FARGATE", "max_vcpus": 4},
    "queues": {"shared": {"compute_environments": ["main"], "fair_share": {"shares": {"nightly": 1}}}},
    "force_delete_repositories": True,
    "data_bucket": {"force_destroy": True},
    "images": {"hello": {"build": 1}},
    "jobs": {
        "hello": {
            "image": "hello",
            "vcpus": 0.25,
            "memory": 512,
            "tags": {"team": "data"},
            "schedule": {"expression": "cron(0 3 * * ? *)", "timezone": "Europe/Paris"},
        },
        "nightly": {
            "image": "hello",
            "vcpus": 0.25,
            "memory": 512,
            "queue": "shared",
            "share_identifier": "nightly",
            "schedule": {"expression": "rate(6 hours)", "enabled": False},
        },
        "adhoc": {"image": "hello", "vcpus": 0.25, "memory": 512},
    },
    "notifications": {
        "statuses": ["FAILED", "SUCCEEDED"],
        "email": ["batch-team@example.com"],
        "https": ["https://hooks.example.com/batch"],
        "sqs": [f"arn:aws:sqs:us-east-1:{ACCOUNT_ID}:{INBOX}"],
    },
}


class Deployment:
    def __init__(self, account: Account, workdir: Path):
        self.account = account
        self.runner = TerraformRunner(account, echo=lambda _line: None)
        self.var_file = workdir / "workload.tfvars.json"
        self.var_file.write_text(json.dumps(WORKLOAD))

    def client(self, service: str) -> Any:
        return self.account.client(service)


@pytest.fixture(scope="module")
def deployment(terraform_binary, tmp_path_factory) -> Iterator[Deployment]:  # noqa: ANN001
    """The workload applied to an account of a private stack, destroyed at the end."""
    from conftest import private_emulator_stack

    home = tmp_path_factory.mktemp("home")
    with (
        pytest.MonkeyPatch.context() as patch,
        private_emulator_stack(tmp_path_factory.mktemp("stack")) as stack,
    ):
        patch.setenv("BATCHFORM_HOME", str(home))
        config = {
            "accounts": {
                "sched": {
                    "account_id": ACCOUNT_ID,
                    "region": "us-east-1",
                    "endpoints": "local-stack",
                    "role_arn": f"arn:aws:iam::{ACCOUNT_ID}:role/batchform-deployer",
                }
            }
        }
        d = Deployment(Accounts(config, stack=stack.settings).get("sched"), home)
        d.client("sqs").create_queue(QueueName=INBOX)
        yield d
        d.runner.destroy([d.var_file])


def api_names(value: Any, shape: Any) -> Any:
    """A request as boto3 takes it, named as the API's JSON names its members (SubmitJob's `jobName`
    is `JobName`), as EventBridge Scheduler's universal targets take their Input: structure members
    capitalised, map keys (tags, parameters) as they are."""
    if shape.type_name == "structure":
        return {key[0].upper() + key[1:]: api_names(item, shape.members[key]) for key, item in value.items()}
    if shape.type_name == "list":
        return [api_names(item, shape.member) for item in value]
    if shape.type_name == "map":
        return {key: api_names(item, shape.value) for key, item in value.items()}
    return value


SUBMIT_JOB = (
    botocore.session.get_session().get_service_model("batch").operation_model("SubmitJob").input_shape
)


def test_apply_then_a_second_plan_is_empty(deployment: Deployment) -> None:
    deployment.runner.apply([deployment.var_file])
    assert deployment.runner.planned_changes([deployment.var_file]) == []
    names = [s["Name"] for s in deployment.client("scheduler").list_schedules()["Schedules"]]
    assert sorted(names) == [f"{NAME}-hello", f"{NAME}-nightly"]


@pytest.mark.parametrize("job", ["hello", "nightly"])
def test_a_schedules_runs_send_what_submit_sends_for_the_job(deployment: Deployment, job: str) -> None:
    """Same queue, definition (the latest ACTIVE revision), share and tags as `submit JOB`, with the
    schedule's own tag and the token submit derives for that request."""
    account = deployment.account
    schedule = deployment.client("scheduler").get_schedule(Name=f"{NAME}-{job}")
    sent = json.loads(schedule["Target"]["Input"])

    target = deployed_job(account, job)
    request = with_default_share(SubmitRequest(job, tags={SCHEDULE_TAG: f"{NAME}-{job}"}), target)
    body = submit_body(target, request, Chunk(), f"{job}-scheduled", request_token(account, request))
    assert sent == api_names(body, SUBMIT_JOB)
    assert (sent["JobQueue"], sent["JobDefinition"]) == (target.queue, target.definition)
    assert sent.get("ShareIdentifier") == ("nightly" if job == "nightly" else None)

    declared = outputs(account)["schedules"][job]
    assert schedule["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:batch:submitJob"
    assert schedule["Target"]["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 3}
    assert schedule["Target"]["DeadLetterConfig"]["Arn"].endswith(f":{NAME}-schedules-dead-letter")
    assert (schedule["ScheduleExpression"], schedule["ScheduleExpressionTimezone"], schedule["State"]) == (
        declared["expression"],
        declared["timezone"],
        "ENABLED" if declared["enabled"] else "DISABLED",
    )


def test_a_schedules_role_may_submit_exactly_its_definition_to_its_queue(deployment: Deployment) -> None:
    iam = deployment.client("iam")
    role = (
        deployment.client("scheduler").get_schedule(Name=f"{NAME}-hello")["Target"]["RoleArn"].rsplit("/")[-1]
    )
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
    policy = iam.get_role_policy(RoleName=role, PolicyName="submit-job")["PolicyDocument"]
    target = deployed_job(deployment.account, "hello")
    assert {s["Sid"]: (s["Action"], s["Resource"]) for s in policy["Statement"]} == {
        "SubmitTheJob": (["batch:SubmitJob"], [target.definition, f"{target.definition}:*", target.queue]),
        "TagTheJob": (["batch:TagResource"], [f"arn:aws:batch:us-east-1:{ACCOUNT_ID}:job/*"]),
        "DeadLetter": (
            ["sqs:SendMessage"],
            [f"arn:aws:sqs:us-east-1:{ACCOUNT_ID}:{NAME}-schedules-dead-letter"],
        ),
    }


def test_a_job_that_ends_is_told_to_the_subscribers_with_the_command_to_read_its_logs(
    deployment: Deployment, tmp_path: Path
) -> None:
    account = deployment.account
    [submitted] = Submitter(account, journal_dir=tmp_path / "journal").submit(
        deployed_job(account, "adhoc"), SubmitRequest("adhoc")
    )
    sqs = deployment.client("sqs")
    inbox = sqs.get_queue_url(QueueName=INBOX)["QueueUrl"]
    messages: list[str] = []
    deadline = time.monotonic() + 30
    while not messages and time.monotonic() < deadline:
        received = sqs.receive_message(QueueUrl=inbox, WaitTimeSeconds=1).get("Messages", [])
        messages += [json.loads(m["Body"])["Message"] for m in received]  # the SNS envelope's text
    assert len(messages) == 1, messages
    lines = messages[0].splitlines()
    assert lines[0].startswith(f"batchform job {submitted.name} ({submitted.job_id}) SUCCEEDED at 20")
    assert lines[1] == f"Account: sched (AWS account {ACCOUNT_ID})"
    assert lines[2] == f"Queue: {deployed_job(account, 'adhoc').queue}"
    assert lines[4].startswith("Reason: ")
    assert lines[5] == f"Logs: invoke jobs.logs {submitted.job_id} --account sched"

    sns = deployment.client("sns")
    topic = outputs(account)["notifications"]["topic_arn"]
    assert (
        sns.get_topic_attributes(TopicArn=topic)["Attributes"]["KmsMasterKeyId"]
        == (outputs(account)["notifications"]["kms_key_arn"])
    )
    pending = {
        s["Protocol"]: sns.get_subscription_attributes(SubscriptionArn=s["SubscriptionArn"])["Attributes"][
            "PendingConfirmation"
        ]
        for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    }
    assert pending == {"email": "true", "https": "true", "sqs": "false"}


def test_destroy_leaves_no_schedule_rule_topic_or_key_behind(deployment: Deployment) -> None:
    key = outputs(deployment.account)["notifications"]["kms_key_arn"]
    deployment.runner.destroy([deployment.var_file])
    assert deployment.client("scheduler").list_schedules()["Schedules"] == []
    assert deployment.client("events").list_rules(NamePrefix=NAME)["Rules"] == []
    assert [t for t in deployment.client("sns").list_topics()["Topics"] if NAME in t["TopicArn"]] == []
    assert deployment.client("kms").describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    queues = deployment.client("sqs").list_queues(QueueNamePrefix=NAME).get("QueueUrls", [])
    assert queues == []
