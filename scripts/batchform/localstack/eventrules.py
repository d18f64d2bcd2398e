"""What EventBridge, EventBridge Scheduler and SNS do for schedules and notifications that moto does not.

Each has a test in tests/test_emulator_events.py:

* AWS Batch puts a "Batch Job State Change" event (source aws.batch, the job as DescribeJobs gives
  it in `detail`) on the account's default event bus at each change of a job's status; moto puts
  none, so no rule on them ever matched;
* a rule's SNS target is published to, with the target's input transformer applied (its JSON
  string template as the message's text), and only where AWS would let EventBridge publish: the
  topic's policy must allow `events.amazonaws.com` `sns:Publish` for that rule, and a topic
  encrypted with KMS needs a customer-managed key whose policy lets `events.amazonaws.com` use it
  (kms:Decrypt, kms:GenerateDataKey): never the AWS-managed alias/aws/sns. moto raised
  NotImplementedError on an SNS target. An event AWS would not deliver is logged, as its
  FailedInvocations metric would count it;
* an email, email-json, http or https subscription waits for its endpoint's confirmation
  (PendingConfirmation true) and receives nothing meanwhile; the emulator sends no confirmation,
  so it never confirms (moto confirmed them at once and posted to the URLs);
* CreateSchedule and UpdateSchedule refuse, with a ValidationException (400), an expression or a
  time zone EventBridge Scheduler refuses (moto took any text), by the rules of `batchform.schedules`.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from .. import schedules
from .motofixes import condition_holds

log = logging.getLogger("batchform.localstack.eventrules")

BATCH_SOURCE = "aws.batch"
JOB_STATE_CHANGE = "Batch Job State Change"
EVENTS_PRINCIPAL = "events.amazonaws.com"
PENDING_PROTOCOLS = ("email", "email-json", "http", "https")
AWS_MANAGED_SNS_KEY = "alias/aws/sns"
NOT_DELIVERED = "event not delivered:"


def install() -> None:
    """Deliver events and check schedules as AWS does, everywhere listed above."""
    _put_job_state_changes_on_the_default_bus()
    _publish_to_sns_targets_as_aws_allows()
    _let_subscriptions_wait_for_confirmation()
    _refuse_schedules_eventbridge_scheduler_refuses()


# ---- Batch's job state changes --------------------------------------------------------------

_told_lock = threading.Lock()


def _put_job_state_changes_on_the_default_bus() -> None:
    from moto.batch.models import Job
    from moto.moto_api._internal.managed_state_model import ManagedState

    status = ManagedState.status

    def get(self: Any) -> Any:
        value = status.fget(self)  # type: ignore[misc]
        _tell(self, value)
        return value

    def put(self: Any, value: str) -> None:
        status.fset(self, value)  # type: ignore[misc]
        _tell(self, value)

    Job.status = property(get, put)  # type: ignore[assignment,method-assign]


def _tell(job: Any, value: str | None) -> None:
    """Put the job's state change on its account's default bus, once per status it reaches."""
    with _told_lock:
        if getattr(job, "_batchform_told", None) == value:
            return
        job._batchform_told = value  # noqa: SLF001
    try:
        bus = _default_bus(job.backend.account_id, job.backend.region_name)
        if bus is None or not bus.rules:  # nothing could match: spare the description
            return
        from moto.events.models import events_backends

        event = {
            "Source": BATCH_SOURCE,
            "DetailType": JOB_STATE_CHANGE,
            "Detail": json.dumps(job.describe(), default=str),
            "Resources": [job.arn],
        }
        events_backends[job.backend.account_id][job.backend.region_name].put_events([event])
    except Exception as exc:  # noqa: BLE001 - a job must never fail for its event
        log.warning(
            "%s job %s became %s; its event raised %s: %s",
            NOT_DELIVERED,
            job.job_id,
            value,
            type(exc).__name__,
            exc,
        )


def _default_bus(account_id: str, region: str) -> Any:
    from moto.events.models import events_backends

    if account_id not in events_backends or region not in events_backends[account_id]:
        return None
    return events_backends[account_id][region].event_buses.get("default")


# ---- EventBridge's SNS targets ----------------------------------------------------------------


def _publish_to_sns_targets_as_aws_allows() -> None:
    from moto.events.models import Rule
    from moto.events.utils import EventTemplateParser

    original = Rule.send_to_targets

    def send_to_targets(self: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        sns = [t for t in self.targets if t["Arn"].split(":")[2] == "sns"]
        for target in sns:
            event = dict(original_event)
            if isinstance(event.get("time"), (int, float)):  # AWS gives the time as ISO 8601
                event["time"] = datetime.fromtimestamp(event["time"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            transformer = target.get("InputTransformer") or {}
            if transform_input and transformer:
                message = EventTemplateParser.parse(
                    input_template=transformer.get("InputTemplate"),
                    input_paths_map=transformer.get("InputPathsMap", {}),
                    event=event,
                )
            else:  # a constant Input is the message as written; else the event itself
                message = target.get("Input") or event
            _publish(self, target["Arn"], message if isinstance(message, str) else json.dumps(message))
        if len(sns) < len(self.targets):
            rest = copy.copy(self)
            rest.targets = [t for t in self.targets if t not in sns]
            original(rest, original_event, transform_input)

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


def _publish(rule: Any, topic_arn: str, message: str) -> None:
    from moto.sns.exceptions import TopicNotFound
    from moto.sns.models import sns_backends

    account, region = topic_arn.split(":")[4], topic_arn.split(":")[3]
    try:
        topic = sns_backends[account][region].get_topic(topic_arn)
    except TopicNotFound:
        log.warning("%s rule %s: no topic %s", NOT_DELIVERED, rule.arn, topic_arn)
        return
    refusal = publish_refusal(rule.arn, rule.account_id, topic)
    if refusal:
        log.warning("%s rule %s to %s: %s", NOT_DELIVERED, rule.arn, topic_arn, refusal)
        return
    topic.publish(message)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _allows(policy: dict[str, Any], action: str, resource: str, context: dict[str, str]) -> bool:
    """Whether a resource policy lets events.amazonaws.com take `action` on `resource`."""
    for statement in _listed(policy.get("Statement", [])):
        principal = statement.get("Principal") or {}
        services = _listed(principal.get("Service", [])) if isinstance(principal, dict) else []
        if statement.get("Effect") != "Allow" or EVENTS_PRINCIPAL not in services:
            continue
        actions = [a.lower() for a in _listed(statement.get("Action", []))]
        resources = _listed(statement.get("Resource", []))
        if (
            any(fnmatch.fnmatchcase(action.lower(), a) for a in actions)
            and any(fnmatch.fnmatchcase(resource, r) for r in resources)
            and condition_holds(statement.get("Condition"), context)
        ):
            return True
    return False


def publish_refusal(rule_arn: str, account_id: str, topic: Any) -> str | None:
    """Why AWS would not let the rule publish to the topic, or None."""
    context = {"aws:sourcearn": rule_arn, "aws:sourceaccount": account_id}
    if not _allows(json.loads(topic.policy), "sns:Publish", topic.arn, context):
        return f"the topic's policy does not let {EVENTS_PRINCIPAL} publish for this rule"
    key_id = topic.kms_master_key_id
    if not key_id:
        return None
    if (
        key_id.removeprefix(f"arn:aws:kms:{topic.sns_backend.region_name}:{topic.account_id}:")
        == AWS_MANAGED_SNS_KEY
    ):
        return (
            f"the topic is encrypted with the AWS-managed {AWS_MANAGED_SNS_KEY}, which EventBridge cannot use"
        )
    from moto.kms.models import kms_backends

    kms = kms_backends[topic.account_id][topic.sns_backend.region_name]
    try:
        key = kms.describe_key(key_id)
    except Exception:  # noqa: BLE001 - moto raises KeyError or worse for an unknown key or alias
        return f"the topic's key {key_id} does not exist"
    if key.key_manager == "AWS":
        return f"the topic is encrypted with an AWS-managed key ({key_id}), which EventBridge cannot use"
    policy = json.loads(key.policy)
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        if not _allows(policy, action, key.arn, {}):
            return f"the key's policy does not let {EVENTS_PRINCIPAL} {action}"
    return None


# ---- SNS subscriptions that must be confirmed ------------------------------------------------


def _let_subscriptions_wait_for_confirmation() -> None:
    from moto.sns.models import SNSBackend, Subscription

    original_subscribe, original_publish = SNSBackend.subscribe, Subscription.publish

    def subscribe(self: Any, topic_arn: str, endpoint: str, protocol: str) -> Any:
        known = self._find_subscription(topic_arn, endpoint, protocol)  # noqa: SLF001
        subscription = original_subscribe(self, topic_arn, endpoint, protocol)
        if known is None and protocol in PENDING_PROTOCOLS:
            subscription.attributes["PendingConfirmation"] = True
            subscription.attributes["ConfirmationWasAuthenticated"] = False
        return subscription

    def publish(self: Any, *args: Any, **kwargs: Any) -> None:
        if self.attributes.get("PendingConfirmation") in (True, "true"):
            return  # SNS delivers nothing to a subscription not yet confirmed
        original_publish(self, *args, **kwargs)

    SNSBackend.subscribe = subscribe  # type: ignore[method-assign]
    Subscription.publish = publish  # type: ignore[method-assign]


# ---- EventBridge Scheduler's expressions ------------------------------------------------------


def _refuse_schedules_eventbridge_scheduler_refuses() -> None:
    from moto.scheduler.exceptions import ValidationException
    from moto.scheduler.models import EventBridgeSchedulerBackend

    def checked(original: Any) -> Any:
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            expression = kwargs.get("schedule_expression")
            timezone = kwargs.get("schedule_expression_timezone") or schedules.DEFAULT_TIMEZONE
            if problem := schedules.expression_problem(expression):
                raise ValidationException(f"Invalid Schedule Expression {expression}: {problem}")
            if problem := schedules.timezone_problem(timezone):
                raise ValidationException(f"Invalid ScheduleExpressionTimezone {timezone}: {problem}")
            return original(self, *args, **kwargs)

        return method

    EventBridgeSchedulerBackend.create_schedule = checked(EventBridgeSchedulerBackend.create_schedule)  # type: ignore[method-assign]
    EventBridgeSchedulerBackend.update_schedule = checked(EventBridgeSchedulerBackend.update_schedule)  # type: ignore[method-assign]
