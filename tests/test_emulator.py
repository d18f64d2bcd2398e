"""Where moto differs from AWS in ways batchform relies on, the local stack's emulator behaves as AWS."""

from __future__ import annotations

import contextlib
import json
import time
import uuid

import pytest

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


@pytest.fixture
def scratch_queue(local_account):  # noqa: ANN001, ANN201
    """A throwaway unmanaged compute environment and job queue in the local account."""
    batch = local_account.client("batch")
    suffix = uuid.uuid4().hex[:8]
    role = local_account.client("iam").create_role(
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
    queue = batch.create_job_queue(
        jobQueueName=f"env-check-{suffix}",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
    )["jobQueueArn"]
    yield queue
    batch.update_job_queue(jobQueue=queue, state="DISABLED")
    batch.delete_job_queue(jobQueue=queue)
    batch.update_compute_environment(computeEnvironment=environment, state="DISABLED")
    batch.delete_compute_environment(computeEnvironment=environment)
    local_account.client("iam").delete_role(RoleName=role["RoleName"])


def test_a_job_container_gets_region_role_credentials_and_its_array_index(
    local_account, scratch_queue
) -> None:  # noqa: ANN001
    from batchform import jobs, logs

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
        states = jobs.wait(local_account, children, echo=lambda _line: None, timeout=120)
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
    properties = {
        "image": "batchform-base/busybox:1.36",
        "command": ["true"],
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
    }
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
        from batchform import jobs

        assert (
            jobs.wait(local_account, [job_id], echo=lambda _l: None, timeout=60)[job_id].status == "SUCCEEDED"
        )
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
        from batchform import jobs

        jobs.wait(local_account, [job_id, f"{parent}:0", f"{parent}:1"], echo=lambda _l: None, timeout=60)
        job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
        assert (job["status"], job["container"]["exitCode"]) == ("FAILED", 7)
        assert job["statusReason"] == "Essential container in task exited"
        assert batch.describe_jobs(jobs=[parent])["jobs"][0]["status"] == "FAILED"
    finally:
        batch.deregister_job_definition(jobDefinition=definition)
