"""Schedules and notifications: where moto differs from AWS, the local stack's emulator behaves as AWS.

The tests share a private stack (the emulator of this checkout, on free ports), each under names of
its own, with job containers off: a submitted job succeeds at once.
"""

from __future__ import annotations

import http.server
import json
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, where bench/ is

from bench.stack import unmanaged_queue  # noqa: E402

pytestmark = pytest.mark.stack

EVENTS = "events.amazonaws.com"
# The messages a notifications topic gets: the batch-job-notifications module's input template.
TEMPLATE = '"job <job> (<id>) <status> in account <aws_account>\\nLogs: invoke jobs.logs <id> --account demo"'
PATHS = {
    "job": "$.detail.jobName",
    "id": "$.detail.jobId",
    "status": "$.detail.status",
    "aws_account": "$.account",
}


@pytest.fixture
def account(private_emulator) -> Any:  # noqa: ANN001
    """The built-in local account on a private stack, its jobs succeeding as soon as submitted."""
    from batchform.accounts import Accounts

    return Accounts({}, stack=private_emulator.settings).get("local")


def _queue(account: Any) -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return unmanaged_queue(
        account.client("iam"),
        account.client("batch"),
        f"events-{suffix}",
        f"events-{suffix}",
        role=f"events-{suffix}",
    )


def _inbox(account: Any) -> tuple[str, str]:
    """An SQS queue (URL, ARN) to read what is delivered."""
    sqs = account.client("sqs")
    url = sqs.create_queue(QueueName=f"inbox-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _received(account: Any, url: str, wanted: int = 1, seconds: float = 10) -> list[str]:
    sqs, bodies = account.client("sqs"), []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(bodies) < wanted:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            bodies.append(message["Body"])
    return bodies


def _key(account: Any, events_may_use: bool = True) -> str:
    statements = [
        {
            "Sid": "Account",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account.account_id}:root"},
            "Action": ["kms:DescribeKey", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"],
            "Resource": "*",
        }
    ]
    if events_may_use:
        statements.append(
            {
                "Sid": "EventBridge",
                "Effect": "Allow",
                "Principal": {"Service": EVENTS},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": "*",
            }
        )
    policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
    return account.client("kms").create_key(Policy=policy)["KeyMetadata"]["Arn"]


def _notifications(account: Any, queue: str, key: str | None, rule_may_publish: bool = True) -> str:
    """What batch-job-notifications makes: a rule on the queue's job state changes to an encrypted
    topic whose policy lets the rule publish; an SQS subscriber. Returns the subscriber's URL."""
    events, sns = account.client("events"), account.client("sns")
    name = f"notify-{uuid.uuid4().hex[:8]}"
    topic = sns.create_topic(Name=name, Attributes={"KmsMasterKeyId": key} if key else {})["TopicArn"]
    pattern = {
        "source": ["aws.batch"],
        "detail-type": ["Batch Job State Change"],
        "detail": {"jobQueue": [queue], "status": ["SUCCEEDED"]},
    }
    rule = events.put_rule(Name=name, EventPattern=json.dumps(pattern))["RuleArn"]
    source = rule if rule_may_publish else rule + "-another"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": EVENTS},
                "Action": "sns:Publish",
                "Resource": topic,
                "Condition": {"ArnEquals": {"aws:SourceArn": source}},
            }
        ],
    }
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(policy))
    events.put_targets(
        Rule=name,
        Targets=[
            {
                "Id": "sns",
                "Arn": topic,
                "InputTransformer": {"InputPathsMap": PATHS, "InputTemplate": TEMPLATE},
            }
        ],
    )
    url, arn = _inbox(account)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    return url


def _submit(account: Any, queue: str, definition: str, name: str = "nightly-report") -> str:
    return account.client("batch").submit_job(jobName=name, jobQueue=queue, jobDefinition=definition)["jobId"]


def test_a_jobs_state_changes_are_put_on_the_default_bus_as_batch_puts_them(account: Any) -> None:
    """AWS Batch "sends job status change events to EventBridge" (source aws.batch, detail-type
    Batch Job State Change, the job in detail); moto sent none."""
    queue, definition = _queue(account)
    url, arn = _inbox(account)
    events = account.client("events")
    name = f"all-{uuid.uuid4().hex[:8]}"
    pattern = {
        "source": ["aws.batch"],
        "detail-type": ["Batch Job State Change"],
        "detail": {"jobQueue": [queue]},
    }
    events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, Targets=[{"Id": "inbox", "Arn": arn}])
    job_id = _submit(account, queue, definition)
    account.client("batch").describe_jobs(jobs=[job_id])

    received = [json.loads(body) for body in _received(account, url, wanted=2)]
    final = [event for event in received if event["detail"]["status"] == "SUCCEEDED"]
    assert len(final) == 1, received
    [event] = final
    assert (event["source"], event["detail-type"], event["region"]) == (
        "aws.batch",
        "Batch Job State Change",
        "us-east-1",
    )
    assert (event["detail"]["jobId"], event["detail"]["jobName"], event["detail"]["jobQueue"]) == (
        job_id,
        "nightly-report",
        queue,
    )
    assert event["resources"] == [f"arn:aws:batch:us-east-1:{account.account_id}:job/{job_id}"]


