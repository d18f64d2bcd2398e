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


@pytest.mark.stack
def test_assumed_role_reaches_the_second_local_account(local_stack) -> None:  # noqa: ANN001
    declared = Accounts()
    local_b = declared.get("local-b")
    identity = local_b.client("sts").get_caller_identity()
    assert identity["Account"] == "210987654321"
    assert declared.get("local").client("sts").get_caller_identity()["Account"] == "123456789012"
