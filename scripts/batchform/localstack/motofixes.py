"""Where moto's answers differ from AWS's in ways batchform relies on, the emulator answers as AWS.

Each has a test in tests/test_emulator.py:

* DescribeJobs says what AWS says about a job that ran: its log stream from the start of the
  attempt, the container's exit code, a status reason on failure, its resources with the
  submit's overrides, and an array parent FAILED once every child is done and one failed (moto
  leaves it SUBMITTED forever);
* a job definition named without a revision (by name, or by ARN without `:<revision>`) means its
  latest ACTIVE revision, as on AWS;
* a launch template's own tags stay on the template, instead of also appearing in its version
  data as a `launch-template` tag specification (which AWS refuses there, and which gives
  terraform a change on every plan);
* a compute environment without a service role acts as Batch's service-linked role, creating it
  on first use;
* the default VPC is as AWS makes it: an internet gateway attached and a route to it from the main
  route table for 0.0.0.0/0 (moto gives it neither, so its public subnets reached nothing);
* a bucket policy statement applies only when its conditions hold, evaluated as AWS does for
  the condition operators below, a request to the emulator counting as one over TLS (it stands
  for AWS's HTTPS endpoints): moto ignores conditions, so the data bucket's "deny unless TLS"
  denied every request.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any


def install() -> None:
    """Answer as AWS does, everywhere listed above."""
    _resolve_revisionless_job_definitions()
    _describe_jobs_as_aws_does()
    _keep_launch_template_tags_off_its_data()
    _use_the_batch_service_linked_role()
    _evaluate_bucket_policy_conditions()
    _give_the_default_vpc_its_internet_gateway()


FINAL = ("SUCCEEDED", "FAILED")


def _describe_jobs_as_aws_does() -> None:
    from moto.batch.models import Job

    original_start, original_describe = Job._start_attempt, Job.describe  # noqa: SLF001

    def start_attempt(self: Any) -> None:
        # AWS names the attempt's log stream as soon as its container starts; moto only at the end.
        self.log_stream_name = self._stream_name  # noqa: SLF001
        original_start(self)

    def describe(self: Any) -> dict[str, Any]:
        children = self._child_jobs or []  # noqa: SLF001
        if children and self.status not in FINAL and all(c.status in FINAL for c in children):
            if any(c.status == "FAILED" for c in children):
                self.status = "FAILED"
        result = original_describe(self)
        if self.job_stopped and self.exit_code is not None and "container" in result:
            result["container"]["exitCode"] = self.exit_code
            if result.get("attempts"):
                result["attempts"][-1].setdefault("container", {})["exitCode"] = self.exit_code
        if "container" in result and self.job_definition.container_properties is not None:
            result["container"]["resourceRequirements"] = job_resources(self)
        if result.get("status") == "FAILED" and not result.get("statusReason") and not children:
            result["statusReason"] = "Essential container in task exited"
        return result

    Job._start_attempt = start_attempt  # type: ignore[method-assign]  # noqa: SLF001
    Job.describe = describe  # type: ignore[method-assign]


REVISIONLESS_ARN = re.compile(r"^arn:[^:]+:batch:[^:]+:[0-9]{12}:job-definition/([^:]+)$")
BATCH_SERVICE = "batch.amazonaws.com"


def _resolve_revisionless_job_definitions() -> None:
    from moto.batch.models import BatchBackend

    original_get = BatchBackend.get_job_definition

    def get_job_definition(self: Any, identifier: str) -> Any:
        match = REVISIONLESS_ARN.match(identifier)
        name = match[1] if match else (identifier if ":" not in identifier else None)
        if name is None:
            return original_get(self, identifier)
        active = [
            d
            for d in self._job_definitions.values()  # noqa: SLF001
            if d.name == name and d.status == "ACTIVE"
        ]
        return max(active, key=lambda d: d.revision, default=None)

    BatchBackend.get_job_definition = get_job_definition  # type: ignore[method-assign]


def job_resources(job: Any) -> list[dict[str, str]]:
    """A job's resources as AWS describes them: its definition's, each type a submit overrode
    replaced by the override (moto reads only the old top-level vcpus and memory)."""
    kept = {r["type"]: r for r in job.job_definition.container_properties.get("resourceRequirements") or []}
    for requirement in (job.container_overrides or {}).get("resourceRequirements") or []:
        kept[requirement["type"]] = requirement
    return list(kept.values())


def _keep_launch_template_tags_off_its_data() -> None:
    """The template's tags belong to the template; AWS never echoes them in the version data."""
    from moto.ec2.models.launch_templates import LaunchTemplateBackend

    original_create = LaunchTemplateBackend.create_launch_template

    def create(self: Any, name: str, description: str, template_data: dict[str, Any], tag_spec: Any) -> Any:
        specs = [
            spec
            for spec in template_data.get("TagSpecifications") or []
            if spec.get("ResourceType") != "launch-template"
        ]
        template_data = {k: v for k, v in template_data.items() if k != "TagSpecifications"}
        if specs:
            template_data["TagSpecifications"] = specs
        return original_create(self, name, description, template_data, tag_spec)

    LaunchTemplateBackend.create_launch_template = create  # type: ignore[method-assign]


