"""Least privilege and no secrets in the open, proven on the code and on the local stack.

IAM: every policy written in modules/ and terraform/ is read from the HCL (python-hcl2's parse
tree: jsonencode objects, aws_iam_policy_document statements, policy attachments). No action may
hold a wildcard; a statement on `"*"` must list each of its actions, with a reason, in the module
README's "Actions on all resources" table, and an AWS managed policy must be justified in its
"AWS managed policies" table; a row nothing uses any more is stale. The jobs' own statements come
from the account sources and are refused at plan time when an action has a wildcard.

Secrets: jobs take them by reference (SSM parameter or Secrets Manager ARN), which the account
source and terraform both check; a plain variable named like a secret is
refused in a source and in `submit --env`. On the local stack, a real push, and a real plan and
apply, are watched: the registry password and the AWS credentials are in no process's arguments,
no output, no file under BATCHFORM_HOME, no local stack log and no docker client configuration;
the applied job definition takes its secrets by reference and its execution role may read exactly
those.

The Python code keeps bandit's rules (ruff's S) and never runs a shell.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import hcl2
import pytest
import yaml
from batchform import jobs
from batchform.cli.values import parse_env
from batchform.errors import ConfigError, UserError
from batchform.secretnames import is_secret_reference, looks_like_secret
from batchform.settings import LocalStackSettings, Paths
from batchform.sources import validate_source
from batchform.terraform import TerraformRunner, cli_config_file
from conftest import offline_cli, project_releases, refused_plans
from lark import Token, Tree

ROOT = Path(__file__).resolve().parent.parent
MODULES_DIR = ROOT / "modules"
TF_DIR = ROOT / "terraform"
MODULES = sorted(path for path in MODULES_DIR.iterdir() if (path / "versions.tf").is_file())

ALL_RESOURCES_SECTION = "Actions on all resources"
MANAGED_SECTION = "AWS managed policies"
WILDCARD = re.compile(r"[*?]")  # IAM's two wildcards
MANAGED_POLICY = re.compile(r":iam::aws:policy/(.+)$")


# ---- reading the policies a configuration writes -------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """One IAM statement as written: literal actions and resources, or None where computed."""

    where: str
    actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    action_expression: str = ""
    negated: bool = False  # NotAction / NotResource: everything but, never least privilege
    resource_expression: str = ""
    deny: bool = False  # a Deny takes access away (e.g. every s3:* request without TLS): no grant

    @property
    def on_all_resources(self) -> bool:
        if self.resources is not None:
            return "*" in self.resources
        return '"*"' in self.resource_expression  # e.g. concat(["*"], local.more)


@dataclass
class Grants:
    statements: list[Statement] = field(default_factory=list)
    managed: list[tuple[str, str]] = field(default_factory=list)  # (policy name, where)
    unreadable: list[str] = field(default_factory=list)  # policies written as literal JSON text


def _parse_tree(text: str) -> Tree:
    parse = getattr(hcl2, "parses_to_tree", None) or hcl2.parses  # python-hcl2 8, else 7
    return parse(text)


def _subtrees(node: Tree) -> list[Tree]:
    return [child for child in node.children if isinstance(child, Tree)]


def _text(node: Tree | Token) -> str:
    """The source of an expression, tokens joined (enough to name it in a message)."""
    if isinstance(node, Token):
        return str(node)
    return "".join(str(token) for token in node.scan_values(lambda value: isinstance(value, Token)))


def _unwrap(node: Tree) -> Tree:
    while isinstance(node, Tree) and node.data == "expr_term" and len(_subtrees(node)) == 1:
        node = _subtrees(node)[0]
    return node


def _string(node: Tree) -> str | None:
    """A quoted string's value with interpolations kept as `${...}`, or None for anything else."""
    node = _unwrap(node)
    if not isinstance(node, Tree) or node.data != "string":
        return None
    parts = []
    for child in node.children:
        if isinstance(child, Tree) and child.data == "string_part":
            parts.append(_text(child))
    return "".join(parts)


def _literal_string(node: Tree) -> str | None:
    """A quoted string without interpolation, else None."""
    node = _unwrap(node)
    if not isinstance(node, Tree) or node.data != "string":
        return None
    if any(isinstance(part, Tree) and part.data == "interpolation" for part in node.iter_subtrees()):
        return None
    return _string(node)


def _literal_list(node: Tree) -> tuple[str, ...] | None:
    """`"x"` or `["x", "y"]` written literally, else None (computed)."""
    single = _literal_string(node)
    if single is not None:
        return (single,)
    node = _unwrap(node)
    if not isinstance(node, Tree) or node.data != "tuple":
        return None
    items = [child for child in _subtrees(node) if child.data == "expr_term"]
    values = [_literal_string(item) for item in items]
    return None if any(value is None for value in values) else tuple(values)  # type: ignore[arg-type]


def _object_items(node: Tree) -> dict[str, Tree]:
    items = {}
    for element in _subtrees(node):
        if element.data != "object_elem":
            continue
        key_node, value_node = _subtrees(element)[0], _subtrees(element)[-1]
        key = _literal_string(key_node) or _text(key_node)
        items[key] = value_node
    return items


def _attributes(body: Tree) -> dict[str, Tree]:
    found = {}
    for child in _subtrees(body):
        if child.data == "attribute":
            parts = _subtrees(child)
            found[_text(parts[0])] = parts[-1]
    return found


def _block_parts(block: Tree) -> tuple[str, list[str], Tree | None]:
    parts = _subtrees(block)
    kind = _text(parts[0])
    labels = [_string(part) or _text(part) for part in parts[1:] if part.data in ("string", "identifier")]
    body = next((part for part in parts if part.data == "body"), None)
    return kind, labels, body


