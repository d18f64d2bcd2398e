"""Where moto differs from AWS in ways batchform relies on, the local stack's emulator behaves as AWS."""

from __future__ import annotations

import contextlib
import json
import time
import uuid

import pytest
from conftest import queue_job_ids

pytestmark = pytest.mark.stack


def test_a_launch_templates_own_tags_stay_off_its_version_data(local_account) -> None:  # noqa: ANN001
    """AWS keeps template tags on the template; echoed in the data they make every plan show a change."""
    ec2 = local_account.client("ec2")
    name = f"tags-check-{uuid.uuid4().hex[:8]}"
    created = ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={
            "InstanceType": "m5.large",
            "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "batch"}]}],
        },
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": [{"Key": "team", "Value": "batch"}]}],
    )["LaunchTemplate"]
    try:
        template = ec2.describe_launch_templates(LaunchTemplateNames=[name])["LaunchTemplates"][0]
        assert template["Tags"] == [{"Key": "team", "Value": "batch"}]
        data = ec2.describe_launch_template_versions(LaunchTemplateId=created["LaunchTemplateId"])[
            "LaunchTemplateVersions"
        ][0]["LaunchTemplateData"]
        assert [spec["ResourceType"] for spec in data["TagSpecifications"]] == ["instance"]
    finally:
        ec2.delete_launch_template(LaunchTemplateId=created["LaunchTemplateId"])