def test_a_topic_target_gets_the_transformed_message_where_its_policy_and_key_let_eventbridge(
    account: Any,
) -> None:
    queue, definition = _queue(account)
    inbox = _notifications(account, queue, _key(account))
    job_id = _submit(account, queue, definition)

    [message] = _received(account, inbox)
    assert message == (
        f"job nightly-report ({job_id}) SUCCEEDED in account {account.account_id}\n"
        f"Logs: invoke jobs.logs {job_id} --account demo"
    )


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("aws-managed-key", "encrypted with the AWS-managed alias/aws/sns"),
        ("key-without-eventbridge", "the key's policy does not let events.amazonaws.com kms:GenerateDataKey"),
        ("another-rule", "the topic's policy does not let events.amazonaws.com publish for this rule"),
    ],
)
def test_eventbridge_publishes_nothing_where_aws_would_not_let_it(
    account: Any,
    private_emulator,
    case: str,
    says: str,  # noqa: ANN001
) -> None:
    """EventBridge cannot use the AWS-managed key ("Amazon SNS topics encrypted with the AWS managed
    key aws/sns can't receive events from EventBridge"), nor a key or topic whose policy leaves it out."""
    queue, definition = _queue(account)
    key = {
        "aws-managed-key": "alias/aws/sns",
        "key-without-eventbridge": _key(account, events_may_use=False),
        "another-rule": _key(account),
    }[case]
    inbox = _notifications(account, queue, key, rule_may_publish=case != "another-rule")
    log = private_emulator.settings.data_dir / "emulator.log"
    before = log.stat().st_size if log.exists() else 0
    _submit(account, queue, definition)

    assert _received(account, inbox, seconds=3) == []
    with log.open("rb") as logged:  # what this test's job made the emulator log, not an earlier test's
        logged.seek(before)
        assert says in logged.read().decode(errors="replace")


class _Hook(http.server.BaseHTTPRequestHandler):
    posts: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.posts.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/batch"
    server.shutdown()


def test_email_and_http_subscriptions_wait_for_confirmation_and_get_nothing_meanwhile(
    account: Any, hook: str
) -> None:
    """SNS: "the endpoint owner must confirm the subscription" for email and HTTP(S) endpoints; moto
    confirmed them at once and posted to the URL."""
    sns = account.client("sns")
    topic = sns.create_topic(Name=f"pending-{uuid.uuid4().hex[:8]}")["TopicArn"]
    _url, queue_arn = _inbox(account)
    arns = {
        protocol: sns.subscribe(
            TopicArn=topic, Protocol=protocol, Endpoint=endpoint, ReturnSubscriptionArn=True
        )["SubscriptionArn"]
        for protocol, endpoint in (("email", "team@example.com"), ("http", hook), ("sqs", queue_arn))
    }
    pending = {
        protocol: sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"]
        for protocol, arn in arns.items()
    }
    assert pending == {"email": "true", "http": "true", "sqs": "false"}
    sns.publish(TopicArn=topic, Message="job failed")
    time.sleep(1)
    assert _Hook.posts == []


@pytest.mark.parametrize(
    ("expression", "timezone"),
    [
        ("cron(0 3 * * * *)", "UTC"),
        ("cron(0 3 * *)", "UTC"),
        ("rate(1 days)", "UTC"),
        ("rate(5 minute)", "UTC"),
        ("every night", "UTC"),
        ("rate(1 day)", "Europe/Atlantis"),
    ],
)
def test_create_schedule_refuses_what_eventbridge_scheduler_refuses(
    account: Any, expression: str, timezone: str
) -> None:
    """EventBridge Scheduler refuses, with a ValidationException, an expression or time zone it cannot
    run; moto took any text. A good one is still taken."""
    scheduler = account.client("scheduler")
    target = {
        "Arn": "arn:aws:scheduler:::aws-sdk:batch:submitJob",
        "RoleArn": f"arn:aws:iam::{account.account_id}:role/scheduler",
        "Input": "{}",
    }
    common = {"FlexibleTimeWindow": {"Mode": "OFF"}, "Target": target}
    name = f"check-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError) as refused:
        scheduler.create_schedule(
            Name=name, ScheduleExpression=expression, ScheduleExpressionTimezone=timezone, **common
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    scheduler.create_schedule(
        Name=name, ScheduleExpression="cron(0 3 * * ? *)", ScheduleExpressionTimezone="Europe/Paris", **common
    )
    with pytest.raises(ClientError, match="ValidationException"):
        scheduler.update_schedule(
            Name=name, ScheduleExpression=expression, ScheduleExpressionTimezone=timezone, **common
        )
    assert scheduler.get_schedule(Name=name)["ScheduleExpression"] == "cron(0 3 * * ? *)"