def _statement(
    where: str, actions: Tree | None, resources: Tree | None, negated: bool, effect: Tree | None = None
) -> Statement:
    return Statement(
        where,
        _literal_list(actions) if actions is not None else (),
        _literal_list(resources) if resources is not None else (),
        _text(actions) if actions is not None else "",
        negated,
        _text(resources) if resources is not None else "",
        effect is not None and _string(effect) == "Deny",
    )


def read_grants(directory: Path) -> Grants:
    """Every IAM statement and managed policy attachment written in the .tf files of a directory."""
    grants = Grants()
    for tf in sorted(directory.rglob("*.tf")):
        if ".terraform" in tf.parts:
            continue
        relative = tf.relative_to(directory.parent) if directory.parent in tf.parents else tf
        tree = _parse_tree(tf.read_text())
        # A variable's type, `object({ actions = list(string), ... })`, is no statement.
        types = {
            id(inner)
            for node in tree.iter_subtrees()
            if node.data == "attribute" and _text(_subtrees(node)[0]) == "type"
            for inner in node.iter_subtrees()
        }
        for node in tree.iter_subtrees():
            where = f"{relative}:{getattr(node.meta, 'line', '?')}"
            if id(node) in types:
                continue
            if node.data == "object":
                items = _object_items(node)
                if {"Action", "NotAction"} & items.keys():  # a policy statement, as jsonencode takes it
                    negated = bool({"NotAction", "NotResource"} & items.keys())
                    actions = items.get("Action", items.get("NotAction"))
                    resources = items.get("Resource", items.get("NotResource"))
                    grants.statements.append(
                        _statement(where, actions, resources, negated, items.get("Effect"))
                    )
                elif "actions" in items and "resources" in items:  # a statement handed to a module
                    grants.statements.append(_statement(where, items["actions"], items["resources"], False))
            elif node.data == "block":
                kind, labels, body = _block_parts(node)
                if kind == "data" and labels[:1] == ["aws_iam_policy_document"] and body is not None:
                    for child in _subtrees(body):
                        if child.data != "block" or _block_parts(child)[0] != "statement":
                            continue
                        attributes = _attributes(_block_parts(child)[2])
                        negated = bool({"not_actions", "not_resources"} & attributes.keys())
                        grants.statements.append(
                            _statement(
                                f"{relative}:{child.meta.line}",
                                attributes.get("actions", attributes.get("not_actions")),
                                attributes.get("resources", attributes.get("not_resources")),
                                negated,
                                attributes.get("effect"),
                            )
                        )
            elif node.data == "attribute":
                name, value = _text(_subtrees(node)[0]), _subtrees(node)[-1]
                if name in ("policy_arn", "managed_policy_arns"):
                    for arn in _literal_list(value) or [_string(value) or _text(value)]:
                        match = MANAGED_POLICY.search(arn)
                        if match:
                            grants.managed.append((match[1], where))
        # A policy written as JSON text cannot be read (or checked) like the rest: refuse it.
        for token in tree.scan_values(lambda value: isinstance(value, Token)):
            if '"Action"' in token or '"NotAction"' in token:
                grants.unreadable.append(f"{relative}:{token.line}")
    return grants


def readme_table(readme: str, heading: str) -> dict[str, str] | None:
    """First cell (backticks stripped) => last cell of the table under `## heading`; None if no section."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |^<!-- BEGIN_TF_DOCS|\Z)", readme, re.M | re.S)
    if match is None:
        return None
    rows = [line.strip() for line in match[1].splitlines() if line.strip().startswith("|")]
    table = {}
    for row in rows[2:]:  # past the header and its separator
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        table[cells[0].strip("`")] = cells[-1] if len(cells) > 1 else ""
    return table


def wildcard_refusal_proven(module: Path) -> bool:
    """The module's terraform tests expect a statement with a wildcard action to fail validation."""
    for test in module.glob("tests/*.tftest.hcl"):
        for run in re.split(r'\n(?=run ")', test.read_text()):
            if "expect_failures" in run and re.search(r'actions\s*=\s*\[[^\]]*"[^"]*[*?][^"]*"', run):
                return True
    return False


# A wildcard action no filter of this kind may let through.
WILDCARD_SAMPLES = ("*", "s3:*", "s3:Get*", "s3:Get?bject", "ec2:Describe*")


def filtered_to_named_actions(expression: str) -> bool:
    """Whether computed actions are those of a list kept only where a regex matches them whole, a
    regex that refuses every wildcard: `[for a in s.Action : a if can(regex("^...$", a))]`."""
    found = re.search(r'ifcan\(regex\("((?:[^"\\]|\\.)*)",', expression)
    if found is None or not (found[1].startswith("^") and found[1].endswith("$")):
        return False
    pattern = re.compile(found[1].replace("\\\\", "\\"))
    return not any(pattern.search(sample) for sample in WILDCARD_SAMPLES)


