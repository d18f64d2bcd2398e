"""The root configuration's life in one account of the local stack, as a release engineer lives it.

Apply from empty, plan again (nothing), bump a build (only that job definition changes),
change the instance types (the compute environment is replaced while its queue uses it),
destroy (nothing left, as boto3 lists it). The account is a private one of the emulator
(reached by assuming a role), so what is listed at the end is exactly what terraform made.

The steps share one deployment and run in file order.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from batchform.accounts import Account, Accounts
from batchform.deployment import outputs
from batchform.errors import UserError
from batchform.jobs import SubmitRequest, Submitter, deployed_job
from batchform.terraform import TerraformRunner
from test_terraform_credentials import recorded_environments

pytestmark = [pytest.mark.stack, pytest.mark.terraform]

ACCOUNT_ID = "345678901234"
NAME = "batchform-tfcheck"
WORKLOAD: dict[str, Any] = {
    "compute": {"type": "EC2", "max_vcpus": 8, "instance_types": ["m5.large"]},
    "force_delete_repositories": True,
    "tags": {"team": "batch-platform"},
    # A fair-share queue: jobs submitted to it must name a share.
    "queue": {
        "fair_share": {"compute_reservation": 10, "share_decay_seconds": 3600, "shares": {"nightly": 0.5}}
    },
    "data_bucket": {"fan_out_expiry_days": 3},
    "images": {"worker": {"build": 41}, "reporter": {"build": 7}},
    "jobs": {
        "worker": {
            "image": "worker",
            "share_identifier": "nightly",
            "tags": {"stage": "crunch"},
            "vcpus": 1,
            "memory": 1024,
            "environment": {"MODE": "full"},
            "retry_attempts": 3,
            "timeout_seconds": 600,
        },
        "report": {"image": "reporter", "vcpus": 1, "memory": 512},
    },
}


class Deployment:
    def __init__(self, account: Account, workdir: Path):
        self.account = account
        self.runner = TerraformRunner(account, echo=lambda _line: None)
        self.var_file = workdir / "workload.tfvars.json"
        self.workload = json.loads(json.dumps(WORKLOAD))
        self.write()

    def write(self) -> list[Path]:
        self.var_file.write_text(json.dumps(self.workload))
        return [self.var_file]

    def client(self, service: str) -> Any:
        return self.account.client(service)


@pytest.fixture(scope="module")
def deployment(local_stack, terraform_binary, tmp_path_factory) -> Iterator[Deployment]:  # noqa: ANN001
    account = Accounts(
        {
            "accounts": {
                "tfcheck": {
                    "account_id": ACCOUNT_ID,
                    "region": "us-east-1",
                    "endpoints": "local-stack",
                    "role_arn": f"arn:aws:iam::{ACCOUNT_ID}:role/batchform-deployer",
                }
            }
        }
    ).get("tfcheck")
    d = Deployment(account, tmp_path_factory.mktemp("tfcheck"))
    yield d
    try:
        d.runner.destroy(d.write())
    finally:
        shutil.rmtree(d.runner.data_dir, ignore_errors=True)


def _compute_environments(d: Deployment) -> list[dict]:
    return d.client("batch").describe_compute_environments()["computeEnvironments"]


def _active_job_definitions(d: Deployment) -> list[dict]:
    return d.client("batch").describe_job_definitions(status="ACTIVE")["jobDefinitions"]


def test_apply_from_empty_then_a_second_plan_shows_no_changes(deployment: Deployment) -> None:
    assert _compute_environments(deployment) == []
    deployment.runner.apply(deployment.write())

    assert [
        ce["computeEnvironmentName"].startswith(f"{NAME}-main-") for ce in _compute_environments(deployment)
    ] == [True]
    queues = deployment.client("batch").describe_job_queues()["jobQueues"]
    assert [q["jobQueueName"] for q in queues] == [f"{NAME}-default"]
    assert sorted(jd["jobDefinitionName"] for jd in _active_job_definitions(deployment)) == [
        f"{NAME}-report",
        f"{NAME}-worker",
    ]
    repositories = deployment.client("ecr").describe_repositories()["repositories"]
    assert sorted(r["repositoryName"] for r in repositories) == ["reporter", "worker"]
    assert all(r["imageTagMutability"] == "IMMUTABLE" for r in repositories)

    assert deployment.runner.planned_changes(deployment.write()) == []


def test_terraform_assumes_the_role_itself_from_base_credentials_so_it_can_renew_the_session(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS-FIDELITY: "Assumed-role credentials handed to terraform as environment variables expire
    (1 h by default ...): a long apply (compute environment create/delete waits) can end in
    ExpiredToken. The provider's own `assume_role` block, or a profile with `role_arn`, renews."

    So terraform is handed the base credentials (here the emulator's) and assumes the role
    itself: no role session is in its environment, yet it reaches the role's account and its
    state there (the emulator answers the base credentials with another account, 123456789012)."""
    # A plan refreshes every resource through the role, and reads and locks the state in the
    # role's account: the same credentials path as an apply, without its fixed provider waits.
    handed = recorded_environments(monkeypatch, deployment.runner)
    assert deployment.runner.planned_changes(deployment.write()) == []

    assert handed, "terraform was not run"
    assert [env.get("AWS_SESSION_TOKEN") for env in handed] == [None] * len(handed)
    base = deployment.account.base_session.get_credentials().get_frozen_credentials()
    assert {env["AWS_ACCESS_KEY_ID"] for env in handed} == {base.access_key}
    assert json.loads(deployment.runner.account_var_file.read_text())["assume_role_arn"] == (
        f"arn:aws:iam::{ACCOUNT_ID}:role/batchform-deployer"
    )
    assert f'role_arn = "arn:aws:iam::{ACCOUNT_ID}:role/batchform-deployer"' in (
        deployment.runner.backend_file.read_text()
    )
    # What terraform made is in the role's account, as the account's own clients list it.
    assert deployment.runner.outputs()["job_queue_arns"]["default"].split(":")[4] == ACCOUNT_ID


