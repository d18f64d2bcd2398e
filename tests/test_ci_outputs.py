"""The JSON the CI workflows read: `accounts`, `build`, `push`, `tf.plan`, `bump` and `releases`.

Each prints exactly one JSON document on standard output, with its progress on standard error,
so a workflow can pipe it to jq. The tasks run through invoke's own parser, in-process, over
fakes of what they call (registries, the docker engine and terraform are the suites' of
test_images.py, test_releases.py and test_terraform_*.py): these tests prove the shapes, field by
field, as the README documents them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from batchform import images, releases, terraform
from batchform.cli import namespace
from batchform.images import BuildResult
from batchform.registry import Pushed
from batchform.releases import BumpResult, ReleaseCell
from batchform.terraform import PlanResult
from invoke import Program

ROOT = Path(__file__).resolve().parent.parent
DIGEST = "sha256:" + "ab" * 32


def run_tasks(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str]:
    """`batchform ARGV` in this process, as the command line parses it: (stdout, stderr)."""
    program = Program(namespace=namespace, name="batchform", binary="batchform")
    program.run(["batchform", *argv], exit=False)
    captured = capsys.readouterr()
    return captured.out, captured.err


def one_document(out: str) -> object:
    """The output parsed as one JSON document: anything before or after it fails the test."""
    document, end = json.JSONDecoder().raw_decode(out.strip())
    assert end == len(out.strip()), f"more than one JSON document on stdout:\n{out}"
    return document


# ---- accounts ------------------------------------------------------------------------------------


def test_accounts_json_marks_real_accounts_the_first_of_them_and_the_roles_ci_assumes(tmp_path: Path) -> None:
    config = {
        "default_account": "local",
        "accounts": {
            "local-b": {"account_id": "210987654321", "endpoints": "local-stack"},
            "dev": {
                "account_id": "111111111111",
                "region": "eu-west-1",
                "aliases": ["d"],
                "ci": {
                    "deploy_role_arn": "arn:aws:iam::111111111111:role/github-actions-batchform-deploy",
                    "plan_role_arn": "arn:aws:iam::111111111111:role/github-actions-batchform-plan",
                },
            },
            "prod": {"account_id": "222222222222", "region": "eu-west-1"},
        },
    }
    (tmp_path / "batchform.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    env = {
        **os.environ,
        "BATCHFORM_CONFIG": str(tmp_path / "batchform.yaml"),
        "BATCHFORM_HOME": str(tmp_path),
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "batchform", "accounts", *args]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    listed = cli("--json")
    assert listed.returncode == 0, listed.stderr
    listing = one_document(listed.stdout)
    assert set(listing) == {"default", "first_real", "accounts"}
    assert (listing["default"], listing["first_real"]) == ("local", "dev")
    entries = {entry["name"]: entry for entry in listing["accounts"]}
    assert list(entries) == ["local", "local-b", "dev", "prod"]
    for entry in entries.values():
        assert set(entry) == {
            "name",
            "aliases",
            "account_id",
            "region",
            "real",
            "endpoints",
            "profile",
            "role_arn",
            "ci",
            "default",
            "first_real",
        }
        assert set(entry["ci"]) == {"deploy_role_arn", "plan_role_arn"}
    # What the pull request's matrix takes: the accounts on AWS, never the local stack's.
    assert [name for name, entry in entries.items() if entry["real"]] == ["dev", "prod"]
    assert entries["local-b"]["endpoints"] == "local-stack" and entries["dev"]["endpoints"] is None
    assert entries["dev"]["ci"]["plan_role_arn"].endswith(":role/github-actions-batchform-plan")
    assert entries["prod"]["ci"] == {"deploy_role_arn": None, "plan_role_arn": None}

    table = cli()
    assert table.returncode == 0, table.stderr
    rows = [line.split() for line in table.stdout.splitlines()]
    assert rows[0][:2] == ["account", "aliases"]
    assert rows[3][:6] == [
        "dev",
        "d",
        "111111111111",
        "eu-west-1",
        "aws",
        config["accounts"]["dev"]["ci"]["deploy_role_arn"],
    ]
    assert " ".join(rows[3][6:]) == "first on AWS" and rows[1][-1] == "default"


# ---- build and push --------------------------------------------------------------------------------


def fake_build(accounts, names, force, echo, progress=None) -> list[BuildResult]:  # noqa: ANN001
    echo("hello: building build 42")
    return [
        BuildResult("hello", 42, False, "batchform/hello:42", "sha256:content"),
        BuildResult("csv-stats", 7, True, "batchform/csv-stats:7", "sha256:same"),
    ]


def fake_push(accounts, names, echo, progress=None) -> list[BuildResult]:  # noqa: ANN001
    echo("hello:42 pushed to local (3 layers uploaded)")
    result = BuildResult("hello", 42, False, "batchform/hello:42", "sha256:content", uploaded={"local": 3})
    result.pushed = [
        Pushed("local", "127.0.0.1:5000/123456789012/hello:42", DIGEST, False, 3),
        Pushed("local-b", "127.0.0.1:5000/210987654321/hello:42", DIGEST, True, 0),
    ]
    return [result]


@pytest.fixture
def fake_images(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images, "build_images", fake_build)
    monkeypatch.setattr(images, "push_images", fake_push)
    monkeypatch.setattr(images, "discover", lambda names=None, p=None: [])


def test_build_push_json_prints_one_document_of_what_is_in_each_registry(
    capsys: pytest.CaptureFixture[str], fake_images: None
) -> None:
    out, err = run_tasks(capsys, "build", "--account", "local", "push", "--account", "local", "--json")
    pushed = one_document(out)
    assert pushed == [
        {
            "image": "hello",
            "build": 42,
            "account": "local",
            "reference": "127.0.0.1:5000/123456789012/hello:42",
            "digest": DIGEST,
            "already_there": False,
            "layers_uploaded": 3,
        },
        {
            "image": "hello",
            "build": 42,
            "account": "local-b",
            "reference": "127.0.0.1:5000/210987654321/hello:42",
            "digest": DIGEST,
            "already_there": True,
            "layers_uploaded": 0,
        },
    ]
    # build's report and push's progress are for people: on standard error.
    assert "hello: build 42" in err and "csv-stats: build 7 (reused)" in err and "pushed to local" in err


def test_build_json_gives_each_image_its_build_and_push_without_json_speaks_to_people(
    capsys: pytest.CaptureFixture[str], fake_images: None
) -> None:
    out, err = run_tasks(capsys, "build", "--json")
    assert one_document(out) == [
        {"image": "hello", "build": 42, "reused": False, "content_digest": "sha256:content"},
        {"image": "csv-stats", "build": 7, "reused": True, "content_digest": "sha256:same"},
    ]
    assert "building build 42" in err
    out, _ = run_tasks(capsys, "push")
    assert out.splitlines() == [
        "hello:42 pushed to local (3 layers uploaded)",
        "hello: build 42 in every target registry (layers uploaded: local: 3)",
    ]


# ---- tf.plan, bump, releases -------------------------------------------------------------------------


PLAN_OUTPUT = """module.repos.aws_ecr_repository.this["hello"]: Refreshing state... [id=hello]
data.aws_partition.current: Reading...