def iam_problems(
    module: Path, readme_path: Path, job_statements: list[tuple[str, list[str], list[str]]] = ()
) -> list[str]:
    """What breaks least privilege in one module, and what its README fails to justify.

    `job_statements` are (where, actions, resources) of job statements from account sources
    that end up in this module's roles: their actions on `"*"` need the same README rows.
    """
    grants = read_grants(module)
    readme = readme_path.read_text() if readme_path.exists() else ""
    listed = readme_table(readme, ALL_RESOURCES_SECTION)
    justified = readme_table(readme, MANAGED_SECTION) or {}
    problems = [f"{where}: policy written as JSON text; use jsonencode" for where in grants.unreadable]
    needed: dict[str, str] = {}
    for statement in grants.statements:
        if statement.deny and statement.actions is not None:
            continue  # takes away; a wildcard there denies more, never grants
        if statement.negated:
            problems.append(f"{statement.where}: NotAction/NotResource grants everything but; list actions")
        if statement.actions is None:
            if not (
                wildcard_refusal_proven(module) or filtered_to_named_actions(statement.action_expression)
            ):
                problems.append(
                    f"{statement.where}: actions come from {statement.action_expression}, and no terraform "
                    "test of the module proves a wildcard action there is refused"
                )
            continue
        for action in statement.actions:
            if WILDCARD.search(action):
                problems.append(f"{statement.where}: action {action} has a wildcard")
        if statement.on_all_resources:
            needed.update(dict.fromkeys(statement.actions, statement.where))
    for where, actions, resources in job_statements:
        for action in actions:
            if WILDCARD.search(action):
                problems.append(f"{where}: action {action} has a wildcard")
        if "*" in resources:
            needed.update(dict.fromkeys(actions, where))
    if listed is None:
        problems.append(f"{readme_path.name}: no '## {ALL_RESOURCES_SECTION}' section")
        listed = {}
    for action, where in sorted(needed.items()):
        if not listed.get(action):
            problems.append(
                f"{where}: {action} on all resources, without a reason in the README's "
                f"'{ALL_RESOURCES_SECTION}' table"
            )
    problems += [
        f"{readme_path.name}: stale row {action} (nothing grants it on *)"
        for action in listed
        if action not in needed
    ]
    for policy, where in grants.managed:
        if not justified.get(policy):
            problems.append(f"{where}: AWS managed policy {policy} not justified in '{MANAGED_SECTION}'")
    used = {policy for policy, _ in grants.managed}
    problems += [
        f"{readme_path.name}: stale row {policy} (not attached)" for policy in justified if policy not in used
    ]
    return problems


def account_statements() -> list[tuple[str, list[str], list[str]]]:
    """The job statements of every committed account source: they go to the job definitions' roles."""
    found = []
    for source in sorted((TF_DIR / "accounts").glob("*.yaml")):
        data = yaml.safe_load(source.read_text()) or {}
        for job, entry in (data.get("jobs") or {}).items():
            for index, statement in enumerate(entry.get("policy_statements") or []):
                where = f"{source.relative_to(ROOT)}: jobs.{job}.policy_statements[{index}]"
                found.append(
                    (where, list(statement.get("actions") or []), list(statement.get("resources") or []))
                )
    return found


@pytest.mark.parametrize("module", MODULES, ids=[module.name for module in MODULES])
def test_every_policy_of_the_module_is_least_privilege_and_its_readme_justifies_each_star(
    module: Path,
) -> None:
    extra = account_statements() if module.name == "batch-job-definitions" else []
    assert iam_problems(module, module / "README.md", extra) == []


def test_the_root_configuration_grants_nothing_itself_its_roles_come_from_the_modules() -> None:
    grants = read_grants(TF_DIR)
    assert (grants.statements, grants.managed, grants.unreadable) == ([], [], [])


def test_the_scan_reads_the_statements_it_has_to_judge() -> None:
    """The checks above are not vacuous: the execution role's policy and the trust policies are seen."""
    grants = read_grants(MODULES_DIR / "batch-job-definitions")
    on_all = [s for s in grants.statements if s.resources == ("*",)]
    assert [s.actions for s in on_all] == [("ecr:GetAuthorizationToken",)]
    assert ("sts:AssumeRole",) in [s.actions for s in grants.statements]
    assert [s.action_expression for s in grants.statements if s.actions is None] == ["s.actions"]
    # The schedules' roles and the notifications' topic and key policies are read too: each action
    # named, no `*` but the key policy's own (the key itself), which the README justifies.
    schedules = read_grants(MODULES_DIR / "batch-job-schedules")
    assert {action for s in schedules.statements for action in s.actions or ()} >= {
        "batch:SubmitJob",
        "batch:TagResource",
        "sqs:SendMessage",
        "sts:AssumeRole",
    }
    assert not [s for s in schedules.statements if s.on_all_resources]
    notifications = read_grants(MODULES_DIR / "batch-job-notifications")
    assert ("sns:Publish",) in [s.actions for s in notifications.statements]
    assert {s.actions for s in notifications.statements if s.on_all_resources} >= {
        ("kms:Decrypt", "kms:GenerateDataKey")
    }
    managed = {policy for policy, _ in read_grants(MODULES_DIR / "batch-environment").managed}
    assert managed == {  # Batch itself acts as its service-linked role
        "service-role/AmazonEC2ContainerServiceforEC2Role",
        "service-role/AmazonEC2SpotFleetTaggingRole",
    }


BAD_MODULE = """
data "aws_iam_policy_document" "reader" {
  statement {
    actions   = ["s3:Get*"]
    resources = ["arn:aws:s3:::bucket/*"]
  }
  statement {
    actions   = ["ec2:DescribeInstances", "cloudwatch:PutMetricData", "sqs:SendMessage"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "inline" {
  role   = "r"
  policy = jsonencode({ Statement = [{ Effect = "Allow", Action = "*", Resource = "*" }] })
}

resource "aws_iam_role_policy" "computed" {
  role   = "r"
  policy = jsonencode({ Statement = [{
    Effect   = "Allow"
    Action   = "logs:DescribeLogGroups"
    Resource = concat(["*"], var.more)
  }] })
}

resource "aws_iam_role_policy" "raw" {
  role   = "r"
  policy = <<-EOT
    {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
  EOT
}

resource "aws_s3_bucket_policy" "tls_only" {
  bucket = "b"
  policy = jsonencode({ Statement = [{
    Effect    = "Deny"
    Principal = "*"
    Action    = "s3:*"
    Resource  = ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]
    Condition = { Bool = { "aws:SecureTransport" = "false" } }
  }] })
}

resource "aws_iam_role_policy_attachment" "admin" {
  role       = "r"
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AdministratorAccess"
}
"""

BAD_README = """# bad

## Actions on all resources

| Action | Why |
|--------|-----|
| `ec2:DescribeInstances` | DescribeInstances has no resource-level permissions. |
| `cloudwatch:PutMetricData` | |
| `sqs:ListQueues` | Listing has no resource-level permissions. |
"""