def test_the_queue_is_fair_share_and_the_outputs_say_where_each_job_runs(deployment: Deployment) -> None:
    """SubmitJob: "If the job queue has a fair-share scheduling policy, then [shareIdentifier]
    must be specified" -- the outputs tell submit so, with each job's default share."""
    batch = deployment.client("batch")
    queue = batch.describe_job_queues()["jobQueues"][0]
    policy = batch.describe_scheduling_policies(arns=[queue["schedulingPolicyArn"]])["schedulingPolicies"][0]
    assert policy["fairsharePolicy"]["computeReservation"] == 10
    assert policy["fairsharePolicy"]["shareDecaySeconds"] == 3600
    assert [
        (s["shareIdentifier"], s["weightFactor"]) for s in policy["fairsharePolicy"]["shareDistribution"]
    ] == [("nightly", 0.5)]

    outputs = deployment.runner.outputs()
    assert outputs["data_bucket"] == f"{NAME}-data-{ACCOUNT_ID}"
    worker, report = outputs["jobs"]["worker"], outputs["jobs"]["report"]
    assert (worker["items_prefix"], worker["fair_share"], worker["share_identifier"]) == (
        "fan-out/worker/",
        True,
        "nightly",
    )
    assert (report["items_prefix"], report["fair_share"], report["share_identifier"]) == (
        "fan-out/report/",
        True,
        None,
    )
    # What a job propagates besides its own: the definition's tags with the provider's defaults.
    assert worker["tags"] == {
        "stage": "crunch",
        "batchform:image": "worker",
        "team": "batch-platform",
        "batchform:account": "tfcheck",
        "managed-by": "batchform",
    }
    definition = batch.describe_job_definitions(jobDefinitionName=f"{NAME}-worker", status="ACTIVE")
    assert definition["jobDefinitions"][0]["tags"] == worker["tags"]


def test_jobs_submitted_to_the_fair_share_queue_are_accepted_with_their_share_and_priority(
    deployment: Deployment, tmp_path: Path
) -> None:
    """On a fair-share queue AWS refuses a job without a share identifier, and one with neither a
    definition's schedulingPriority nor a schedulingPriorityOverride ("Either schedulingPriority in
    job definition or schedulingPriorityOverride should be specified"); the emulator holds both
    rules. What terraform deployed and what submit sends satisfy them."""
    definitions = {jd["jobDefinitionName"]: jd for jd in _active_job_definitions(deployment)}
    assert definitions[f"{NAME}-worker"]["schedulingPriority"] == 1

    outputs(deployment.account, refresh=True)  # what submit reads, as after any apply
    submitter = Submitter(deployment.account, journal_dir=tmp_path)
    worker = submitter.submit(deployed_job(deployment.account, "worker"), SubmitRequest("worker"))[0]
    report = submitter.submit(
        deployed_job(deployment.account, "report"), SubmitRequest("report", share="nightly", priority=7)
    )[0]

    described = {
        job["jobId"]: job
        for job in deployment.client("batch").describe_jobs(jobs=[worker.job_id, report.job_id])["jobs"]
    }
    assert described[worker.job_id]["shareIdentifier"] == "nightly"  # the job's declared default
    assert (described[report.job_id]["shareIdentifier"], described[report.job_id]["schedulingPriority"]) == (
        "nightly",
        7,
    )
    with pytest.raises(UserError, match=r"^share: queue .* has a fair-share scheduling policy"):
        submitter.submit(deployed_job(deployment.account, "report"), SubmitRequest("report"))


