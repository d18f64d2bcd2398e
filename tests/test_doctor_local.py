"""`doctor` on the local stack: all ok (or unknown where the emulator cannot answer) on the
applied local account, and each fault the local stack can make failing with its fix named."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from batchform.accounts import Accounts
from batchform.doctor import access, deployed, network, trial
from batchform.doctor.findings import FAIL, OK, UNKNOWN, WIDTH
from batchform.doctor.subject import Subject
from batchform.releases import Releases
from conftest import private_account_config

pytestmark = [pytest.mark.stack, pytest.mark.terraform]

ROOT = Path(__file__).resolve().parent.parent
# What the emulator cannot answer, and so says "unknown" of: never ok.
UNANSWERED = {"permissions", "quota"}


def _doctor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "batchform", "doctor", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_applied_local_account_is_ready_with_unknown_only_where_the_emulator_cannot_answer(
    demo_run,  # noqa: ANN001
) -> None:
    """Every check, then `--run`: the hello job passes every stage, and nothing else changes."""
    before = Releases().load("local")
    shown = _doctor("--account", "local", "--run", "--json")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert Releases().load("local") == before  # the source, and so what terraform would apply
    report = json.loads(shown.stdout)
    assert report["status"] == OK
    [account] = report["accounts"]
    checks = account["checks"]
    assert {c["check"] for c in checks if c["status"] != OK} == UNANSWERED
    assert {c["status"] for c in checks if c["check"] in UNANSWERED} == {UNKNOWN}
    assert {"credentials", "state bucket", "network", "batch role", "registry", "image", "queue"} <= {
        c["check"] for c in checks
    }
    assert all(c["status"] == OK for c in checks if c["check"] in ("network", "image", "definition"))
    stages = [(c["subject"], c["status"]) for c in checks if c["check"] == "run"]
    assert stages == [(stage, OK) for stage in trial.STAGES]
    submitted = next(c for c in checks if c["check"] == "run" and c["subject"] == "submitted")
    assert submitted["found"].startswith("hello as ")

    human = _doctor("--account", "local")
    assert human.returncode == 0
    assert human.stdout.splitlines()[0] == f"account local ({account['account_id']}, {account['region']}): ok"
    assert all(len(line) <= WIDTH for line in human.stdout.splitlines())
    assert "checking network" in human.stderr  # progress, apart from the report


def test_a_subnet_with_no_route_out_fails_naming_the_route_or_endpoints_to_add(local_account) -> None:  # noqa: ANN001
    ec2 = local_account.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.90.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.90.1.0/24")["Subnet"]["SubnetId"]
    try:
        isolated = replace(
            local_account, network={"vpc_id": vpc, "subnet_ids": [subnet], "assign_public_ip": False}
        )
        [found] = network.routes(Subject(isolated, {}, None))
        assert found.status == FAIL and found.subject.startswith(subnet)
        assert "no route to ecr.api, ecr.dkr, s3, logs" in found.found
        assert "NAT gateway" in found.fix
    finally:
        ec2.delete_subnet(SubnetId=subnet)
        ec2.delete_vpc(VpcId=vpc)


def test_a_missing_service_linked_role_fails_with_the_command_that_creates_it(local_stack) -> None:  # noqa: ANN001
    """An emulator account no compute environment was ever made in has no such role."""
    fresh = Accounts({"accounts": {"fresh": private_account_config()}}).get("fresh")
    found = access.service_linked_role(Subject(fresh, {}, {"job_queue_arns": {}}), "unknown on this account")
    assert found.status == FAIL
    assert found.fix == "aws iam create-service-linked-role --aws-service-name batch.amazonaws.com"


def test_the_deployers_permissions_are_unknown_where_the_emulator_cannot_simulate_never_ok(
    local_account,  # noqa: ANN001
) -> None:
    subject = Subject(local_account, Releases().load("local"), None)
    found = access.permissions(access.simulate(subject, access.DEPLOYER_ACTIONS))
    assert found.status == UNKNOWN and found.found.startswith("unknown on this account")


def test_a_declared_build_missing_from_the_registry_fails_with_push_and_promote(
    demo_run, local_account
) -> None:  # noqa: ANN001
    source = {**Releases().load("local"), "images": {"hello": {"build": 9999}}}
    [login, hello] = deployed.registry(Subject(local_account, source, None))
    assert login.status == OK
    assert (hello.status, hello.subject) == (FAIL, "hello")
    assert "build 9999 is declared but not in local's registry" in hello.found
    assert "invoke build --image hello --account local push --image hello --account local" in hello.fix
    assert "invoke promote hello" in hello.fix


def test_a_job_asking_more_than_its_queue_offers_is_reported_stuck_with_the_cancel_to_type(
    demo_run,  # noqa: ANN001
    local_account,  # noqa: ANN001
) -> None:
    subject = Subject.of(local_account, Releases().load("local"))
    outputs = subject.outputs or {}
    batch = local_account.client("batch")
    job_id = batch.submit_job(  # straight to AWS: batchform's submit refuses it before any call
        jobName="doctor-too-large",
        jobQueue=outputs["job_queue_arns"]["default"],
        jobDefinition=outputs["job_definition_arn_prefixes"]["hello"],
        containerOverrides={
            "resourceRequirements": [{"type": "VCPU", "value": "8"}, {"type": "MEMORY", "value": "16384"}]
        },
    )["jobId"]
    try:
        deadline = time.monotonic() + 30
        while (
            batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] != "RUNNABLE"
            and time.monotonic() < deadline
        ):
            time.sleep(0.5)
        _findings, offered = deployed.environments_and_queues(subject)
        later = time.time() + deployed.STUCK_AFTER + 60  # as a doctor run minutes from now sees it
        stuck = [f for f in deployed.stuck_jobs(subject, offered, now=later) if job_id in f.found]
        [found] = stuck
        assert (found.status, found.subject) == (FAIL, "default")
        assert "asks for 8 vCPU and 16384 MiB, more than any compute environment of its queue" in found.found
        assert found.fix.startswith(f"invoke jobs.cancel {job_id} --account local")
    finally:
        batch.cancel_job(jobId=job_id, reason="test over")