def test_a_wildcard_action_an_unlisted_star_resource_a_stale_row_and_an_unjustified_managed_policy_are_found(
    tmp_path: Path,
) -> None:
    module = tmp_path / "bad"
    module.mkdir()
    (module / "main.tf").write_text(BAD_MODULE)
    (module / "README.md").write_text(BAD_README)
    problems = "\n".join(iam_problems(module, module / "README.md"))
    assert "action s3:Get* has a wildcard" in problems
    assert "action * has a wildcard" in problems
    assert "cloudwatch:PutMetricData on all resources, without a reason" in problems  # empty reason
    assert "sqs:SendMessage on all resources, without a reason" in problems  # no row
    assert "ec2:DescribeInstances" not in problems  # listed, with a reason
    assert "stale row sqs:ListQueues" in problems
    assert "AWS managed policy AdministratorAccess not justified" in problems
    assert "policy written as JSON text" in problems
    assert "logs:DescribeLogGroups on all resources, without a reason" in problems  # computed, with "*"
    assert "s3:*" not in problems  # a Deny (TLS only) takes access away: its wildcard grants nothing
    assert len(problems.splitlines()) == 9, problems


def test_a_star_resource_in_an_account_source_needs_its_row_and_a_missing_section_is_found(
    tmp_path: Path,
) -> None:
    module = tmp_path / "quiet"
    module.mkdir()
    (module / "main.tf").write_text('resource "aws_iam_role" "r" {\n  name = "r"\n}\n')
    (module / "README.md").write_text("# quiet\n")
    statements = [("src.yaml: jobs.x.policy_statements[0]", ["cloudwatch:PutMetricData", "s3:Put*"], ["*"])]
    problems = iam_problems(module, module / "README.md", statements)
    assert problems == [
        "src.yaml: jobs.x.policy_statements[0]: action s3:Put* has a wildcard",
        "README.md: no '## Actions on all resources' section",
        "src.yaml: jobs.x.policy_statements[0]: cloudwatch:PutMetricData on all resources, without a "
        "reason in the README's 'Actions on all resources' table",
        "src.yaml: jobs.x.policy_statements[0]: s3:Put* on all resources, without a reason in the "
        "README's 'Actions on all resources' table",
    ]


def test_computed_actions_need_a_terraform_test_that_refuses_a_wildcard(tmp_path: Path) -> None:
    module = tmp_path / "computed"
    (module / "tests").mkdir(parents=True)
    (module / "main.tf").write_text(
        'resource "aws_iam_role_policy" "p" {\n  role   = "r"\n'
        '  policy = jsonencode({ Statement = [for s in var.s : { Effect = "Allow", Action = s.actions, '
        "Resource = s.resources }] })\n}\n"
    )
    (module / "README.md").write_text("# computed\n\n## Actions on all resources\n\nNone.\n")
    assert ["actions come from s.actions" in p for p in iam_problems(module, module / "README.md")] == [True]
    (module / "tests" / "t.tftest.hcl").write_text(
        'run "refuses" {\n  command = plan\n  variables {\n'
        '    s = [{ actions = ["s3:*"], resources = ["*"] }]\n  }\n  expect_failures = [var.s]\n}\n'
    )
    assert iam_problems(module, module / "README.md") == []


@pytest.mark.parametrize(
    ("pattern", "passes"),
    [
        ("^[a-z0-9]+:(Describe|Get|List)[A-Za-z]+$", True),
        (":(Describe|Get|List)", False),  # not anchored: s3:Get* gets through
        ("^[a-z0-9]+:(Describe|Get|List).*$", False),  # anchored, yet any rest passes
    ],
)
def test_actions_filtered_from_listed_ones_pass_only_through_a_regex_that_refuses_wildcards(
    tmp_path: Path, pattern: str, passes: bool
) -> None:
    module = tmp_path / "filtered"
    module.mkdir()
    (module / "main.tf").write_text(
        'resource "aws_iam_role_policy" "p" {\n  role   = "r"\n'
        '  policy = jsonencode({ Statement = [for s in local.s : { Effect = "Allow", '
        f'Action = [for a in s.Action : a if can(regex("{pattern}", a))], Resource = s.Resource }}] }})\n}}\n'
    )
    (module / "README.md").write_text("# filtered\n\n## Actions on all resources\n\nNone.\n")
    assert (iam_problems(module, module / "README.md") == []) is passes


# ---- the jobs' own statements and secrets, refused at plan time by the root ------------------------


SSM_ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/jobs/db-password"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:jobs/api-AbCdEf"


def _statement_job(*actions: str) -> dict:
    return {"x": {"image": "hello", "policy_statements": [{"actions": list(actions), "resources": ["*"]}]}}


# Each case's jobs variable and what its refusal must say.
JOB_REFUSALS = {
    "star": (_statement_job("*"), "jobs.<name>.policy_statements actions entry"),
    "service-star": (_statement_job("s3:*"), "jobs.<name>.policy_statements actions entry"),
    "partial-star": (
        _statement_job("s3:GetObject", "s3:Get*"),
        "jobs.<name>.policy_statements actions entry",
    ),
    "question-mark": (_statement_job("s3:?etObject"), "jobs.<name>.policy_statements actions entry"),
    "plain-value": (
        {"x": {"image": "hello", "secrets": {"DB_PASSWORD": "hunter2"}}},
        "jobs.<name>.secrets value",
    ),
    "partial-arn": (
        {"x": {"image": "hello", "secrets": {"DB": SECRET_ARN[: -len("-AbCdEf")]}}},
        "jobs.<name>.secrets value",
    ),
    "s3-arn": (
        {"x": {"image": "hello", "secrets": {"DB": "arn:aws:s3:::bucket/db"}}},
        "jobs.<name>.secrets value",
    ),
}


