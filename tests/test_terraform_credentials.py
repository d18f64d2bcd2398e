"""terraform gets an account's base credentials and assumes its role itself, so the session renews.

AWS-FIDELITY: "Assumed-role credentials handed to terraform as environment variables expire (1 h by
default, and botocore refreshes only near expiry): a long apply (compute environment create/delete
waits) can end in ExpiredToken. The provider's own `assume_role` block, or a profile with `role_arn`,
renews."

So terraform's environment holds the base credentials (a profile by name, the environment's keys, or
the emulator's dummy ones) and no role session; the role is a variable (provider `assume_role`) and a
backend setting. The guard stays: terraform refuses an account other than the declared one, whatever
the role resolves to.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from batchform.accounts import Account, Accounts
from batchform.errors import UserError
from batchform.settings import Paths
from batchform.terraform import TerraformRunner
from conftest import refused_plans

ROLE = "arn:aws:iam::111111111111:role/batchform-deployer"
WORKLOAD = {
    "compute": {"type": "FARGATE", "max_vcpus": 4},
    "force_delete_repositories": True,
    "images": {"hello": {"build": 1}},
    "jobs": {"hello": {"image": "hello", "vcpus": 0.25, "memory": 512}},
}
CREDENTIAL_VARIABLES = ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def recorded_environments(monkeypatch: pytest.MonkeyPatch, runner: TerraformRunner) -> list[dict[str, str]]:
    """Every environment the runner hands a terraform process, from now on (a list that fills)."""
    handed: list[dict[str, str]] = []
    popen = subprocess.Popen

    def recording_popen(*args: Any, **kwargs: Any) -> subprocess.Popen:
        if (kwargs.get("env") or {}).get("TF_DATA_DIR") == str(runner.data_dir):
            handed.append(kwargs["env"])
        return popen(*args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    return handed


def _account(**settings: Any) -> Account:
    return Accounts({"accounts": {"dev": {"account_id": "111111111111", **settings}}}).get("dev")


def _runner(account: Account, tmp_path: Path) -> TerraformRunner:
    (tmp_path / "terraform").mkdir(exist_ok=True)
    return TerraformRunner(account, echo=lambda _line: None, p=Paths(tmp_path, tmp_path / ".batchform"))


@pytest.fixture
def no_user_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An AWS config of the test's own, and no credentials in the environment."""
    for key in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(key, raising=False)
    config = tmp_path / "aws-config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return config


def test_a_profile_reaches_terraform_by_name_with_the_role_to_assume_and_no_keys(
    no_user_credentials: Path, tmp_path: Path
) -> None:
    no_user_credentials.write_text(
        "[profile dev-admin]\naws_access_key_id = AKIAEXAMPLEBASEKEY00\naws_secret_access_key = base-secret\n"
    )
    runner = _runner(_account(profile="dev-admin", role_arn=ROLE), tmp_path)

    env = runner.env()  # no AWS call: the role is assumed by terraform, not here
    assert {key: env.get(key) for key in CREDENTIAL_VARIABLES} == {
        "AWS_PROFILE": "dev-admin",
        "AWS_ACCESS_KEY_ID": None,
        "AWS_SECRET_ACCESS_KEY": None,
        "AWS_SESSION_TOKEN": None,
    }
    runner._write_inputs()  # noqa: SLF001 - the files terraform reads
    assert json.loads(runner.account_var_file.read_text())["assume_role_arn"] == ROLE
    backend = runner.backend_file.read_text()
    assert f'assume_role = {{\n  role_arn = "{ROLE}"\n  session_name = "batchform"\n}}' in backend
    assert "base-secret" not in backend + runner.account_var_file.read_text()


def test_keys_in_the_environment_reach_terraform_as_they_are_and_a_shared_config_is_left_to_it(
    no_user_credentials: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEBASEKEY00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "base-secret")
    env = _runner(_account(role_arn=ROLE), tmp_path).env()
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_SESSION_TOKEN")) == (
        "AKIAEXAMPLEBASEKEY00",
        "base-secret",
        None,
    )

    # Credentials terraform finds (and renews) itself, through the same chain as boto3: nothing
    # is frozen into its environment.
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    (tmp_path / "aws-credentials").write_text(
        "[default]\naws_access_key_id = AKIAEXAMPLEBASEKEY00\naws_secret_access_key = base-secret\n"
    )
    env = _runner(_account(role_arn=ROLE), tmp_path).env()
    assert [key for key in CREDENTIAL_VARIABLES if key in env] == []


@pytest.mark.terraform
def test_an_assume_role_arn_that_is_no_role_arn_is_refused_at_plan_time(
    schema_env: dict[str, str], root_copy: Path
) -> None:
    cases = {"user-arn": {"assume_role_arn": "arn:aws:iam::123456789012:user/me"}}
    output = refused_plans(schema_env, root_copy, cases)["user-arn"]
    assert "assume_role_arn must be an IAM role ARN" in output


@pytest.mark.stack
@pytest.mark.terraform
def test_local_b_plans_with_terraform_assuming_its_role_and_no_role_session_in_its_environment(
    local_stack, terraform_binary: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = Accounts().get("local-b")
    runner = TerraformRunner(account, echo=lambda _line: None)
    handed = recorded_environments(monkeypatch, runner)
    workload = tmp_path / "workload.tfvars.json"
    workload.write_text(json.dumps(WORKLOAD))

    result = runner.plan([workload], capture=True)

    assert result.changes and result.summary.startswith("Plan: "), result
    assert handed, "terraform was not run"
    assert [env.get("AWS_SESSION_TOKEN") for env in handed] == [None] * len(handed)
    base = account.base_session.get_credentials().get_frozen_credentials()
    assert {env["AWS_ACCESS_KEY_ID"] for env in handed} == {base.access_key}
    # The base credentials alone are another account: the plan passed the guard (allowed_account_ids
    # = local-b's) only because terraform assumed local-b's role with them.
    sts = account.base_session.client("sts", endpoint_url=account.endpoints.aws)
    assert sts.get_caller_identity()["Account"] != account.account_id


@pytest.mark.stack
@pytest.mark.terraform
def test_a_role_that_resolves_to_another_account_than_declared_is_refused_by_terraform(
    local_stack, terraform_binary: str, tmp_path: Path
) -> None:
    declared, other = (f"{random.randint(10**11, 10**12 - 1)}" for _ in range(2))
    account = Accounts(
        {
            "accounts": {
                "mixed": {
                    "account_id": declared,
                    "endpoints": "local-stack",
                    "role_arn": f"arn:aws:iam::{other}:role/batchform-deployer",
                }
            }
        }
    ).get("mixed")
    runner = TerraformRunner(account, echo=lambda _line: None)
    workload = tmp_path / "workload.tfvars.json"
    workload.write_text(json.dumps(WORKLOAD))
    try:
        with pytest.raises(UserError, match=f"AWS account ID not allowed: {other}"):
            runner.plan([workload], capture=True)
        assert account.client("batch").describe_job_queues()["jobQueues"] == []
    finally:
        shutil.rmtree(runner.data_dir, ignore_errors=True)