def test_the_data_bucket_is_private_versioned_tls_only_and_expires_fan_out_items(
    deployment: Deployment,
) -> None:
    s3, bucket = deployment.client("s3"), f"{NAME}-data-{ACCOUNT_ID}"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}
    ]
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert [r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in encryption] == ["AES256"]
    statements = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert [(s["Effect"], s["Action"], s["Condition"]) for s in statements] == [
        ("Deny", "s3:*", {"Bool": {"aws:SecureTransport": "false"}})
    ]
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    fan_out, uploads = rules.pop("expire-fan-out-items"), rules.pop("abort-incomplete-uploads")
    assert rules == {}
    assert fan_out["Filter"] == {"Prefix": "fan-out/"} and fan_out["Status"] == "Enabled"
    assert (
        fan_out["Expiration"]["Days"] == 3 and fan_out["NoncurrentVersionExpiration"]["NoncurrentDays"] == 3
    )
    assert uploads["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}

    # Each job's role reads exactly its own items.
    iam = deployment.client("iam")
    role = next(r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(f"{NAME}-worker-job-"))
    document = iam.get_role_policy(RoleName=role["RoleName"], PolicyName="job")["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    assert document["Statement"] == [
        {
            "Sid": "ReadOwnItems",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{bucket}/fan-out/worker/*"],
        }
    ]


def test_the_declared_build_is_protected_from_the_repository_lifecycle(deployment: Deployment) -> None:
    """ECR: "an image that matches the tagging requirements of a rule cannot be expired by a rule
    with a lower priority"; the declared build matches the first rule, by its exact tag."""
    policy = json.loads(
        deployment.client("ecr").get_lifecycle_policy(repositoryName="worker")["lifecyclePolicyText"]
    )
    assert policy["rules"][0]["rulePriority"] == 1
    assert policy["rules"][0]["selection"] == {
        "tagStatus": "tagged",
        "tagPatternList": ["41"],
        "countType": "imageCountMoreThan",
        "countNumber": 1,
    }


def test_bumping_one_build_changes_only_that_job_definition(deployment: Deployment) -> None:
    deployment.workload["images"]["worker"]["build"] = 42
    changes = deployment.runner.planned_changes(deployment.write())
    # ... and the repository's lifecycle policy, which moves its protection to the new build
    # (the provider replaces a policy; between the two, no policy means nothing expires).
    assert sorted((c.address, c.actions) for c in changes) == [
        ('module.ecr["worker"].aws_ecr_lifecycle_policy.this', ("delete", "create")),
        ('module.job_definitions.aws_batch_job_definition.this["worker"]', ("update",)),
    ]

    deployment.runner.apply(deployment.write())
    worker = [jd for jd in _active_job_definitions(deployment) if jd["jobDefinitionName"] == f"{NAME}-worker"]
    assert [jd["containerProperties"]["image"].rsplit(":", 1)[1] for jd in worker] == ["42"]
    assert deployment.runner.planned_changes(deployment.write()) == []


def test_changing_instance_types_replaces_the_environment_while_its_queue_uses_it(
    deployment: Deployment,
) -> None:
    before = {ce["computeEnvironmentArn"] for ce in _compute_environments(deployment)}
    deployment.workload["compute"]["instance_types"] = ["c5.large", "c5.xlarge"]
    changes = {c.address: c for c in deployment.runner.planned_changes(deployment.write())}
    assert changes['module.batch_environment.aws_batch_compute_environment.this["main"]'].replaces

    deployment.runner.apply(deployment.write())
    environments = _compute_environments(deployment)
    assert len(environments) == 1
    assert environments[0]["computeEnvironmentArn"] not in before
    assert sorted(environments[0]["computeResources"]["instanceTypes"]) == ["c5.large", "c5.xlarge"]
    queue = deployment.client("batch").describe_job_queues()["jobQueues"][0]
    assert [o["computeEnvironment"] for o in queue["computeEnvironmentOrder"]] == [
        environments[0]["computeEnvironmentArn"],
    ]
    assert deployment.runner.planned_changes(deployment.write()) == []


def test_destroy_leaves_nothing_behind(deployment: Deployment) -> None:
    deployment.runner.destroy(deployment.write())

    d = deployment
    assert _compute_environments(d) == []
    assert d.client("batch").describe_job_queues()["jobQueues"] == []
    assert _active_job_definitions(d) == []
    assert d.client("ecr").describe_repositories()["repositories"] == []
    assert d.client("batch").describe_scheduling_policies(arns=[])["schedulingPolicies"] == []
    assert [b["Name"] for b in d.client("s3").list_buckets()["Buckets"] if b["Name"].startswith(NAME)] == []
    assert d.client("logs").describe_log_groups(logGroupNamePrefix="/batchform/")["logGroups"] == []
    assert [
        r["RoleName"] for r in d.client("iam").list_roles()["Roles"] if r["RoleName"].startswith("batchform")
    ] == []
    assert d.client("iam").list_instance_profiles()["InstanceProfiles"] == []
    assert d.client("ec2").describe_launch_templates()["LaunchTemplates"] == []
    groups = d.client("ec2").describe_security_groups()["SecurityGroups"]
    assert [g["GroupName"] for g in groups if g["GroupName"] != "default"] == []