Terraform used the selected providers to generate the following execution plan.
  ~ update in-place

Plan: 0 to add, 1 to change, 0 to destroy."""


def test_tf_plan_json_gives_each_accounts_summary_and_plan_and_exits_2_on_changes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def plan(runner, extra_var_files=None, out_file=None, capture=False) -> PlanResult:  # noqa: ANN001
        assert capture, "--json captures terraform's output instead of streaming it"
        runner.echo(f"creating terraform state bucket in account {runner.account.name}")
        changes = runner.account.name == "local"
        return PlanResult(runner.account.name, changes, "Plan: 0 to add, 1 to change, 0 to destroy.", "plan")

    monkeypatch.setattr(terraform.TerraformRunner, "plan", plan)
    monkeypatch.setattr(releases.Releases, "ensure_rendered", lambda self, account: None)
    with pytest.raises(SystemExit) as exited:
        program = Program(namespace=namespace, name="batchform", binary="batchform")
        program.run(["batchform", "tf.plan", "--account", "local", "--account", "local-b", "--json"])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    planned = one_document(captured.out)
    assert [sorted(entry) for entry in planned] == [["account", "changes", "plan", "summary"]] * 2
    assert [(entry["account"], entry["changes"]) for entry in planned] == [
        ("local", True),
        ("local-b", False),
    ]
    assert "[local] creating terraform state bucket" in captured.err


def test_the_plan_text_starts_where_terraform_stops_refreshing() -> None:
    assert terraform._plan_text(PLAN_OUTPUT) == "\n".join(PLAN_OUTPUT.splitlines()[3:])  # noqa: SLF001
    assert (
        terraform._plan_text("No changes. Your infrastructure matches.")
        == "No changes. Your infrastructure matches."
    )  # noqa: SLF001
    assert terraform._plan_text("Error: nothing planned\n") == "Error: nothing planned"  # noqa: SLF001


def test_bump_and_releases_json_are_one_document_each(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    diff = "--- a/terraform/accounts/local.yaml\n+++ b/terraform/accounts/local.yaml\n"

    def bump(self, image, build, names, allow_downgrade=False) -> list[BumpResult]:  # noqa: ANN001
        self.echo("rendering terraform/accounts/local.tfvars")
        return [BumpResult("local", image, 41, int(build), diff)]

    monkeypatch.setattr(releases.Releases, "bump", bump)
    out, err = run_tasks(capsys, "bump", "hello", "42", "--account", "local", "--json")
    assert one_document(out) == [{"account": "local", "image": "hello", "old": 41, "new": 42, "diff": diff}]
    assert "rendering" in err

    cells = [
        ReleaseCell(
            "hello",
            "local",
            42,
            [41],
            42,
            ["declared ahead of deployed"],
            commands=["invoke tf.apply --account local"],
        )
    ]
    monkeypatch.setattr(releases.Releases, "matrix", lambda self, names=None: cells)
    out, _ = run_tasks(capsys, "releases", "--json")
    assert one_document(out) == [
        {
            "image": "hello",
            "account": "local",
            "declared": 42,
            "deployed": [41],
            "newest": 42,
            "notes": ["declared ahead of deployed"],
            "missing": [],
            "commands": ["invoke tf.apply --account local"],
            "in_sync": False,
        }
    ]