@pytest.fixture(scope="module")
def job_refusals(schema_env: dict[str, str], root_copy: Path) -> dict[str, str]:
    """Every case of JOB_REFUSALS planned at once (one terraform run): what each plan said."""
    return refused_plans(
        schema_env, root_copy, {name: {"jobs": jobs} for name, (jobs, _) in JOB_REFUSALS.items()}
    )


@pytest.mark.terraform
@pytest.mark.parametrize("case", JOB_REFUSALS)
def test_wildcard_job_actions_and_secrets_that_are_not_references_are_refused_at_plan_time(
    job_refusals: dict[str, str], case: str
) -> None:
    output, message = job_refusals[case], JOB_REFUSALS[case][1]
    assert "Invalid value for variable" in output and message in output, output


# ---- secret names and references, in the account sources and on the command line ------------------

SECRET_NAMES = [
    "PASSWORD",
    "DB_PASSWORD",
    "DBPASSWORD",
    "db_passwd",
    "SSH_PASSPHRASE",
    "CLIENT_SECRET",
    "SECRET_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "GITHUB_TOKEN",
    "githubToken",
    "API_KEY",
    "apiKey",
    "STRIPE_APIKEY",
    "SSH_PRIVATE_KEY",
    "PRIVATEKEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "DB_CREDENTIAL",
    "APP_SECRETS",
]
PLAIN_NAMES = [
    "GREETING",
    "EXIT_CODE",
    "BATCH_FILE_URL",
    "PWD",
    "TOKENIZER",
    "MAX_TOKENS",
    "KEYBOARD_LAYOUT",
    "DB_PASSWORD_FILE",
    "API_TOKEN_ARN",
    "SECRET_NAME",
    "SECRET_ID",
    "TOKEN_URL",
    "OAUTH_TOKEN_ENDPOINT",
    "PASSWORD_LENGTH",
    "AWS_ACCESS_KEY_ID",
    "AWS_REGION",
    "OPERATIONS_TABLE",
    "PRIVATE_SUBNET",
    "API_VERSION",
]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_names_that_say_they_hold_a_secret_look_like_one(name: str) -> None:
    assert looks_like_secret(name)


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_names_of_plain_settings_and_of_where_a_secret_is_do_not(name: str) -> None:
    assert not looks_like_secret(name)


@pytest.mark.parametrize(
    ("reference", "accepted"),
    [
        (SSM_ARN, True),
        ("arn:aws:ssm:eu-west-1:123456789012:parameter/plain-name", True),
        ("arn:aws-us-gov:ssm:us-gov-west-1:123456789012:parameter/a/b.c_d", True),
        (SECRET_ARN, True),
        (SECRET_ARN + ":password::", True),
        (SECRET_ARN + ":password:AWSCURRENT:", True),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:jobs/api", False),  # no suffix: IAM would deny
        (SECRET_ARN + ":password", False),  # ECS wants all three fields after the ARN
        ("/jobs/db-password", False),  # a parameter name, not an ARN
        ("hunter2", False),
        ("arn:aws:s3:::bucket/db-password", False),
        ("arn:aws:ssm:us-east-1:12345:parameter/x", False),
        (SSM_ARN + "\n", False),
        (SSM_ARN + " ", False),
    ],
)
def test_only_full_ssm_parameter_and_secrets_manager_arns_are_secret_references(
    reference: str, accepted: bool
) -> None:
    assert is_secret_reference(reference) is accepted


def _source(environment: dict | None = None, secrets: dict | None = None) -> dict:
    job: dict = {"image": "alpha"}
    if environment is not None:
        job["environment"] = environment
    if secrets is not None:
        job["secrets"] = secrets
    return {"images": {"alpha": {"build": 1}}, "jobs": {"alpha": job}}


@pytest.mark.parametrize(
    "name", ["DB_PASSWORD", "GITHUB_TOKEN", "apiKey", "SSH_PRIVATE_KEY", "AWS_SECRET_ACCESS_KEY"]
)
def test_an_account_source_refuses_a_plain_variable_named_like_a_secret_pointing_to_secrets(
    name: str,
) -> None:
    with pytest.raises(ConfigError) as refused:
        validate_source("rel-a.yaml", _source(environment={"MODE": "x", name: "hunter2"}))
    message = str(refused.value)
    assert message.startswith(f"rel-a.yaml: jobs.alpha.environment.{name}: looks like a secret")
    assert "secrets:" in message and "\n" not in message and "hunter2" not in message


@pytest.mark.parametrize(
    "reference",
    ["hunter2", "/jobs/db-password", "arn:aws:secretsmanager:us-east-1:123456789012:secret:jobs/api"],
)
def test_an_account_source_refuses_a_secret_that_is_not_a_reference_without_repeating_it(
    reference: str,
) -> None:
    with pytest.raises(ConfigError) as refused:
        validate_source("rel-a.yaml", _source(secrets={"DB_PASSWORD": reference}))
    message = str(refused.value)
    assert message.startswith("rel-a.yaml: jobs.alpha.secrets.DB_PASSWORD: must be the full ARN")
    assert reference not in message and "\n" not in message


def test_an_account_source_refuses_a_secret_whose_name_is_no_variable_name_in_one_line() -> None:
    for secrets in ({"my secret": SSM_ARN}, {"1DB": SSM_ARN}, {"AWS_BATCH_X": SSM_ARN}, {"DB\n": SSM_ARN}):
        with pytest.raises(ConfigError) as refused:
            validate_source("rel-a.yaml", _source(secrets=secrets))
        assert "jobs.alpha.secrets." in str(refused.value) and "names are" in str(refused.value)
        assert "\n" not in str(refused.value)
    with pytest.raises(ConfigError) as refused:
        validate_source("rel-a.yaml", _source(environment={"DB_PASSWORD\n": "x"}))
    assert "jobs.alpha.environment.'DB_PASSWORD\\n': looks like a secret" in str(refused.value)