def _use_the_batch_service_linked_role() -> None:
    """Without serviceRole, AWS Batch acts as its service-linked role, creating it on first use."""
    from moto.batch.models import BatchBackend

    original_create = BatchBackend.create_compute_environment

    def create(self: Any, **kwargs: Any) -> Any:
        if not kwargs.get("service_role"):
            iam = self.iam_backend
            linked = [r for r in iam.roles.values() if r.path == f"/aws-service-role/{BATCH_SERVICE}/"]
            role = linked[0] if linked else iam.create_service_linked_role(BATCH_SERVICE, "AWS Batch", "")
            kwargs["service_role"] = role.arn
        return original_create(self, **kwargs)

    BatchBackend.create_compute_environment = create  # type: ignore[method-assign]


def _give_the_default_vpc_its_internet_gateway() -> None:
    """AWS's default VPC comes with an internet gateway and a main route table routing 0.0.0.0/0 to it."""
    from moto.ec2.models.vpcs import VPCBackend

    original = VPCBackend.create_default_vpc

    def create_default_vpc(self: Any) -> Any:
        vpc = original(self)
        gateway = self.create_internet_gateway()
        self.attach_internet_gateway(gateway.id, vpc.id)
        main = next(t for t in self.route_tables.values() if t.vpc_id == vpc.id and t.main_association_id)
        self.create_route(main.id, "0.0.0.0/0", gateway_id=gateway.id)
        return vpc

    VPCBackend.create_default_vpc = create_default_vpc  # type: ignore[method-assign]


# What every request to the emulator carries as its condition context, as a request over TLS to
# AWS would. Keys compare without regard to case, as in IAM.
REQUEST_CONTEXT = {"aws:securetransport": "true"}
# Each operator: whether the request's value satisfies the statement's values (any of them, or
# for a negated operator none of them).
_CONDITION_OPERATORS = {
    "Bool": lambda wanted, actual: actual.lower() in (value.lower() for value in wanted),
    "StringEquals": lambda wanted, actual: actual in wanted,
    "StringNotEquals": lambda wanted, actual: actual not in wanted,
    "StringLike": lambda wanted, actual: any(fnmatch.fnmatchcase(actual, value) for value in wanted),
    "ArnEquals": lambda wanted, actual: actual in wanted,
    "ArnLike": lambda wanted, actual: any(fnmatch.fnmatchcase(actual, value) for value in wanted),
}


def condition_holds(condition: dict[str, Any] | None, context: dict[str, str] = REQUEST_CONTEXT) -> bool:
    """Whether a policy statement's Condition holds for a request with `context`. What cannot be
    evaluated here (another operator, a key the context lacks) is taken to hold, as moto does, so
    a Deny stays on the safe side."""
    for operator, tests in (condition or {}).items():
        holds = _CONDITION_OPERATORS.get(operator)
        for key, expected in tests.items():
            actual = context.get(key.lower())
            if holds is None or actual is None:
                continue
            wanted = [str(value) for value in (expected if isinstance(expected, list) else [expected])]
            if not holds(wanted, actual):
                return False
    return True


def _evaluate_bucket_policy_conditions() -> None:
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(self.policy)
        statements = policy.get("Statement", [])
        statements = statements if isinstance(statements, list) else [statements]
        applying = [
            {key: value for key, value in statement.items() if key != "Condition"}
            for statement in statements
            if condition_holds(statement.get("Condition"))
        ]
        if not applying:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**policy, "Statement": applying})).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]
