"""`doctor`: each check's ok and its fail with the fix named, on moto in this process (the local
stack's own run of every check is in test_doctor_local.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from batchform.accounts import Account, Accounts
from batchform.doctor import access, deployed, network
from batchform.doctor.findings import FAIL, OK, UNKNOWN, WARN, WIDTH, AccountReport, Finding, as_json, lines
from batchform.doctor.subject import Subject
from botocore.stub import Stubber
from moto import mock_aws

REGION = "us-east-1"
MOTO_ACCOUNT = "123456789012"  # the account moto's credentials are


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


def _account(account_id: str = MOTO_ACCOUNT, **extra: Any) -> Account:
    return Accounts({"accounts": {"dev": {"account_id": account_id, "region": REGION, **extra}}}).get("dev")


def _subject(
    account: Account | None = None, source: dict | None = None, outputs: dict | None = None
) -> Subject:
    return Subject(account or _account(), source or {}, outputs)


def _statuses(findings: list[Finding]) -> set[str]:
    return {finding.status for finding in findings}


# ---- credentials ----------------------------------------------------------------------------


def test_credentials_of_the_declared_account_are_ok_and_say_where_they_came_from(aws) -> None:
    found = access.credentials(_subject())
    assert found.status == OK
    assert "environment variables" in found.found and REGION in found.found


def test_credentials_of_another_account_fail_naming_both_accounts_and_where_to_choose(aws) -> None:
    found = access.credentials(_subject(_account("111111111111")))
    assert found.status == FAIL
    assert MOTO_ACCOUNT in found.found and "111111111111" in found.found
    assert "accounts.dev.profile or role_arn" in found.fix


# ---- network ----------------------------------------------------------------------------------


def _default_vpc() -> tuple[Any, str, list[str]]:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [
        s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    ]
    return ec2, vpc, subnets


def _main_table(ec2: Any, vpc: str) -> str:
    filters = [{"Name": "vpc-id", "Values": [vpc]}, {"Name": "association.main", "Values": ["true"]}]
    return ec2.describe_route_tables(Filters=filters)["RouteTables"][0]["RouteTableId"]


def test_a_subnet_without_any_route_out_fails_naming_the_endpoints_it_lacks_until_it_has_them(aws) -> None:
    ec2, vpc, subnets = _default_vpc()  # moto's default VPC has no internet gateway
    account = _account(network={"vpc_id": vpc, "subnet_ids": subnets[:1], "assign_public_ip": False})
    [found] = network.routes(_subject(account))
    assert (found.status, found.subject.split()[0]) == (FAIL, subnets[0])
    assert "no route to ecr.api, ecr.dkr, s3, logs" in found.found
    assert "NAT gateway" in found.fix and "VPC endpoints for ecr.api, ecr.dkr, s3, logs" in found.fix

    for service in ("ecr.api", "ecr.dkr", "logs"):
        ec2.create_vpc_endpoint(
            VpcId=vpc,
            ServiceName=f"com.amazonaws.{REGION}.{service}",
            VpcEndpointType="Interface",
            SubnetIds=subnets[:1],
        )
    [found] = network.routes(_subject(account))
    assert (found.status, "no route to s3 " in found.found + " ") == (FAIL, True)  # layers come from S3
    ec2.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName=f"com.amazonaws.{REGION}.s3",
        VpcEndpointType="Gateway",
        RouteTableIds=[_main_table(ec2, vpc)],
    )
    [found] = network.routes(_subject(account))
    assert found.status == OK and "through VPC endpoints" in found.found


def test_jobs_secrets_add_their_service_to_what_a_private_subnet_must_reach(aws) -> None:
    _ec2, vpc, subnets = _default_vpc()
    account = _account(network={"vpc_id": vpc, "subnet_ids": subnets[:1], "assign_public_ip": False})
    reference = f"arn:aws:ssm:{REGION}:{MOTO_ACCOUNT}:parameter/db-password"
    source = {"jobs": {"etl": {"secrets": {"DB_PASSWORD": reference}}}}
    [found] = network.routes(_subject(account, source))
    assert "ecr.api, ecr.dkr, s3, logs, ssm" in found.found


def test_a_public_subnet_is_ok_with_public_ips_and_fails_for_fargate_without_them(aws) -> None:
    ec2, vpc, subnets = _default_vpc()
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc)
    ec2.create_route(RouteTableId=_main_table(ec2, vpc), DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway)

    public = _account(network={"vpc_id": vpc, "subnet_ids": subnets[:1], "assign_public_ip": True})
    assert _statuses(network.routes(_subject(public))) == {OK}
    private_ips = _account(network={"vpc_id": vpc, "subnet_ids": subnets[:1], "assign_public_ip": False})
    [found] = network.routes(_subject(private_ips))
    assert found.status == FAIL and "Fargate jobs get no public IP" in found.found
    assert "assign_public_ip: true" in found.fix
    ec2_only = _subject(private_ips, {"compute": {"type": "EC2"}})  # instances take the subnet's public IPs
    assert _statuses(network.routes(ec2_only)) == {OK}


def test_a_nat_gateway_route_is_enough(aws) -> None:
    ec2, vpc, subnets = _default_vpc()
    nat = ec2.create_nat_gateway(SubnetId=subnets[1])["NatGateway"]["NatGatewayId"]
    ec2.create_route(RouteTableId=_main_table(ec2, vpc), DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    account = _account(network={"vpc_id": vpc, "subnet_ids": subnets[:1], "assign_public_ip": False})
    [found] = network.routes(_subject(account))
    assert found.status == OK and "NAT gateway" in found.found


def test_declared_subnets_outside_the_vpc_fail(aws) -> None:
    _ec2, vpc, _subnets = _default_vpc()
    account = _account(network={"vpc_id": vpc, "subnet_ids": ["subnet-0123456789abcdef0"]})
    [found] = network.routes(_subject(account))
    assert found.status == FAIL and "subnet-0123456789abcdef0" in found.found


# ---- Batch's service-linked role and the deployer's permissions ------------------------------


def test_a_missing_service_linked_role_fails_once_environments_are_deployed_and_names_the_command(
    aws,
) -> None:
    deployed_outputs = {"job_queue_arns": {}}
    found = access.service_linked_role(_subject(outputs=deployed_outputs), "unknown on this account")
    assert found.status == FAIL
    assert found.fix == "aws iam create-service-linked-role --aws-service-name batch.amazonaws.com"
    before_apply = access.service_linked_role(_subject(), "unknown on this account")
    assert before_apply.status == WARN  # the first apply may create it: nobody can tell here
    assert access.service_linked_role(_subject(), "implicitDeny").status == FAIL
    assert access.service_linked_role(_subject(), "allowed").status == OK

    boto3.client("iam").create_service_linked_role(AWSServiceName="batch.amazonaws.com")
    found = access.service_linked_role(_subject(outputs=deployed_outputs), "")
    assert found.status == OK and "/aws-service-role/batch.amazonaws.com/" in found.found


def test_a_permission_the_simulation_denies_fails_and_one_it_cannot_simulate_is_unknown() -> None:
    denied = access.permissions({"batch:SubmitJob": "allowed", "iam:PassRole": "implicitDeny"})
    assert denied.status == FAIL and "iam:PassRole" in denied.found and "batch:SubmitJob" not in denied.found
    assert "deployer-policy" in denied.fix
    assert access.permissions({"batch:SubmitJob": "allowed"}).status == OK
    assert access.permissions("policy simulation is not available").status == UNKNOWN


def test_the_simulation_asks_for_the_role_behind_an_assumed_role_with_its_path(aws) -> None:
    iam = boto3.client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    role = iam.create_role(RoleName="deployer", Path="/team/", AssumeRolePolicyDocument=trust)["Role"]
    session = boto3.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="me")["Credentials"]
    subject = _subject()
    subject.account.__dict__["session"] = boto3.Session(
        aws_access_key_id=session["AccessKeyId"],
        aws_secret_access_key=session["SecretAccessKey"],
        aws_session_token=session["SessionToken"],
        region_name=REGION,
    )
    subject.account._clients.clear()  # noqa: SLF001 - clients of the new session
    assert access.principal_arn(subject) == "arn:aws:iam::123456789012:role/team/deployer"


# ---- quotas -------------------------------------------------------------------------------------


def _quota_account(answer: dict | str) -> SimpleNamespace:
    client = boto3.client("service-quotas", region_name=REGION)
    stub = Stubber(client)
    if isinstance(answer, str):
        stub.add_client_error("get_service_quota", service_error_code=answer)
    else:
        stub.add_response("get_service_quota", {"Quota": answer})
    stub.activate()
    return SimpleNamespace(name="dev", region=REGION, client=lambda _service: client)


def test_a_vcpu_quota_below_the_declared_environments_warns_with_the_request_to_make() -> None:
    subject = Subject(_quota_account({"Value": 6.0}), {"compute": {"type": "FARGATE", "max_vcpus": 16}}, None)  # type: ignore[arg-type]
    [found] = access.quotas(subject)
    assert (found.status, found.subject) == (WARN, "FARGATE")
    assert "quota 6 is below the 16 vCPUs" in found.found
    assert "--quota-code L-3032A538 --desired-value 16" in found.fix
    subject = Subject(
        _quota_account({"Value": 4000.0}), {"compute": {"type": "FARGATE", "max_vcpus": 16}}, None
    )  # type: ignore[arg-type]
    assert [f.status for f in access.quotas(subject)] == [OK]


def test_a_quota_the_account_cannot_read_is_unknown_never_ok() -> None:
    subject = Subject(_quota_account("NoSuchResourceException"), {}, None)  # type: ignore[arg-type]
    [found] = access.quotas(subject)
    assert found.status == UNKNOWN and "unknown on this account" in found.found


# ---- the registry ------------------------------------------------------------------------------


def test_a_declared_build_missing_from_the_registry_fails_and_a_missing_repository_names_apply(aws) -> None:
    ecr = boto3.client("ecr", region_name=REGION)
    ecr.create_repository(repositoryName="hello")
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {},
        "layers": [],
    }
    ecr.put_image(repositoryName="hello", imageManifest=json.dumps(manifest), imageTag="1")
    source = {"images": {"hello": {"build": 1}, "absent": {"build": 1}}}
    found = {f.subject: f for f in deployed.registry(_subject(source=source)) if f.check == "image"}
    assert found["hello"].status == OK
    assert found["absent"].status == FAIL and found["absent"].fix == "invoke tf.apply --account dev"

    found = {
        f.subject: f
        for f in deployed.registry(_subject(source={"images": {"hello": {"build": 2}}}))
        if f.check == "image"
    }
    assert found["hello"].status == FAIL
    assert "build 2 is declared but not in dev's registry" in found["hello"].found
    assert "invoke build --image hello --account dev push --image hello --account dev" in found["hello"].fix


# ---- jobs stuck in RUNNABLE ---------------------------------------------------------------------

FARGATE_CE = {
    "computeEnvironmentName": "main",
    "status": "VALID",
    "state": "ENABLED",
    "computeResources": {"type": "FARGATE", "maxvCpus": 4},
}


def _job(vcpus: str, memory: str, **extra: Any) -> dict[str, Any]:
    requirements = [{"type": "VCPU", "value": vcpus}, {"type": "MEMORY", "value": memory}]
    return {
        "jobId": "0b9a6d1e-job",
        "jobName": "big",
        "createdAt": 0,
        "container": {"resourceRequirements": requirements},
        **extra,
    }


def test_a_job_larger_than_any_environment_of_its_queue_can_never_start() -> None:
    reason, never = deployed.runnable_reason(_job("8", "16384"), [FARGATE_CE])
    assert never and "8 vCPU and 16384 MiB, more than any compute environment" in reason
    reason, never = deployed.runnable_reason(_job("1", "1000"), [FARGATE_CE])  # no Fargate size
    assert never
    reason, never = deployed.runnable_reason(_job("1", "2048"), [FARGATE_CE])
    assert not never and "capacity" in reason
    reason, never = deployed.runnable_reason(_job("1", "2048"), [{**FARGATE_CE, "status": "INVALID"}])
    assert never and "VALID and ENABLED" in reason
    reason, _ = deployed.runnable_reason(
        _job("1", "2048", statusReason="CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"), [FARGATE_CE]
    )
    assert reason == "AWS says: CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"


class _Batch:
    """ListJobs and DescribeJobs answering one RUNNABLE job, created `age` seconds before `now`."""

    def __init__(self, job: dict[str, Any]):
        self.job = job

    def get_paginator(self, _operation: str) -> Any:
        summary = {k: self.job[k] for k in ("jobId", "jobName", "createdAt")}
        return SimpleNamespace(paginate=lambda **_kwargs: [{"jobSummaryList": [summary]}])

    def describe_jobs(self, jobs: list[str]) -> dict[str, Any]:
        return {"jobs": [self.job] if self.job["jobId"] in jobs else []}


def test_a_job_stuck_in_runnable_fails_with_its_reason_and_the_cancel_to_type() -> None:
    now = 10_000.0
    job = _job("8", "16384", createdAt=(now - 900) * 1000)
    account = SimpleNamespace(name="dev", client=lambda _service: _Batch(job))
    subject = Subject(account, {}, {"job_queue_arns": {"default": "arn:queue"}})  # type: ignore[arg-type]
    [found] = deployed.stuck_jobs(subject, {"arn:queue": [FARGATE_CE]}, now=now)
    assert (found.status, found.subject) == (FAIL, "default")
    assert "RUNNABLE for 15 min" in found.found and "more than any compute environment" in found.found
    assert found.fix.startswith("invoke jobs.cancel 0b9a6d1e-job --account dev")
    assert "terraform/accounts/dev.yaml" in found.fix

    fresh = _job("8", "16384", createdAt=(now - 60) * 1000)
    subject.account = SimpleNamespace(name="dev", client=lambda _service: _Batch(fresh))  # type: ignore[assignment]
    [found] = deployed.stuck_jobs(subject, {"arn:queue": [FARGATE_CE]}, now=now)
    assert found.status == OK  # a minute is no time to worry


# ---- the report -----------------------------------------------------------------------------------


def test_the_human_report_fits_100_columns_and_json_has_the_documented_shape() -> None:
    long = "arn:aws:iam::123456789012:role/aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch " * 3
    report = AccountReport("dev", MOTO_ACCOUNT, REGION)
    report.findings += [
        Finding("credentials", OK, long),
        Finding("network", FAIL, long, fix=long, subject="subnet-0123456789abcdef0 (us-east-1a)"),
        Finding("quota", UNKNOWN, "unknown on this account", subject="FARGATE"),
    ]
    shown = lines(report)
    assert all(len(line) <= WIDTH for line in shown)
    assert shown[0] == f"account dev ({MOTO_ACCOUNT}, {REGION}): fail"
    assert shown[1].startswith("  ok      credentials  arn:aws:iam::")
    assert any(
        line.startswith("  fail    network      subnet-0123456789abcdef0 (us-east-1a): arn") for line in shown
    )
    assert "  unknown quota        FARGATE: unknown on this account" in shown
    assert any(line.strip().startswith("fix: arn:aws") for line in shown)
    data = as_json([report])
    assert data["status"] == FAIL
    [entry] = data["accounts"]
    assert set(entry) == {"account", "account_id", "region", "status", "checks"}
    assert entry["checks"][1] == {
        "check": "network",
        "status": FAIL,
        "found": long,
        "fix": long,
        "subject": "subnet-0123456789abcdef0 (us-east-1a)",
    }
    json.dumps(data)  # serialisable as it is
    with pytest.raises(ValueError, match="status"):
        Finding("x", "fine", "")


def test_batch_limits_count_the_regions_queues_and_environments_with_those_still_to_come(aws) -> None:
    found = access.batch_limits(
        _subject(source={"queues": {"shared": {}}, "compute_environments": {"spot": {}}})
    )
    assert (found.status, found.found) == (OK, "2 of 50 job queues, 2 of 50 compute environments")
    assert access.batch_limits(_subject(outputs={"job_queue_arns": {}})).found.startswith(
        "0 of 50 job queues"
    )
    many = {f"q{i}": {} for i in range(50)}
    over = access.batch_limits(_subject(source={"queues": many}))
    assert over.status == FAIL and "51 job queues" in over.found