def test_an_account_source_refuses_a_variable_both_plain_and_secret() -> None:
    with pytest.raises(ConfigError, match=r"jobs\.alpha\.secrets\.DB: also in environment"):
        validate_source("rel-a.yaml", _source(environment={"DB": "x"}, secrets={"DB": SSM_ARN}))


@pytest.mark.terraform
def test_secret_references_are_rendered_into_the_account_variables(
    release_project: Path, terraform_binary: str
) -> None:
    source = release_project / "terraform" / "accounts" / "rel-a.yaml"
    source.write_text(
        "images:\n  alpha:\n    build: 1\njobs:\n  alpha:\n    image: alpha\n"
        f"    environment:\n      MODE: batch\n    secrets:\n      DB_PASSWORD: {SSM_ARN}\n"
        f"      API_TOKEN: '{SECRET_ARN}:token::'\n"
    )
    releases = project_releases(release_project)
    releases.render(["rel-a"])
    rendered = hcl2.loads(
        releases.rendered("rel-a").read_text(),
        serialization_options=hcl2.SerializationOptions(
            with_comments=False, explicit_blocks=False, strip_string_quotes=True
        ),
    )
    job = rendered["jobs"]["alpha"]
    assert job["secrets"] == {"DB_PASSWORD": SSM_ARN, "API_TOKEN": f"{SECRET_ARN}:token::"}
    assert job["environment"] == {"MODE": "batch"}


def test_submit_env_refuses_a_variable_named_like_a_secret_pointing_to_secrets() -> None:
    with pytest.raises(UserError) as refused:
        parse_env(["GREETING=hi", "DB_PASSWORD=hunter2"])
    message = str(refused.value)
    assert message.startswith("--env DB_PASSWORD: looks like a secret") and "secrets:" in message
    assert "hunter2" not in message and "\n" not in message
    with pytest.raises(UserError, match="^env API_TOKEN: looks like a secret"):
        jobs.validate(jobs.SubmitRequest("hello", env={"API_TOKEN": "abc"}))
    assert parse_env(["GREETING=hi", "DB_PASSWORD_FILE=/run/secrets/db"]) == {
        "GREETING": "hi",
        "DB_PASSWORD_FILE": "/run/secrets/db",
    }


def test_the_submit_command_refuses_a_secret_in_env_in_one_line_before_any_aws_call(tmp_path: Path) -> None:
    result = offline_cli(tmp_path / "home", "submit", "hello", "--env", "GITHUB_TOKEN=ghp_hunter2")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: --env GITHUB_TOKEN: looks like a secret, which must not be a plain environment variable: "
        "reference it under the job's secrets: in terraform/accounts/<account>.yaml "
        "(an SSM parameter or Secrets Manager ARN)"
    ]
    assert "hunter2" not in result.stdout + result.stderr
    assert not (tmp_path / "home" / "journal").exists()  # refused before anything was recorded


# ---- no secret in process arguments, output, files or logs, on the local stack ---------------------


class ProcessWatch(threading.Thread):
    """Samples every process's argument list (/proc/<pid>/cmdline) every ~20 ms while it runs.

    `environ_of` picks processes whose environment is also read (as root), to learn what a parent
    handed a child through its environment.
    """

    def __init__(self, environ_of: Callable[[list[bytes]], bool] | None = None, interval: float = 0.02):
        super().__init__(daemon=True)
        self.interval = interval
        self.environ_of = environ_of
        self.arguments: set[bytes] = set()
        self.environments: list[dict[bytes, bytes]] = []
        self.rounds = 0
        self._stop_event = threading.Event()

    @staticmethod
    def _read(path: bytes) -> bytes:
        """A /proc file whole, with plain system calls: a round reads hundreds of them, 50 times a second."""
        fd = os.open(path, os.O_RDONLY)
        try:
            chunks = []
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def run(self) -> None:
        while not self._stop_event.is_set():
            for pid in os.listdir(b"/proc"):
                if not pid.isdigit():
                    continue
                try:
                    cmdline = self._read(b"/proc/%s/cmdline" % pid)
                    self.arguments.add(cmdline)
                    if self.environ_of and cmdline and self.environ_of(cmdline.split(b"\0")):
                        raw = self._read(b"/proc/%s/environ" % pid)
                        pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
                        self.environments.append({key: value for key, _, value in pairs})
                except OSError:
                    continue  # the process ended meanwhile
            self.rounds += 1
            self._stop_event.wait(self.interval)

    def __enter__(self) -> ProcessWatch:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop_event.set()
        self.join(timeout=10)

    def holding(self, secret: bytes) -> list[str]:
        """The sampled argument lists that contain `secret` (shown with the secret masked)."""
        return [
            args.replace(b"\0", b" ").replace(secret, b"<secret>").decode(errors="replace")[:200]
            for args in self.arguments
            if secret in args
        ]


def files_holding(
    directory: Path, secrets: list[bytes], skip: Callable[[Path], bool] = lambda _p: False
) -> list[str]:
    found = []
    for path in sorted(directory.rglob("*")):
        if path.is_symlink() or not path.is_file() or skip(path):
            continue
        data = path.read_bytes()
        found += [str(path) for secret in secrets if secret in data]
    return found


def _too_big_to_hold_text(path: Path) -> bool:
    # Provider binaries and image layers: tens of megabytes of machine code, written by no one here.
    return path.stat().st_size > 50 * 1024 * 1024


