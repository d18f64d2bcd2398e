"""Accounts are declared once, selected by name, alias or `all`, and reached with injected endpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
from batchform.accounts import Accounts
from batchform.errors import ConfigError, UserError
from batchform.settings import LocalStackSettings

STACK = LocalStackSettings(data_dir=Path("/nonexistent"), emulator_port=4600, registry_port=5600)

DEV = {"account_id": "111111111111", "region": "eu-west-1", "aliases": ["d"], "profile": "dev-admin"}


def accounts(**declared: dict) -> Accounts:
    return Accounts({"accounts": declared}, stack=STACK)


def test_local_is_built_in_and_points_every_call_at_the_local_stack() -> None:
    local = accounts().get("local")
    assert local.account_id == "123456789012"
    assert local.endpoints.aws == "http://127.0.0.1:4600"
    assert local.client("s3").meta.endpoint_url == "http://127.0.0.1:4600"


def test_a_real_account_uses_public_endpoints() -> None:
    dev = accounts(dev=DEV).get("dev")
    assert dev.endpoints.aws is None
    assert dev.endpoints.registry is None  # the registry is what ECR's authorization token names
    assert dev.state_backend["bucket"] == "batchform-tfstate-111111111111-eu-west-1"
    assert dev.state_backend["use_lockfile"] is True


def test_aliases_all_and_default_select_accounts() -> None:
    declared = accounts(dev=DEV)
    assert [a.name for a in declared.select(["d"])] == ["dev"]
    assert [a.name for a in declared.select(["all"])] == ["local", "dev"]
    assert [a.name for a in declared.select(None)] == ["local"]
    assert [a.name for a in declared.select(["dev", "d", "local"])] == ["dev", "local"]


def test_unknown_account_names_the_known_ones() -> None:
    with pytest.raises(UserError, match=r"unknown account 'prod' \(known: local, dev\)"):
        accounts(dev=DEV).select(["prod"])


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"region": "us-east-1"}, r"accounts\.bad\.account_id: required"),
        ({"account_id": "123"}, r"accounts\.bad\.account_id: must be 12 digits"),
        ({"account_id": 111111111111}, r"accounts\.bad\.account_id: must be 12 digits"),
        ({"account_id": "111111111111", "regoin": "x"}, r"accounts\.bad\.regoin: unknown key"),
        ({"account_id": "111111111111", "region": "Europe"}, r"accounts\.bad\.region: must be an AWS region"),
        (
            {"account_id": "111111111111", "role_arn": "admin"},
            r"accounts\.bad\.role_arn: must be an IAM role ARN",
        ),
        ({"account_id": "111111111111", "sizing": {"max_vcpus": -1}}, r"accounts\.bad\.sizing\.max_vcpus"),
        (
            {"account_id": "111111111111", "sizing": {"compute_type": "GPU"}},
            r"accounts\.bad\.sizing\.compute_type",
        ),
        (
            {"account_id": "111111111111", "network": {"vpc": "x"}},
            r"accounts\.bad\.network\.vpc: unknown key",
        ),
        ({"account_id": "111111111111", "endpoints": "nowhere"}, r"accounts\.bad\.endpoints"),
        (
            {"account_id": "111111111111", "network": {"assign_public_ip": "yes"}},
            r"accounts\.bad\.network\.assign_public_ip: must be true or false",
        ),
        (
            {"account_id": "111111111111", "network": {"assign_public_ip": False}},
            r"accounts\.bad\.network\.assign_public_ip: cannot be false in the default VPC",
        ),
        (
            {
                "account_id": "111111111111",
                "network": {"subnet_ids": ["subnet-0a1b2c3d"], "assign_public_ip": False},
            },
            r"accounts\.bad\.network\.assign_public_ip: cannot be false in the default VPC",
        ),
    ],
)
def test_invalid_account_settings_name_the_field(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        accounts(bad=raw)


def test_a_fargate_network_without_a_public_ip_is_allowed_only_in_a_declared_vpc() -> None:
    # Batch NetworkConfiguration: a task needs a NAT gateway or a public IP to pull its image,
    # and assignPublicIp defaults to DISABLED. Declared subnets come with their own routes.
    private = {"vpc_id": "vpc-0a1b2c3d", "subnet_ids": ["subnet-0a1b2c3d"], "assign_public_ip": False}
    declared = accounts(dev={**DEV, "network": private}, prod={**DEV, "aliases": ["p"]})
    assert declared.get("dev").network == private
    assert declared.get("prod").network == {}  # terraform turns the public IP on for the default VPC


def test_an_alias_cannot_shadow_another_account() -> None:
    with pytest.raises(ConfigError, match="'local' already names account local"):
        accounts(dev={**DEV, "aliases": ["local"]})


ROLE = "arn:aws:iam::333333333333:role/batchform-deployer"
CI_ROLES = {
    "deploy_role_arn": "arn:aws:iam::111111111111:role/github-actions-batchform-deploy",
    "plan_role_arn": "arn:aws:iam::111111111111:role/github-actions-batchform-plan",
}


def test_the_listing_says_which_accounts_are_on_aws_the_first_of_them_and_the_roles_ci_assumes() -> None:
    emulated = {"account_id": "222222222222", "endpoints": {"aws": "http://127.0.0.1:9", "registry": "r:1"}}
    listing = accounts(
        emu=emulated, dev={**DEV, "ci": CI_ROLES}, prod={"account_id": "333333333333", "role_arn": ROLE}
    ).describe()
    assert (listing["default"], listing["first_real"]) == ("local", "dev")
    by_name = {entry["name"]: entry for entry in listing["accounts"]}
    assert list(by_name) == ["local", "emu", "dev", "prod"]  # as declared, the built-in account first
    assert {name: entry["real"] for name, entry in by_name.items()} == {
        "local": False,
        "emu": False,
        "dev": True,
        "prod": True,
    }
    assert by_name["local"]["endpoints"] == "local-stack"
    assert by_name["emu"]["endpoints"] == {"aws": "http://127.0.0.1:9", "registry": "r:1"}
    assert by_name["dev"] == {
        "name": "dev",
        "aliases": ["d"],
        "account_id": "111111111111",
        "region": "eu-west-1",
        "real": True,
        "endpoints": None,
        "profile": "dev-admin",
        "role_arn": None,
        "ci": CI_ROLES,
        "default": False,
        "first_real": True,
    }
    assert by_name["prod"]["ci"] == {"deploy_role_arn": None, "plan_role_arn": None}
    assert [entry["name"] for entry in listing["accounts"] if entry["default"]] == ["local"]
    assert accounts().describe()["first_real"] is None


@pytest.mark.parametrize(
    ("ci", "message"),
    [
        ("arn:aws:iam::111111111111:role/x", r"accounts\.bad\.ci: must be a mapping"),
        ({"deploy_role": "x"}, r"accounts\.bad\.ci\.deploy_role: unknown key"),
        ({"plan_role_arn": "github-plan"}, r"accounts\.bad\.ci\.plan_role_arn: must be an IAM role ARN"),
        (
            {"deploy_role_arn": "arn:aws:iam::999999999999:role/deploy"},
            r"accounts\.bad\.ci\.deploy_role_arn: must be a role of the account itself \(111111111111\)",
        ),
    ],
)
def test_ci_roles_must_be_role_arns_of_the_account_itself(ci: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        accounts(bad={"account_id": "111111111111", "ci": ci})


def test_an_aws_profile_named_by_the_environment_replaces_each_aws_accounts_declared_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # What aws-actions/configure-aws-credentials writes with `aws-profile:`, one profile per account.
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "".join(
            f"[batchform-{name}]\naws_access_key_id = ASIA{name.upper()}\naws_secret_access_key = s\n"
            "aws_session_token = t\n"
            for name in ("dev", "prod")
        )
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    declared = {
        "dev": {**DEV, "role_arn": "arn:aws:iam::111111111111:role/deployer"},
        "prod": {"account_id": "333333333333"},
    }
    monkeypatch.setenv("BATCHFORM_AWS_PROFILE", "batchform-{account}")
    found = accounts(**declared)
    dev, prod, local = found.get("dev"), found.get("prod"), found.get("local")
    assert (dev.profile, dev.role_arn) == ("batchform-dev", None)  # the profile holds the role's session
    assert (prod.profile, prod.role_arn) == ("batchform-prod", None)
    assert (local.profile, local.endpoints.emulator_credentials) == (None, True)  # the emulator's own
    assert dev.credentials_env(assume_role=False) == {
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_PROFILE": "batchform-dev",
    }
    assert prod.session.get_credentials().access_key == "ASIAPROD"
    monkeypatch.setenv("BATCHFORM_AWS_PROFILE", "ci/{account}")
    with pytest.raises(ConfigError, match=r"BATCHFORM_AWS_PROFILE 'ci/\{account\}' gives accounts\.dev"):
        accounts(**declared)
    monkeypatch.delenv("BATCHFORM_AWS_PROFILE")
    assert accounts(**declared).get("dev").profile == "dev-admin"


@pytest.mark.stack
def test_assumed_role_reaches_the_second_local_account(local_stack) -> None:  # noqa: ANN001
    declared = Accounts()
    local_b = declared.get("local-b")
    identity = local_b.client("sts").get_caller_identity()
    assert identity["Account"] == "210987654321"
    assert declared.get("local").client("sts").get_caller_identity()["Account"] == "123456789012"