def test_a_compute_environment_without_a_service_role_acts_as_batchs_service_linked_role(
    local_account,
) -> None:  # noqa: ANN001
    """As on AWS: the role is created on first use, and every such environment shares it."""
    batch = local_account.client("batch")
    names = [f"linked-check-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for name in names:
        batch.create_compute_environment(computeEnvironmentName=name, type="UNMANAGED", state="ENABLED")
    try:
        described = batch.describe_compute_environments(computeEnvironments=names)["computeEnvironments"]
        roles = {environment["serviceRole"] for environment in described}
        assert len(described) == 2 and len(roles) == 1
        [arn] = roles
        role = local_account.client("iam").get_role(RoleName=arn.rsplit("/", 1)[1])["Role"]
        assert role["Path"] == "/aws-service-role/batch.amazonaws.com/"
        assert role["Arn"] == arn
    finally:
        for name in names:
            batch.update_compute_environment(computeEnvironment=name, state="DISABLED")
            batch.delete_compute_environment(computeEnvironment=name)


@contextlib.contextmanager
def queue_in(account, scheduling_policy_arn: str | None = None, **queue_args):  # noqa: ANN001, ANN003, ANN201
    """A throwaway unmanaged compute environment and job queue in `account`."""
    batch = account.client("batch")
    suffix = uuid.uuid4().hex[:8]
    role = account.client("iam").create_role(
        RoleName=f"env-check-{suffix}",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "batch.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]
    environment = batch.create_compute_environment(
        computeEnvironmentName=f"env-check-{suffix}",
        type="UNMANAGED",
        state="ENABLED",
        serviceRole=role["Arn"],
    )["computeEnvironmentArn"]
    if scheduling_policy_arn:
        queue_args["schedulingPolicyArn"] = scheduling_policy_arn
    queue = batch.create_job_queue(
        jobQueueName=f"env-check-{suffix}",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
        **queue_args,
    )["jobQueueArn"]
    try:
        yield queue
    finally:
        batch.update_job_queue(jobQueue=queue, state="DISABLED")
        batch.delete_job_queue(jobQueue=queue)
        batch.update_compute_environment(computeEnvironment=environment, state="DISABLED")
        batch.delete_compute_environment(computeEnvironment=environment)
        account.client("iam").delete_role(RoleName=role["RoleName"])


# A job definition's container that exits 0 at once.
TRUE_CONTAINER = {
    "image": "batchform-base/busybox:1.36",
    "command": ["true"],
    "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
}


@pytest.fixture
def scratch_queue(local_account):  # noqa: ANN001, ANN201
    """A throwaway unmanaged compute environment and job queue in the local account."""
    with queue_in(local_account) as queue:
        yield queue


def test_attempts_outside_1_to_10_and_timeouts_under_60_s_are_refused_as_aws_refuses_them(
    local_account, scratch_queue
) -> None:  # noqa: ANN001
    """AWS Batch: retryStrategy "attempts ... from 1 to 10"; timeout "the minimum value for the
    timeout is 60 seconds", both for RegisterJobDefinition and for SubmitJob's overrides."""
    from botocore.exceptions import ClientError

    batch = local_account.client("batch")
    name = f"limits-check-{uuid.uuid4().hex[:8]}"
    properties = TRUE_CONTAINER
    for bad in (
        {"retryStrategy": {"attempts": 11}},
        {"retryStrategy": {"attempts": 0}},
        {"timeout": {"attemptDurationSeconds": 59}},
    ):
        with pytest.raises(ClientError) as refused:
            batch.register_job_definition(
                jobDefinitionName=name, type="container", containerProperties=properties, **bad
            )
        assert refused.value.response["Error"]["Code"] == "ClientException", bad
    assert batch.describe_job_definitions(jobDefinitionName=name)["jobDefinitions"] == []

    arn = batch.register_job_definition(
        jobDefinitionName=name,
        type="container",
        containerProperties=properties,
        retryStrategy={"attempts": 10},
        timeout={"attemptDurationSeconds": 60},
    )["jobDefinitionArn"]
    try:
        for bad in ({"retryStrategy": {"attempts": 11}}, {"timeout": {"attemptDurationSeconds": 30}}):
            with pytest.raises(ClientError) as refused:
                batch.submit_job(jobName="limits", jobQueue=scratch_queue, jobDefinition=arn, **bad)
            assert refused.value.response["Error"]["Code"] == "ClientException", bad
        assert queue_job_ids(batch, scratch_queue) == []
    finally:
        batch.deregister_job_definition(jobDefinition=arn)


def test_a_job_container_gets_region_role_credentials_and_its_array_index(
    local_account, scratch_queue
) -> None:  # noqa: ANN001
    from batchform import logs
    from batchform.follow import JobWatcher

    batch = local_account.client("batch")
    script = (
        'echo "region=$AWS_REGION default=$AWS_DEFAULT_REGION endpoint=$AWS_ENDPOINT_URL '
        "key=${AWS_ACCESS_KEY_ID:+set} token=${AWS_SESSION_TOKEN:+set} "
        'index=${AWS_BATCH_JOB_ARRAY_INDEX:-none}"'
    )
    definition = batch.register_job_definition(
        jobDefinitionName=f"env-check-{uuid.uuid4().hex[:8]}",
        type="container",
        containerProperties={
            "image": "batchform-base/busybox:1.36",
            "command": ["sh", "-c", script],
            "jobRoleArn": f"arn:aws:iam::{local_account.account_id}:role/env-check",
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        },
    )["jobDefinitionArn"]
    try:
        parent = batch.submit_job(
            jobName="env-check", jobQueue=scratch_queue, jobDefinition=definition, arrayProperties={"size": 2}
        )["jobId"]
        children = [f"{parent}:0", f"{parent}:1"]
        states = JobWatcher(local_account, echo=lambda _line: None, poll=1.0).wait(children, timeout=120)
        assert {state.status for state in states.values()} == {"SUCCEEDED"}
        endpoint = local_account.endpoints.aws
        for index, child in enumerate(children):
            assert list(logs.lines(local_account, child)) == [
                f"region=us-east-1 default=us-east-1 endpoint={endpoint} key=set token=set index={index}"
            ]
        described = batch.describe_jobs(jobs=children[:1])["jobs"][0]["container"]["environment"]
        assert not any(variable["name"].startswith("AWS_SECRET") for variable in described)
    finally:
        batch.deregister_job_definition(jobDefinition=definition)


def test_a_job_definition_without_revision_means_its_latest_active_revision(
    local_account, scratch_queue
) -> None:  # noqa: ANN001
    batch = local_account.client("batch")
    name = f"revision-check-{uuid.uuid4().hex[:8]}"
    properties = TRUE_CONTAINER
    first, second = (
        batch.register_job_definition(
            jobDefinitionName=name, type="container", containerProperties=properties
        )
        for _ in range(2)
    )
    revisionless = first["jobDefinitionArn"].rsplit(":", 1)[0]
    try:
        for expected in (second, first):
            for reference in (revisionless, name):
                job_id = batch.submit_job(jobName="rev", jobQueue=scratch_queue, jobDefinition=reference)[
                    "jobId"
                ]
                assert (
                    batch.describe_jobs(jobs=[job_id])["jobs"][0]["jobDefinition"]
                    == expected["jobDefinitionArn"]
                )
            batch.deregister_job_definition(jobDefinition=second["jobDefinitionArn"])
    finally:
        batch.deregister_job_definition(jobDefinition=first["jobDefinitionArn"])


def test_a_jobs_output_reaches_its_log_stream_while_the_container_runs(local_account, scratch_queue) -> None:
    from batchform import logs

    batch = local_account.client("batch")
    definition = batch.register_job_definition(
        jobDefinitionName=f"stream-check-{uuid.uuid4().hex[:8]}",
        type="container",
        containerProperties={
            "image": "batchform-base/busybox:1.36",
            "command": ["sh", "-c", "echo first; sleep 4; echo second"],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        },
    )["jobDefinitionArn"]
    try:
        job_id = batch.submit_job(jobName="stream", jobQueue=scratch_queue, jobDefinition=definition)["jobId"]
        seen_running: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
            if job["status"] == "RUNNING" and job["container"].get("logStreamName"):
                with contextlib.suppress(local_account.client("logs").exceptions.ResourceNotFoundException):
                    seen_running = list(logs.lines(local_account, job_id))  # the stream may not exist yet
                if seen_running:
                    break
            if job["status"] in ("SUCCEEDED", "FAILED"):
                break
            time.sleep(0.2)
        assert seen_running == ["first"]  # while running: the first line, not yet the second
        from batchform.follow import JobWatcher

        watcher = JobWatcher(local_account, echo=lambda _l: None, poll=1.0)
        assert watcher.wait([job_id], timeout=60)[job_id].status == "SUCCEEDED"
        assert list(logs.lines(local_account, job_id)) == ["first", "second"]  # each line exactly once
    finally:
        batch.deregister_job_definition(jobDefinition=definition)


def test_describe_jobs_gives_a_failed_containers_exit_code_and_reason(local_account, scratch_queue) -> None:
    batch = local_account.client("batch")
    definition = batch.register_job_definition(
        jobDefinitionName=f"exit-check-{uuid.uuid4().hex[:8]}",
        type="container",
        containerProperties={
            "image": "batchform-base/busybox:1.36",
            "command": ["sh", "-c", "exit 7"],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        },
    )["jobDefinitionArn"]
    try:
        job_id = batch.submit_job(jobName="exit", jobQueue=scratch_queue, jobDefinition=definition)["jobId"]
        parent = batch.submit_job(
            jobName="exit-array",
            jobQueue=scratch_queue,
            jobDefinition=definition,
            arrayProperties={"size": 2},
        )["jobId"]
        from batchform.follow import JobWatcher

        JobWatcher(local_account, echo=lambda _l: None, poll=1.0).wait(
            [job_id, f"{parent}:0", f"{parent}:1"], timeout=60
        )
        job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
        assert (job["status"], job["container"]["exitCode"]) == ("FAILED", 7)
        assert job["statusReason"] == "Essential container in task exited"
        assert batch.describe_jobs(jobs=[parent])["jobs"][0]["status"] == "FAILED"
    finally:
        batch.deregister_job_definition(jobDefinition=definition)


# ---- rules AWS enforces that moto does not: each proven on a private stack running this code -----


@pytest.fixture
def stack_account(private_stack):  # noqa: ANN001, ANN201
    """The built-in local account, on a private stack that runs the emulator of this checkout."""
    from batchform.accounts import Accounts

    private_stack.up()
    return Accounts({}, stack=private_stack.settings).get("local")


def _definition(account, command: list[str], **extra) -> str:  # noqa: ANN001, ANN003
    return account.client("batch").register_job_definition(
        jobDefinitionName=f"rule-check-{uuid.uuid4().hex[:8]}",
        type="container",
        containerProperties={
            "image": "batchform-base/busybox:1.36",
            "command": command,
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        },
        **extra,
    )["jobDefinitionArn"]


def _final(account, job_ids: list[str]) -> dict:  # noqa: ANN001
    from batchform.follow import JobWatcher

    JobWatcher(account, echo=lambda _line: None, poll=0.3).wait(job_ids, timeout=120)
    return {job["jobId"]: job for job in account.client("batch").describe_jobs(jobs=job_ids)["jobs"]}


def _env(size: int) -> dict:
    """Container overrides whose JSON text (as botocore sends it) is exactly `size` bytes."""
    overrides = {"environment": [{"name": "PAYLOAD", "value": ""}]}
    overrides["environment"][0]["value"] = "x" * (size - len(json.dumps(overrides)))
    assert len(json.dumps(overrides)) == size
    return overrides


def test_overrides_longer_than_8192_are_accepted_then_the_job_and_each_array_child_fail(
    stack_account,
) -> None:  # noqa: ANN001
    """AWS-FIDELITY: "SubmitJob accepts a request of up to 30 KiB, but the ECS task that runs the job
    refuses overrides (environment + command) over 8,192 characters: the job is accepted and then goes
    FAILED with `StatusReason: "Container Overrides length must be at most 8192"`."""
    batch = stack_account.client("batch")
    with queue_in(stack_account) as queue:
        definition = _definition(stack_account, ["true"])
        submit = {"jobQueue": queue, "jobDefinition": definition}
        fits = batch.submit_job(jobName="fits", containerOverrides=_env(8192), **submit)["jobId"]
        over = batch.submit_job(jobName="over", containerOverrides=_env(8193), **submit)["jobId"]
        parent = batch.submit_job(
            jobName="over-array", containerOverrides=_env(8193), arrayProperties={"size": 2}, **submit
        )["jobId"]
        children = [f"{parent}:0", f"{parent}:1"]
        jobs = _final(stack_account, [fits, over, *children])
        assert jobs[fits]["status"] == "SUCCEEDED"
        for job_id in (over, *children):
            assert (jobs[job_id]["status"], jobs[job_id]["statusReason"]) == (
                "FAILED",
                "Container Overrides length must be at most 8192",
            )
            assert "exitCode" not in jobs[job_id]["container"]  # no container ever ran
        assert batch.describe_jobs(jobs=[parent])["jobs"][0]["status"] == "FAILED"


def test_more_than_50_propagated_tags_of_job_and_definition_fail_the_job(stack_account) -> None:  # noqa: ANN001
    """AWS-FIDELITY, propagateTags: "If the total number of combined tags from the job and job
    definition is over 50, the job is moved to the FAILED state." Keys in both count once; the
    definition's tags include what the provider's default_tags put on it."""
    batch = stack_account.client("batch")
    definition_tags = {f"def-{n}": "v" for n in range(30)}  # as terraform sends them: default_tags merged in
    with queue_in(stack_account) as queue:
        definition = _definition(stack_account, ["true"], propagateTags=True, tags=definition_tags)
        submit = {"jobQueue": queue, "jobDefinition": definition}
        own = {f"job-{n}": "v" for n in range(20)}
        fifty = batch.submit_job(jobName="fifty", tags=own, **submit)["jobId"]
        overlapping = batch.submit_job(jobName="overlap", tags={**own, "def-0": "from-job"}, **submit)[
            "jobId"
        ]
        fifty_one = batch.submit_job(jobName="fifty-one", tags={**own, "job-20": "v"}, **submit)["jobId"]
        not_propagated = batch.submit_job(
            jobName="kept", tags={**own, "job-20": "v"}, propagateTags=False, **submit
        )["jobId"]
        array = batch.submit_job(
            jobName="array", tags={**own, "job-20": "v"}, arrayProperties={"size": 2}, **submit
        )["jobId"]
        jobs = _final(
            stack_account, [fifty, overlapping, fifty_one, not_propagated, f"{array}:0", f"{array}:1"]
        )
        assert {jobs[j]["status"] for j in (fifty, overlapping, not_propagated)} == {"SUCCEEDED"}
        for job_id in (fifty_one, f"{array}:0", f"{array}:1"):
            assert jobs[job_id]["status"] == "FAILED"
            assert "51 tags" in jobs[job_id]["statusReason"]


def test_a_fair_share_queue_needs_a_share_identifier_and_a_fifo_queue_refuses_one(stack_account) -> None:  # noqa: ANN001
    """AWS-FIDELITY, SubmitJob shareIdentifier: "If the job queue has a fair-share scheduling policy,
    then this parameter must be specified." A queue without a policy refuses a share identifier."""
    batch = stack_account.client("batch")
    policy = batch.create_scheduling_policy(
        name=f"share-check-{uuid.uuid4().hex[:8]}",
        fairsharePolicy={"shareDistribution": [{"shareIdentifier": "team*", "weightFactor": 1.0}]},
    )["arn"]
    definition = _definition(stack_account, ["true"])
    prioritised = _definition(stack_account, ["true"], schedulingPriority=3)
    with queue_in(stack_account, policy) as fair, queue_in(stack_account) as fifo:
        with pytest.raises(batch.exceptions.ClientException) as missing:
            batch.submit_job(jobName="no-share", jobQueue=fair, jobDefinition=definition)
        # Public report (nextflow-io/nextflow#3505): a fair-share job needs a priority from somewhere.
        with pytest.raises(batch.exceptions.ClientException) as no_priority:
            batch.submit_job(
                jobName="no-priority", jobQueue=fair, jobDefinition=definition, shareIdentifier="teamA"
            )
        by_definition = batch.submit_job(
            jobName="by-definition", jobQueue=fair, jobDefinition=prioritised, shareIdentifier="teamB"
        )["jobId"]
        with pytest.raises(batch.exceptions.ClientException) as refused:
            batch.submit_job(
                jobName="share", jobQueue=fifo, jobDefinition=definition, shareIdentifier="teamA"
            )
        shared = batch.submit_job(
            jobName="share",
            jobQueue=fair,
            jobDefinition=definition,
            shareIdentifier="teamA",
            schedulingPriorityOverride=5,
        )["jobId"]
        plain = batch.submit_job(jobName="plain", jobQueue=fifo, jobDefinition=definition)["jobId"]
        jobs = _final(stack_account, [shared, plain, by_definition])
    for error in (missing.value, refused.value, no_priority.value):
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert no_priority.value.response["Error"]["Message"] == (
        "Either schedulingPriority in job definition or schedulingPriorityOverride should be specified."
    )
    described = batch.describe_job_definitions(jobDefinitions=[prioritised])["jobDefinitions"][0]
    assert described["schedulingPriority"] == 3
    assert missing.value.response["Error"]["Message"] == "shareIdentifier must be specified."
    assert "must not be specified" in refused.value.response["Error"]["Message"]
    assert (jobs[shared]["shareIdentifier"], jobs[shared]["schedulingPriority"]) == ("teamA", 5)
    assert {job["status"] for job in jobs.values()} == {"SUCCEEDED"}
    assert "shareIdentifier" not in jobs[plain]


def _slow_states(stack) -> None:  # noqa: ANN001
    """Each job state lasts about 2 s on this stack (moto passes them at once), so tests can act in one."""
    import requests

    requests.post(
        f"{stack.settings.emulator_url}/moto-api/state-manager/set-transition",
        json={"model_name": "batch::job", "transition": {"progression": "time", "seconds": 2}},
        timeout=10,
    ).raise_for_status()


def _when(account, job_id: str, status: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        current = account.client("batch").describe_jobs(jobs=[job_id])["jobs"][0]["status"]
        if current == status:
            return
        assert current not in ("SUCCEEDED", "FAILED"), f"{job_id} ended ({current}) before {status}"
        time.sleep(0.1)
    raise AssertionError(f"{job_id} never reached {status}")


def test_cancel_stops_only_a_job_that_has_not_started_and_terminate_stops_any(
    private_stack, stack_account
) -> None:  # noqa: ANN001
    """AWS-FIDELITY, CancelJob: "Jobs that progressed to the STARTING or RUNNING state aren't canceled.
    However, the API operation still succeeds." TerminateJob ends a job in any state, including one that
    has not started. A job stopped before it started never runs its container; an array parent's cancel
    or terminate reaches its children."""
    from batchform import logs

    _slow_states(private_stack)
    batch = stack_account.client("batch")
    with queue_in(stack_account) as queue:
        definition = _definition(stack_account, ["sh", "-c", "echo ran; sleep 2"])
        submit = {"jobQueue": queue, "jobDefinition": definition}
        names = ("cancel-runnable", "end-runnable", "cancel-starting", "cancel-running", "end-running")
        ids = {name: batch.submit_job(jobName=name, **submit)["jobId"] for name in names}
        array = batch.submit_job(jobName="cancel-array", arrayProperties={"size": 2}, **submit)["jobId"]
        # In the order the jobs reach the states (all were submitted together).
        for name in names:
            _when(stack_account, ids[name], name.split("-")[1].upper())
            if name.startswith("cancel"):
                batch.cancel_job(jobId=ids[name], reason="cancelled by the test")  # succeeds in any state
            else:
                batch.terminate_job(jobId=ids[name], reason="terminated by the test")
            if name == "end-runnable":
                batch.cancel_job(jobId=array, reason="cancelled by the test")  # its children: RUNNABLE too
        children = [f"{array}:0", f"{array}:1"]
        jobs = _final(stack_account, [*ids.values(), *children])

    def outcome(job_id: str) -> tuple[str, list[str]]:
        """Its status and log lines; a job whose container never ran has no log stream at all."""
        try:
            return jobs[job_id]["status"], list(logs.lines(stack_account, job_id))
        except stack_account.client("logs").exceptions.ResourceNotFoundException:
            return jobs[job_id]["status"], []

    assert outcome(ids["cancel-starting"]) == ("SUCCEEDED", ["ran"])
    assert outcome(ids["cancel-running"]) == ("SUCCEEDED", ["ran"])
    assert jobs[ids["end-running"]]["status"] == "FAILED"
    assert jobs[ids["end-running"]]["statusReason"] == "terminated by the test"
    for name in ("cancel-runnable", "end-runnable"):
        assert outcome(ids[name]) == ("FAILED", []), name  # never ran
    assert jobs[ids["cancel-runnable"]]["statusReason"] == "cancelled by the test"
    for child in children:
        assert outcome(child) == ("FAILED", [])


def test_a_queues_job_state_time_limit_actions_are_kept_and_described(stack_account) -> None:  # noqa: ANN001
    """moto accepts jobStateTimeLimitActions but drops them, so every terraform plan showed a change."""
    batch = stack_account.client("batch")
    action = {
        "reason": "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
        "state": "RUNNABLE",
        "maxTimeSeconds": 600,
        "action": "CANCEL",
    }
    with queue_in(stack_account, jobStateTimeLimitActions=[action]) as queue:
        assert batch.describe_job_queues(jobQueues=[queue])["jobQueues"][0]["jobStateTimeLimitActions"] == [
            action
        ]
        longer = {**action, "reason": "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT", "maxTimeSeconds": 900}
        batch.update_job_queue(jobQueue=queue, jobStateTimeLimitActions=[action, longer])
        described = batch.describe_job_queues(jobQueues=[queue])["jobQueues"][0]
        assert described["jobStateTimeLimitActions"] == [action, longer]


def test_a_queue_mixing_ec2_and_fargate_over_three_environments_or_with_a_bad_time_limit_is_refused(
    stack_account,  # noqa: ANN001
) -> None:
    """CreateJobQueue: "All of the compute environments must be either EC2 (EC2 or SPOT) or Fargate
    (FARGATE or FARGATE_SPOT); Amazon EC2 and Fargate compute environments can't be mixed", up to
    three of them; JobStateTimeLimitAction: maxTimeSeconds "minimum 600, maximum 86,400", action
    CANCEL, state RUNNABLE. moto took all of them."""
    from botocore.exceptions import ClientError

    batch, ec2 = stack_account.client("batch"), stack_account.client("ec2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:1]
    groups = [g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]][:1]
    fargate = batch.create_compute_environment(
        computeEnvironmentName=f"fargate-check-{uuid.uuid4().hex[:8]}",
        type="MANAGED",
        computeResources={"type": "FARGATE", "maxvCpus": 4, "subnets": subnets, "securityGroupIds": groups},
    )["computeEnvironmentArn"]
    action = {
        "reason": "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
        "state": "RUNNABLE",
        "maxTimeSeconds": 600,
        "action": "CANCEL",
    }
    with queue_in(stack_account, jobStateTimeLimitActions=[action]) as queue:
        [ec2_environment] = [
            o["computeEnvironment"]
            for o in batch.describe_job_queues(jobQueues=[queue])["jobQueues"][0]["computeEnvironmentOrder"]
        ]
        refused = [
            {
                "computeEnvironmentOrder": [
                    {"order": 1, "computeEnvironment": ec2_environment},
                    {"order": 2, "computeEnvironment": fargate},
                ]
            },
            {
                "computeEnvironmentOrder": [
                    {"order": n, "computeEnvironment": ec2_environment} for n in range(1, 5)
                ]
            },
            {"jobStateTimeLimitActions": [{**action, "maxTimeSeconds": 599}]},
            {"jobStateTimeLimitActions": [{**action, "maxTimeSeconds": 86401}]},
            {"jobStateTimeLimitActions": [{**action, "action": "TERMINATE"}]},
        ]
        for bad in refused:
            name = f"refused-{uuid.uuid4().hex[:8]}"
            base = {"computeEnvironmentOrder": [{"order": 1, "computeEnvironment": fargate}]}
            with pytest.raises(ClientError) as caught:
                batch.create_job_queue(jobQueueName=name, priority=1, **{**base, **bad})
            assert caught.value.response["Error"]["Code"] == "ClientException", bad
            assert batch.describe_job_queues(jobQueues=[name])["jobQueues"] == [], bad
            with pytest.raises(ClientError):
                batch.update_job_queue(jobQueue=queue, **bad)
        described = batch.describe_job_queues(jobQueues=[queue])["jobQueues"][0]
        assert described["jobStateTimeLimitActions"] == [action]
        assert [o["computeEnvironment"] for o in described["computeEnvironmentOrder"]] == [ec2_environment]
    batch.update_compute_environment(computeEnvironment=fargate, state="DISABLED")
    batch.delete_compute_environment(computeEnvironment=fargate)


def test_describe_jobs_gives_a_jobs_resources_with_the_submits_overrides(stack_account) -> None:  # noqa: ANN001
    """ContainerDetail.resourceRequirements: the job's, a submit's containerOverrides replacing the
    definition's of the same type (moto read only the old top-level vcpus and memory)."""
    batch = stack_account.client("batch")
    definition = batch.register_job_definition(
        jobDefinitionName=f"resources-check-{uuid.uuid4().hex[:8]}",
        type="container",
        containerProperties=TRUE_CONTAINER,
    )["jobDefinitionArn"]
    try:
        with queue_in(stack_account) as queue:
            plain = batch.submit_job(jobName="plain", jobQueue=queue, jobDefinition=definition)["jobId"]
            bigger = batch.submit_job(
                jobName="bigger",
                jobQueue=queue,
                jobDefinition=definition,
                containerOverrides={"resourceRequirements": [{"type": "VCPU", "value": "2"}]},
            )["jobId"]
            described = {
                j["jobId"]: j["container"]["resourceRequirements"]
                for j in batch.describe_jobs(jobs=[plain, bigger])["jobs"]
            }
            assert described[plain] == TRUE_CONTAINER["resourceRequirements"]
            assert described[bigger] == [{"type": "VCPU", "value": "2"}, {"type": "MEMORY", "value": "512"}]
            for job_id in (plain, bigger):
                batch.terminate_job(jobId=job_id, reason="checked")
    finally:
        batch.deregister_job_definition(jobDefinition=definition)


@pytest.mark.docker
def test_a_job_pulls_its_image_from_the_local_registry_with_its_accounts_token(
    stack_account, tmp_path
) -> None:  # noqa: ANN001
    """As ECS pulls from ECR with the execution role's token: the job's image must be in the registry
    (one only built on this machine fails as on AWS), and the registry lets the job's account in."""
    from batchform import logs
    from batchform.images import docker_client
    from batchform.localstack.baseimages import BUSYBOX_LOCAL
    from batchform.registry import Registry
    from test_localstack import pushed_image

    registry = Registry(stack_account)
    batch = stack_account.client("batch")
    with (
        pushed_image(stack_account, tmp_path, base=BUSYBOX_LOCAL) as (name, build),
        queue_in(stack_account) as queue,
    ):
        # Tag 99 is on this machine only, never pushed.
        docker_client().images.get(f"batchform/{name}:{build}").tag(registry.reference(name), "99")
        ran = {}
        for tag in (build, 99):
            definition = batch.register_job_definition(
                jobDefinitionName=f"pull-check-{uuid.uuid4().hex[:8]}",
                type="container",
                containerProperties={
                    "image": registry.reference(name, tag),
                    "command": ["cat", "/data.txt"],
                    "resourceRequirements": [
                        {"type": "VCPU", "value": "1"},
                        {"type": "MEMORY", "value": "512"},
                    ],
                },
            )["jobDefinitionArn"]
            ran[tag] = batch.submit_job(jobName="pull", jobQueue=queue, jobDefinition=definition)["jobId"]
        jobs = _final(stack_account, list(ran.values()))
        docker_client().api.remove_image(registry.reference(name, 99), noprune=True)
    assert jobs[ran[build]]["status"] == "SUCCEEDED", jobs[ran[build]].get("statusReason")
    # CloudWatch Logs delivers a job's lines a moment after it ends, on AWS as here: wait, bounded.
    deadline = time.monotonic() + 60
    while not (printed := list(logs.lines(stack_account, ran[build]))) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert printed == [name]
    assert jobs[ran[99]]["status"] == "FAILED"
    assert jobs[ran[99]]["statusReason"].startswith("CannotPullContainerError:"), jobs[ran[99]][
        "statusReason"
    ]


def test_list_jobs_without_a_status_lists_running_jobs_and_every_listing_comes_in_pages(
    stack_account,
) -> None:  # noqa: ANN001
    """ListJobs, jobStatus: "If you don't specify a status, only RUNNING jobs are returned"; maxResults:
    without it "ListJobs returns up to 100 results and a nextToken value if applicable". moto listed
    every job, in one page, so code that forgot a status or the next page passed here."""
    from batchform.follow import JobWatcher
    from botocore.exceptions import ClientError

    batch = stack_account.client("batch")
    with queue_in(stack_account) as queue:
        quick = _definition(stack_account, ["true"])
        slow = _definition(stack_account, ["sleep", "30"])
        done = [
            batch.submit_job(jobName=f"done-{n}", jobQueue=queue, jobDefinition=quick)["jobId"]
            for n in range(3)
        ]
        running = batch.submit_job(jobName="running", jobQueue=queue, jobDefinition=slow)["jobId"]
        JobWatcher(stack_account, echo=lambda _line: None, poll=0.3).wait(done, timeout=60)
        _when(stack_account, running, "RUNNING")

        assert [s["jobId"] for s in batch.list_jobs(jobQueue=queue)["jobSummaryList"]] == [running]
        first = batch.list_jobs(jobQueue=queue, jobStatus="SUCCEEDED", maxResults=2)
        assert len(first["jobSummaryList"]) == 2 and first["nextToken"]
        second = batch.list_jobs(
            jobQueue=queue, jobStatus="SUCCEEDED", maxResults=2, nextToken=first["nextToken"]
        )
        assert "nextToken" not in second
        listed = [s["jobId"] for page in (first, second) for s in page["jobSummaryList"]]
        assert sorted(listed) == sorted(done)
        named = batch.list_jobs(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": ["done-*"]}])
        assert sorted(s["jobId"] for s in named["jobSummaryList"]) == sorted(done)  # any status, with filters

        # AWS-FIDELITY: with a filter, jobStatus is ignored and every status is listed.
        def listed_with(name: str, value: str, **query: str) -> list[str]:
            filters = [{"name": name, "values": [value]}]
            page = batch.list_jobs(jobQueue=queue, filters=filters, **query)
            return sorted(s["jobId"] for s in page["jobSummaryList"])

        succeeded = batch.list_jobs(jobQueue=queue, jobStatus="SUCCEEDED")["jobSummaryList"]
        created = {s["jobId"]: s["createdAt"] for s in succeeded}
        since = max(created.values())
        assert listed_with("AFTER_CREATED_AT", "0", jobStatus="SUCCEEDED") == sorted([*done, running])
        assert listed_with("AFTER_CREATED_AT", str(since)) == [running]
        before = sorted(job for job, at in created.items() if at < since)
        assert listed_with("BEFORE_CREATED_AT", str(since)) == before
        with pytest.raises(ClientError, match="AFTER_CREATED_AT takes one time in milliseconds"):
            listed_with("AFTER_CREATED_AT", "yesterday")
        batch.terminate_job(jobId=running, reason="test over")


def test_describe_images_lists_what_the_registry_holds_with_each_tags_manifest_digest(local_account) -> None:  # noqa: ANN001
    """moto's ECR knows only images put through its API; AWS's DescribeImages lists what docker
    pushed. Here it asks the registry: tags grouped by manifest, each digest the registry's own."""
    from batchform.registry import Registry
    from conftest import push_manifest_only

    ecr, registry = local_account.client("ecr"), Registry(local_account)
    image = f"listed-{uuid.uuid4().hex[:8]}"
    for tag in (1, 2):
        push_manifest_only(local_account, image, tag)
    details = ecr.describe_images(repositoryName=image)["imageDetails"]
    by_tag = {tag: d["imageDigest"] for d in details for tag in d["imageTags"]}
    assert set(by_tag) == {"1", "2"}
    assert by_tag == {tag: registry.manifest(image, tag)[0] for tag in ("1", "2")}
    assert registry.build_digests(image) == {2: by_tag["2"], 1: by_tag["1"]}
    only = ecr.describe_images(repositoryName=image, imageIds=[{"imageTag": "2"}])["imageDetails"]
    assert [d["imageTags"] for d in only] == [["2"]]
    with pytest.raises(ecr.exceptions.ImageNotFoundException):
        ecr.describe_images(repositoryName=image, imageIds=[{"imageTag": "3"}])
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):  # nothing pushed: moto answers
        ecr.describe_images(repositoryName=f"never-{uuid.uuid4().hex[:8]}")
    assert registry.build_digests(f"never-{uuid.uuid4().hex[:8]}") == {}

    # In pages, as AWS answers (100 images unless asked, at most 1,000); the product reads them all.
    push_manifest_only(local_account, image, 3)
    first = ecr.describe_images(repositoryName=image, maxResults=2)
    rest = ecr.describe_images(repositoryName=image, maxResults=2, nextToken=first["nextToken"])
    assert (len(first["imageDetails"]), len(rest["imageDetails"]), "nextToken" in rest) == (2, 1, False)
    assert sorted(registry.build_digests(image)) == [1, 2, 3]
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.describe_images(repositoryName=image, maxResults=1001)


def test_a_job_larger_than_every_environment_of_its_queue_stays_runnable_saying_why_until_cancelled(
    batch_queue,  # noqa: ANN001
) -> None:
    """AWS leaves such a job RUNNABLE, its status reason MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT,
    until it is cancelled or a time limit acts (docs: job_stuck_in_runnable.html); moto ran it."""
    from batchform.localstack.batchrules import TOO_LARGE_REASON

    batch, target = batch_queue.account.client("batch"), batch_queue.target
    too_large = [{"type": "VCPU", "value": "8"}, {"type": "MEMORY", "value": "16384"}]  # the queue offers 4
    job_id = batch.submit_job(
        jobName="too-large",
        jobQueue=target.queue,
        jobDefinition=target.definition,
        containerOverrides={"resourceRequirements": too_large},
    )["jobId"]
    try:
        time.sleep(3)  # long past when a fitting job has started
        job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
        assert (job["status"], job["statusReason"]) == ("RUNNABLE", TOO_LARGE_REASON)
    finally:
        batch.cancel_job(jobId=job_id, reason="too large for its queue")
    deadline = time.monotonic() + 30
    while batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] != "FAILED" and time.monotonic() < deadline:
        time.sleep(0.5)
    job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
    assert (job["status"], job["statusReason"]) == ("FAILED", "too large for its queue")