def _project_cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command line of a release project, run from its root as a user would."""
    env = dict(
        os.environ,
        BATCHFORM_ROOT=str(root),
        BATCHFORM_CONFIG=str(root / "batchform.yaml"),
        BATCHFORM_HOME=str(root / ".batchform"),
    )
    rc = cli_config_file()
    if rc is not None:
        env["TF_CLI_CONFIG_FILE"] = str(rc)
    return subprocess.run(
        [sys.executable, "-m", "batchform", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_the_process_watch_sees_the_arguments_of_a_short_lived_process() -> None:
    """What the stack tests below assert about argument lists could fail: a 0.2 s process is seen."""
    decoy = f"decoy-{uuid.uuid4().hex}".encode()
    with ProcessWatch() as watch:
        subprocess.run([sys.executable, "-c", "import time; time.sleep(0.2)", decoy.decode()], check=True)
    assert watch.rounds > 3
    assert len(watch.holding(decoy)) == 1 and "<secret>" in watch.holding(decoy)[0]


@pytest.mark.stack
@pytest.mark.docker
def test_a_real_push_puts_the_registry_password_in_no_argument_list_output_file_log_or_docker_config(
    local_stack, release_project: Path
) -> None:
    # New content, so that a build is made and really pushed to the account's empty registry.
    (release_project / "images" / "alpha" / "build.txt").write_text(f"alpha {uuid.uuid4().hex}\n")
    account = project_releases(release_project).accounts.get("rel-a")
    token = account.client("ecr").get_authorization_token()["authorizationData"][0]["authorizationToken"]
    password = base64.b64decode(token).decode().partition(":")[2]
    assert password, "GetAuthorizationToken gave no password"
    secrets = [password.encode(), token.encode()]

    with ProcessWatch() as watch:
        result = _project_cli(
            release_project, "build", "--image", "alpha", "push", "--account", "rel-a", "--image", "alpha"
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pushed to rel-a" in result.stdout, result.stdout
    assert any(b"batchform\0build" in arguments for arguments in watch.arguments), "the CLI was not seen"

    for secret in secrets:
        assert watch.holding(secret) == []
        assert secret.decode() not in result.stdout + result.stderr
    assert files_holding(release_project / ".batchform", secrets) == []
    stack_dir = LocalStackSettings.load().data_dir
    assert list(stack_dir.glob("*.log")), f"no local stack logs in {stack_dir}"
    assert files_holding(stack_dir, secrets, skip=_too_big_to_hold_text) == []
    docker_config = Path.home() / ".docker" / "config.json"
    if docker_config.exists():
        assert not any(secret in docker_config.read_bytes() for secret in secrets)


@pytest.mark.stack
@pytest.mark.terraform
def test_terraform_gets_aws_credentials_only_in_its_environment_and_jobs_read_exactly_the_declared_secrets(
    local_stack, terraform_binary: str, release_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    releases = project_releases(release_project)
    account = releases.accounts.get("rel-a")
    parameter = f"arn:aws:ssm:us-east-1:{account.account_id}:parameter/alpha/db-password"
    secret = f"arn:aws:secretsmanager:us-east-1:{account.account_id}:secret:alpha/api-AbCdEf"
    releases.source("rel-a").write_text(
        "compute:\n  type: FARGATE\n  max_vcpus: 4\nforce_delete_repositories: true\n"
        "images:\n  alpha:\n    build: 1\n"
        "jobs:\n  alpha:\n    image: alpha\n    vcpus: 0.25\n    memory: 512\n"
        "    environment:\n      MODE: batch\n"
        f"    secrets:\n      DB_PASSWORD: {parameter}\n      API_TOKEN: '{secret}:token::'\n"
    )
    releases.render(["rel-a"])
    rc = cli_config_file()
    if rc is not None:
        monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(rc))
    runner = TerraformRunner(
        account, echo=lambda _line: None, p=Paths(release_project, release_project / ".batchform")
    )

    def terraform_process(arguments: list[bytes]) -> bool:
        return Path(arguments[0].decode(errors="replace")).name.startswith("terraform")

    try:
        with ProcessWatch(environ_of=terraform_process) as watch:
            plan = _project_cli(release_project, "tf.plan", "--account", "rel-a")
            apply = _project_cli(release_project, "tf.apply", "--account", "rel-a")
        assert plan.returncode == 2, plan.stdout + plan.stderr  # 2: the plan has changes
        assert apply.returncode == 0, apply.stdout + apply.stderr

        # What the CLI handed terraform (and terraform its provider), read from their environments;
        # terraform processes of anything else on the machine have another TF_DATA_DIR.
        handed = [
            env for env in watch.environments if env.get(b"TF_DATA_DIR") == str(runner.data_dir).encode()
        ]
        # The base credentials only: terraform assumes the account's role itself, and renews it.
        assert handed, "terraform was not seen"
        assert [env.get(b"AWS_SESSION_TOKEN") for env in handed] == [None] * len(handed)
        credentials = {env[b"AWS_SECRET_ACCESS_KEY"] for env in handed}
        output = plan.stdout + plan.stderr + apply.stdout + apply.stderr
        for value in credentials:
            assert watch.holding(value) == []
            assert value.decode() not in output
        home = release_project / ".batchform"
        assert files_holding(home, sorted(credentials), skip=_too_big_to_hold_text) == []

        # What AWS now holds: the job definition takes both secrets by reference, not in its
        # environment, and its execution role may read exactly those two and nothing else.
        batch = account.client("batch")
        [definition] = batch.describe_job_definitions(
            jobDefinitionName="batchform-rel-a-alpha", status="ACTIVE"
        )["jobDefinitions"]
        container = definition["containerProperties"]
        assert container["secrets"] == [
            {"name": "API_TOKEN", "valueFrom": f"{secret}:token::"},
            {"name": "DB_PASSWORD", "valueFrom": parameter},
        ]
        assert container["environment"] == [
            {"name": "DATA_BUCKET", "value": f"batchform-rel-a-data-{account.account_id}"},
            {"name": "MODE", "value": "batch"},
        ]
        iam = account.client("iam")
        role = container["executionRoleArn"].rsplit("/", 1)[-1]
        policy = iam.get_role_policy(RoleName=role, PolicyName="batch-execution")["PolicyDocument"]
        policy = json.loads(policy) if isinstance(policy, str) else policy
        statements = {statement["Sid"]: statement for statement in policy["Statement"]}
        assert statements["ReadSsmSecrets"]["Action"] == ["ssm:GetParameters"]
        assert statements["ReadSsmSecrets"]["Resource"] == [parameter]
        assert statements["ReadSecretsManagerSecrets"]["Action"] == ["secretsmanager:GetSecretValue"]
        assert statements["ReadSecretsManagerSecrets"]["Resource"] == [secret]  # the secret, not its JSON key
        reading = [
            s["Sid"]
            for s in policy["Statement"]
            if {"ssm:GetParameters", "secretsmanager:GetSecretValue"} & set(s["Action"])
        ]
        assert sorted(reading) == ["ReadSecretsManagerSecrets", "ReadSsmSecrets"]
        assert [s["Sid"] for s in policy["Statement"] if "*" in s["Resource"]] == ["EcrAuthorizationToken"]
        assert not any(WILDCARD.search(action) for s in policy["Statement"] for action in s["Action"])
    finally:
        shutil.rmtree(runner.data_dir, ignore_errors=True)


# ---- the Python code: bandit's rules stay on, and no shell is ever run ------------------------------

PYTHON_SOURCES = [ROOT / "scripts", ROOT / "tasks.py", ROOT / "bench", ROOT / "images"]
RUNNERS = {f"subprocess.{name}" for name in ("run", "Popen", "call", "check_call", "check_output")}
SHELL_CALLS = {
    "os.system",
    "os.popen",
    "subprocess.getoutput",
    "subprocess.getstatusoutput",
    "asyncio.create_subprocess_shell",
}


def _ruff_codes(filename: str, code: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--output-format", "json", "--stdin-filename", filename, "-"],
        cwd=ROOT,
        input=code,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return {finding["code"] for finding in json.loads(result.stdout or "[]")}


def test_ruff_keeps_bandit_rules_for_the_code_and_only_tests_and_bench_may_ignore_them() -> None:
    lint = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    assert {"S", "ALL"} & set(lint["select"] + lint.get("extend-select", []))
    ignored = lint.get("ignore", []) + lint.get("extend-ignore", [])
    assert [rule for rule in ignored if rule.startswith("S")] == ["S101"]  # assert statements only
    per_file = {**lint.get("per-file-ignores", {}), **lint.get("extend-per-file-ignores", {})}
    for pattern, rules in per_file.items():
        if any(rule.startswith("S") for rule in rules):
            assert pattern.split("/")[0] in ("tests", "bench"), pattern
    # And ruff, reading that configuration, reports a shell call in the package, not in a test.
    probe = (
        "import subprocess\n\n\ndef run(name: str) -> None:\n    subprocess.run('ls ' + name, shell=True)\n"
    )
    assert "S602" in _ruff_codes("scripts/batchform/probe.py", probe)
    assert "S602" in _ruff_codes("tasks.py", probe)
    assert "S602" not in _ruff_codes("tests/probe.py", probe)


def python_files() -> Iterator[Path]:
    for source in PYTHON_SOURCES:
        for path in [source] if source.is_file() else sorted(source.rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if not any(part.startswith(".") or part in ("__pycache__", "site-packages") for part in parts):
                yield path


def _qualified(func: ast.expr, names: dict[str, str]) -> str | None:
    if isinstance(func, ast.Name):
        return names.get(func.id, func.id)
    if isinstance(func, ast.Attribute):
        base = _qualified(func.value, names)
        return f"{base}.{func.attr}" if base else None
    return None


def _is_text(node: ast.expr | None) -> bool:
    """An expression that makes a string: a literal, an f-string, `+`/`%` of text, `"...".format/join`."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str | bytes)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return _is_text(node.left) or _is_text(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in ("format", "join") and _is_text(node.func.value)
    return False


