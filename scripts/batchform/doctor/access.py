"""Who the caller is and what it may do: credentials, the state bucket, Batch's service-linked
role, the deployer's permissions (IAM policy simulation) and the account's quotas."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from botocore.credentials import RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ..sourcesettings import all_queues
from .findings import FAIL, OK, UNKNOWN, WARN, Finding
from .subject import Subject, cannot_tell, error_code

BATCH_ROLE_PATH = "/aws-service-role/batch.amazonaws.com/"
# Where credentials came from, in words (botocore's provider methods).
METHODS = {
    "env": "environment variables",
    "shared-credentials-file": "the shared credentials file",
    "config-file": "the AWS config file",
    "assume-role": "an assumed role",
    "assume-role-with-web-identity": "a web identity (OIDC) role",
    "sso": "IAM Identity Center (SSO)",
    "iam-role": "the instance's role",
    "container-role": "the container's role",
    "custom-process": "a credential process",
    "explicit": "keys given to the session",
}
# What terraform and batchform call, by the resources the deployer policy scopes them to
# (modules/deployer-policy): a sample of each service, simulated with the caller's own policies.
DEPLOYER_ACTIONS = {
    "*": [
        "batch:DescribeComputeEnvironments",
        "batch:DescribeJobQueues",
        "batch:DescribeJobs",
        "batch:RegisterJobDefinition",
        "ecr:GetAuthorizationToken",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
        "logs:DescribeLogGroups",
        "sts:GetCallerIdentity",
    ],
    "batch": ["batch:CreateComputeEnvironment", "batch:CreateJobQueue", "batch:SubmitJob"],
    "ecr": ["ecr:CreateRepository", "ecr:DescribeImages", "ecr:InitiateLayerUpload", "ecr:PutImage"],
    "state": ["s3:GetObject", "s3:PutObject"],
    "iam": ["iam:CreateRole", "iam:PassRole"],
    "logs": ["logs:CreateLogGroup", "logs:GetLogEvents"],
    "schedules": ["scheduler:CreateSchedule", "scheduler:UpdateSchedule"],
    "dead-letter": ["sqs:CreateQueue"],
    "rule": ["events:PutRule", "events:PutTargets"],
    "topic": ["sns:CreateTopic", "sns:Subscribe"],
}


def credentials(subject: Subject) -> Finding:
    account = subject.account
    try:
        identity = subject.identity
    except NoCredentialsError:
        return Finding(
            "credentials",
            FAIL,
            "no credentials found",
            f"log in (aws sso login --profile P) and set accounts.{account.name}.profile in batchform.yaml",
        )
    except (ClientError, BotoCoreError) as exc:
        return Finding(
            "credentials",
            FAIL,
            f"STS refused the credentials ({error_code(exc)})",
            f"renew them (aws sso login, or new keys) for account {account.name}",
        )
    found = identity.get("Account")
    if found != account.account_id:
        return Finding(
            "credentials",
            FAIL,
            f"the credentials are account {found} ({identity.get('Arn')}), not {account.account_id}",
            f"set accounts.{account.name}.profile or role_arn in batchform.yaml to one of account "
            f"{account.account_id}",
        )
    return Finding("credentials", OK, f"{identity.get('Arn')} in {account.region}, {_how(subject)}")


def _how(subject: Subject) -> str:
    account = subject.account
    creds = account.session.get_credentials()
    method = METHODS.get(getattr(creds, "method", ""), getattr(creds, "method", "unknown"))
    how = f"from {method}"
    if account.role_arn:
        how += f", as role {account.role_arn}"
    if account.profile:
        how += f" (profile {account.profile})"
    expiry = getattr(creds, "_expiry_time", None) if isinstance(creds, RefreshableCredentials) else None
    if isinstance(expiry, datetime):
        left = int((expiry - datetime.now(UTC)).total_seconds() // 60)
        how += f"; temporary, {left} min left (renewed as they run out)"
    return how


def state_bucket(subject: Subject) -> Finding:
    account = subject.account
    bucket = account.state_backend["bucket"]
    s3 = account.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return Finding(
                "state bucket",
                WARN,
                f"{bucket} does not exist yet; the first tf.plan or tf.apply creates it (versioned, "
                "encrypted, private)",
                f"invoke tf.plan --account {account.name}",
            )
        return Finding(
            "state bucket", FAIL, f"{bucket} cannot be reached ({error_code(exc)})", _grant(bucket)
        )
    problems = []
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
        problems.append("not versioned")
    try:
        s3.get_bucket_encryption(Bucket=bucket)
    except ClientError:
        problems.append("no default encryption")
    try:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        if not all(block.values()):
            problems.append("public access not fully blocked")
    except ClientError:
        problems.append("public access not blocked")
    if problems:
        return Finding(
            "state bucket",
            FAIL,
            f"{bucket}: {', '.join(problems)}",
            f"turn on versioning, default encryption and all four public access blocks of {bucket}",
        )
    return Finding("state bucket", OK, f"{bucket}: versioned, encrypted, public access blocked")


def _grant(bucket: str) -> str:
    return f"give the deployer s3:ListBucket, s3:GetObject and s3:PutObject on {bucket}"


def service_linked_role(subject: Subject, may_create: str) -> Finding:
    """Batch's service-linked role, found by its path (its name's case differs between tools).
    `may_create`: what the simulation said of iam:CreateServiceLinkedRole."""
    account = subject.account
    fix = "aws iam create-service-linked-role --aws-service-name batch.amazonaws.com"
    try:
        pages = account.client("iam").get_paginator("list_roles").paginate(PathPrefix=BATCH_ROLE_PATH)
        roles = [role for page in pages for role in page["Roles"]]
    except (ClientError, BotoCoreError) as exc:
        return Finding("batch role", UNKNOWN, f"cannot list IAM roles ({error_code(exc)})")
    if roles:
        return Finding("batch role", OK, f"{roles[0]['Arn']}")
    if subject.outputs:
        return Finding(
            "batch role",
            FAIL,
            "AWSServiceRoleForBatch is missing: Batch cannot manage the deployed compute environments",
            fix,
        )
    if may_create == "allowed":
        return Finding("batch role", OK, "absent; the first apply creates it (the deployer may)")
    status = FAIL if may_create in ("implicitDeny", "explicitDeny") else WARN
    return Finding(
        "batch role",
        status,
        f"AWSServiceRoleForBatch is missing and the deployer may create it: {may_create}",
        f"{fix} (once, as an administrator)",
    )


def principal_arn(subject: Subject) -> str | None:
    """The IAM user or role behind the caller, as policy simulation names it (an assumed role's
    ARN leaves the role's path out, so the role is asked for it)."""
    account = subject.account
    try:
        arn = subject.identity["Arn"]
    except (ClientError, BotoCoreError):
        return None
    _arn, _partition, service, _region, _account, resource = arn.split(":", 5)
    kind, _, rest = resource.partition("/")
    if service == "iam" and kind in ("user", "role"):
        return arn
    if service == "sts" and kind == "assumed-role":
        try:
            return account.client("iam").get_role(RoleName=rest.split("/", 1)[0])["Role"]["Arn"]
        except (ClientError, BotoCoreError):
            return None
    return None


def simulate(subject: Subject, actions: dict[str, list[str]]) -> dict[str, str] | str:
    """action => allowed / implicitDeny / explicitDeny, or why the account cannot tell."""
    principal = principal_arn(subject)
    if principal is None:
        return "the caller is no IAM user or role this account can simulate"
    iam = subject.account.client("iam")
    decisions: dict[str, str] = {}
    for scope, names in actions.items():
        try:
            pages = iam.get_paginator("simulate_principal_policy").paginate(
                PolicySourceArn=principal, ActionNames=names, ResourceArns=_resources(subject, scope)
            )
            for page in pages:
                for result in page["EvaluationResults"]:
                    decisions.setdefault(result["EvalActionName"], result["EvalDecision"])
                    if result["EvalDecision"] != "allowed":
                        decisions[result["EvalActionName"]] = result["EvalDecision"]
        except (ClientError, BotoCoreError) as exc:
            if cannot_tell(exc):
                return f"policy simulation is not available to the caller here ({error_code(exc)})"
            raise
    return decisions


def _resources(subject: Subject, scope: str) -> list[str]:
    a, p = subject.account, subject.partition
    prefix = f"{p}:{{}}:{a.region}:{a.account_id}"
    images = sorted(subject.source.get("images") or {}) or ["*"]
    return {
        "*": ["*"],
        "batch": [f"arn:{prefix.format('batch')}:*"],
        "ecr": [f"arn:{prefix.format('ecr')}:repository/{image}" for image in images],
        "state": [f"arn:{p}:s3:::{a.state_backend['bucket']}/{a.state_backend['key']}"],
        "iam": [f"arn:{p}:iam::{a.account_id}:role/*"],
        "logs": [f"arn:{prefix.format('logs')}:log-group:*"],
        "schedules": [f"arn:{prefix.format('scheduler')}:schedule/default/batchform-{a.name}-*"],
        "dead-letter": [f"arn:{prefix.format('sqs')}:batchform-{a.name}-*"],
        "rule": [f"arn:{prefix.format('events')}:rule/batchform-{a.name}-*"],
        "topic": [f"arn:{prefix.format('sns')}:batchform-{a.name}-*"],
    }[scope]


def permissions(decisions: dict[str, str] | str) -> Finding:
    if isinstance(decisions, str):
        return Finding("permissions", UNKNOWN, f"unknown on this account: {decisions}")
    denied = sorted(action for action, decision in decisions.items() if decision != "allowed")
    if denied:
        return Finding(
            "permissions",
            FAIL,
            f"the deployer may not {', '.join(denied)}",
            "attach the deployer policy (modules/deployer-policy) to the deployer's role",
        )
    return Finding("permissions", OK, f"the deployer may make the {len(decisions)} calls simulated")


# Service Quotas codes: vCPUs an account may run at once, by compute type.
QUOTAS = {
    "FARGATE": ("fargate", "L-3032A538", "Fargate On-Demand vCPUs"),
    "FARGATE_SPOT": ("fargate", "L-36FBB829", "Fargate Spot vCPUs"),
    "EC2": ("ec2", "L-1216C47A", "On-Demand Standard instance vCPUs"),
    "SPOT": ("ec2", "L-34B43A08", "Spot Standard instance vCPUs"),
}


def quotas(subject: Subject) -> Iterable[Finding]:
    """Each compute type's vCPU quota against the most the account's environments of it may run."""
    wanted: dict[str, int] = {}
    for ce in subject.compute.values():
        wanted[ce["type"]] = wanted.get(ce["type"], 0) + int(ce["max_vcpus"])
    client = subject.account.client("service-quotas")
    for kind, vcpus in sorted(wanted.items()):
        service, code, name = QUOTAS[kind]
        check = "quota"
        try:
            value = client.get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"]
        except (ClientError, BotoCoreError) as exc:
            if not cannot_tell(exc):
                raise
            yield Finding(
                check, UNKNOWN, f"unknown on this account: {name} ({code}) not readable", subject=kind
            )
            continue
        if value < vcpus:
            yield Finding(
                check,
                WARN,
                f"{name} quota {value:g} is below the {vcpus} vCPUs its compute environments may run: "
                "jobs beyond it wait in RUNNABLE",
                f"ask for {vcpus}: aws service-quotas request-service-quota-increase --service-code "
                f"{service} --quota-code {code} --desired-value {vcpus}",
                kind,
            )
        else:
            yield Finding(
                check, OK, f"{name} quota {value:g} covers the {vcpus} vCPUs declared", subject=kind
            )


# AWS Batch's own limits per account and Region, which no quota request raises.
BATCH_LIMITS = {"job queues": 50, "compute environments": 50}


def batch_limits(subject: Subject) -> Finding:
    """The Region's queues and compute environments, with those the account's source adds,
    against Batch's fixed limits of 50 each."""
    batch = subject.account.client("batch")
    try:
        queues = [
            q for page in batch.get_paginator("describe_job_queues").paginate() for q in page["jobQueues"]
        ]
        environments = [
            ce
            for page in batch.get_paginator("describe_compute_environments").paginate()
            for ce in page["computeEnvironments"]
        ]
    except (ClientError, BotoCoreError) as exc:
        return Finding("batch limits", UNKNOWN, f"cannot list the Region's queues ({error_code(exc)})")
    ours = 0 if subject.outputs else 1  # before the first apply its queues and environments are still to come
    wanted = {
        "job queues": len(queues) + ours * len(all_queues(subject.source)),
        "compute environments": len(environments) + ours * len(subject.compute),
    }
    over = [f"{count} {what}" for what, count in wanted.items() if count > BATCH_LIMITS[what]]
    if over:
        return Finding(
            "batch limits",
            FAIL,
            f"{' and '.join(over)} in {subject.account.region}, over Batch's limit of 50 each",
            "delete unused queues or compute environments in the Region, or share them between jobs",
        )
    counts = ", ".join(f"{count} of {BATCH_LIMITS[what]} {what}" for what, count in wanted.items())
    return Finding("batch limits", OK, counts)
