"""The root configuration is formatted, valid, and refuses bad variables at plan time."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import refused_plans

ROOT = Path(__file__).resolve().parent.parent
TF_DIR = ROOT / "terraform"

pytestmark = pytest.mark.terraform

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_root_configuration_is_formatted(terraform_binary: str) -> None:
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", str(TF_DIR)], capture_output=True, text=True
    )
    assert result.returncode == 0, f"not formatted: {result.stdout}"


def test_root_configuration_validates(schema_env: dict[str, str], root_copy: Path) -> None:
    result = subprocess.run(
        ["terraform", "validate", "-no-color"],
        cwd=root_copy,
        env=schema_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


REFUSALS = [
    ({"images": {"hello": {"build": 0}}}, "must be a positive whole number"),
    ({"images": {"hello": {"build": 1.5}}}, "must be a positive whole number"),
    ({"images": {"hello": {"build": "latest"}}}, "a number is required"),
    ({"jobs": {"x": {"image": "hello", "vcpus": -1}}}, "vcpus must be positive"),
    (
        {"jobs": {"x": {"image": "hello", "retry_attempts": 11}}},
        "retry_attempts must be a whole number from 1 to 10",
    ),
    (
        {"jobs": {"x": {"image": "hello", "retry_attempts": 0}}},
        "retry_attempts must be a whole number from 1 to 10",
    ),
    ({"jobs": {"x": {"image": "hello", "timeout_seconds": 59}}}, "timeout_seconds must be at least 60"),
    ({"log_retention_days": 10}, "log_retention_days must be one CloudWatch Logs accepts"),
    ({"compute": {"type": "GPU"}}, "compute.type must be one of"),
    ({"compute": {"max_vcpus": -2}}, "compute.max_vcpus must be a positive whole number"),
    ({"jobs": {"x": {"image": "missing"}}}, "must name an entry of images"),
    ({"account_id": "12345"}, "account_id must be 12 digits"),
    (
        {"network": {"assign_public_ip": False}},
        "network.assign_public_ip cannot be false in the default VPC",
    ),
    ({"queue": {"fair_share": {"shares": {"team-a": 1}}}}, "queue.fair_share.shares key must be a share"),
    ({"queue": {"fair_share": {"shares": {"a": 0}}}}, "shares weight factor must be between 0.0001"),
    (
        {"queue": {"fair_share": {"compute_reservation": 100}}},
        "queue.fair_share.compute_reservation must",
    ),
    (
        {"queue": {"fair_share": {"share_decay_seconds": 1.5}}},
        "queue.fair_share.share_decay_seconds must",
    ),
    (
        {"jobs": {"x": {"image": "hello", "share_identifier": "a"}}},
        "share_identifier needs a fair_share policy on the job's queue",
    ),
    (
        {"queue": {"fair_share": {}}, "jobs": {"x": {"image": "hello", "share_identifier": "a-b"}}},
        "share_identifier must be 1-255 letters, digits and underscores",
    ),
    ({"kms": {"ecr": "alias/images"}}, "kms.ecr must be a KMS key ARN"),
    (
        {"kms": {"logs": "arn:aws:kms:us-east-1:123456789012:alias/logs"}},
        "kms.logs must be a KMS key ARN",
    ),
    ({"kms": {"data_bucket": "arn:aws:kms:us-east-1:12:key/x"}}, "kms.data_bucket must be a KMS key ARN"),
    ({"kms": {"secrets": ["alias/s"]}}, "kms.secrets entry must be a KMS key ARN"),
    ({"kms": {"ecr": KEY.replace("us-east-1", "eu-west-1")}}, "must be keys in the account's region"),
    (
        {"data_bucket": {"fan_out_expiry_days": 0}},
        "data_bucket.fan_out_expiry_days must be a whole number",
    ),
]


@pytest.fixture(scope="module")
def refusals(schema_env: dict[str, str], root_copy: Path) -> dict[str, str]:
    """Every case of REFUSALS planned at once (one terraform run): what each plan said."""
    return refused_plans(
        schema_env, root_copy, {f"case{i}": variables for i, (variables, _) in enumerate(REFUSALS)}
    )


@pytest.mark.parametrize(("variables", "message"), REFUSALS)
def test_bad_variables_are_refused_at_plan_time(
    refusals: dict[str, str], variables: dict, message: str
) -> None:
    assert message in refusals[f"case{REFUSALS.index((variables, message))}"]


def test_the_root_terraform_tests_pass(schema_env: dict[str, str], root_copy: Path) -> None:
    """terraform/tests: what an account's variables make of its resources (mocked provider)."""
    shutil.copytree(TF_DIR / "tests", root_copy / "tests", dirs_exist_ok=True)
    result = subprocess.run(
        ["terraform", "test", "-no-color"],
        cwd=root_copy,
        env=schema_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0 and " 0 failed" in result.stdout, result.stdout + result.stderr


def test_inits_started_at_once_from_a_fresh_home_all_install_the_provider(
    terraform_binary: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Concurrent inits (parallel tests, two accounts applied at once) must not race on a cache."""
    from batchform.terraform import cli_config_file

    monkeypatch.setenv("BATCHFORM_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TF_CLI_CONFIG_FILE", raising=False)
    rc = cli_config_file()
    config = 'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n  }\n}\n'
    env = dict(os.environ, TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    env.pop("TF_DATA_DIR", None)
    if rc is not None:
        env["TF_CLI_CONFIG_FILE"] = str(rc)
    inits = []
    for number in range(6):
        directory = tmp_path / f"root{number}"
        directory.mkdir()
        (directory / "main.tf").write_text(config)
        inits.append(
            subprocess.Popen(
                [terraform_binary, "init", "-backend=false", "-input=false", "-no-color"],
                cwd=directory,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [init.communicate(timeout=300)[0] for init in inits]
    failed = [output for init, output in zip(inits, outputs, strict=True) if init.returncode != 0]
    assert not failed, failed[0]