def process_call_problems(path: Path) -> tuple[list[str], int]:
    """(calls that run a shell or pass a command as one string, number of process calls seen)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: dict[str, str] = {}
    texts: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Assign | ast.AnnAssign) and _is_text(node.value):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            texts.update(target.id for target in targets if isinstance(target, ast.Name))
    problems, calls = [], 0
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        where = f"{path}:{node.lineno}"
        for keyword in node.keywords:
            if keyword.arg == "shell" and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            ):
                problems.append(f"{where}: shell={ast.unparse(keyword.value)}")
        qualified = _qualified(node.func, names)
        if qualified in SHELL_CALLS:
            calls += 1
            problems.append(f"{where}: {qualified} runs its command through a shell")
        elif qualified in RUNNERS:
            calls += 1
            command = (
                node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "args"), None)
            )
            if _is_text(command) or (isinstance(command, ast.Name) and command.id in texts):
                problems.append(f"{where}: {qualified} is given one string, not an argument list")
    return problems, calls


def test_no_python_code_runs_a_shell_or_passes_a_command_as_one_string() -> None:
    problems, calls, files = [], 0, 0
    for path in python_files():
        found, seen = process_call_problems(path)
        problems += found
        calls, files = calls + seen, files + 1
    assert problems == []
    assert files > 30 and calls >= 10, (files, calls)  # the scan did look at the code that runs processes


def test_the_process_call_scan_finds_shells_and_command_strings(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import os\nimport subprocess\nimport subprocess as sp\n"
        "from subprocess import check_output as out\n\n"
        "name = 'x'\ncommand = f'ls {name}'\n"
        "subprocess.run(['ls'], shell=True)\n"  # 8
        "sp.Popen('ls -l')\n"  # 9
        "out(command)\n"  # 10
        "subprocess.call('ls ' + name)\n"  # 11
        "subprocess.check_call(args=' '.join(['ls', name]))\n"  # 12
        "os.system('ls')\n"  # 13
        "subprocess.run(['ls', name], shell=False)\n"  # fine
        "subprocess.run([sys.executable, '-c', command])\n"  # fine: the string is one argument
    )
    problems, calls = process_call_problems(bad)
    assert [int(p.split(":")[1]) for p in problems] == [8, 9, 10, 11, 12, 13], problems
    assert calls == 8
