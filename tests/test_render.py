"""Rendering account sources to terraform variables, and the bump refusals decided before any registry.

Tests that touch files work in a project root of its own (`release_project`: accounts rel-a
and rel-b, images alpha and beta). None needs the local stack: only the terraform binary, which
lays out the rendered files (and, here, also checks what terraform reads from them).
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from batchform import releases as releases_module
from batchform import settings as settings_module
from batchform import sources, sourcesettings
from batchform.errors import ConfigError, UserError
from batchform.hcl import HCL_KEYWORDS, hcl
from batchform.releases import Releases
from batchform.sources import set_build, validate_source
from conftest import missing, project_releases, release_source
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parent.parent
PARSE = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False)
# What release_source writes at the top level.
SOURCE_KEYS = {"compute", "force_delete_repositories", "images", "jobs"}

HOSTILE = [
    '${file("/etc/passwd")}',
    "%{ if true }x%{ endif }",
    'say "hi"',
    "C:\\temp\\new",
    "first line\nsecond line",
    '"\n}\nimages = {}',
    "$${already escaped} %%{ too }",
    "ends with a dollar $",
]


# ---- helpers ---------------------------------------------------------------------------------------


@pytest.fixture
def terraform() -> None:
    """Rendering runs terraform fmt: skip (or fail in CI) without terraform."""
    if shutil.which("terraform") is None:
        missing("terraform")


@pytest.fixture
def project(release_project: Path, terraform: None) -> Path:
    """A release project, for tests that render."""
    return release_project


def accounts_dir(root: Path) -> Path:
    return root / "terraform" / "accounts"


def write_source(root: Path, account: str, text: str) -> Path:
    path = accounts_dir(root) / f"{account}.yaml"
    path.write_text(text)
    return path


def write_data(root: Path, account: str, data: dict[str, Any]) -> Path:
    return write_source(root, account, yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


def snapshot(root: Path) -> dict[str, bytes]:
    """The bytes of every file under terraform/accounts."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(accounts_dir(root).rglob("*")) if p.is_file()
    }


SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def hcl_string(source: str) -> str:
    """The value terraform gives a quoted HCL string written as `source`; refuses any template sequence.

    python-hcl2 hands strings back as written (quotes, escapes and all), and leaves the text after
    an escaped `$${` unresolved, so the value is decoded here, following the HCL syntax spec.
    """
    assert len(source) >= 2 and source[0] == source[-1] == '"', source
    body, out, i = source[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\":
            marker = body[i + 1]
            if marker in SIMPLE_ESCAPES:
                out.append(SIMPLE_ESCAPES[marker])
                i += 2
            elif marker in "uU":
                width = 4 if marker == "u" else 8
                out.append(chr(int(body[i + 2 : i + 2 + width], 16)))
                i += 2 + width
            else:
                raise AssertionError(f"invalid escape \\{marker} in {source}")
        elif body.startswith(("$${", "%%{"), i):
            out.append(body[i + 1 : i + 3])
            i += 3
        elif body.startswith(("${", "%{"), i):
            raise AssertionError(f"template sequence at {i} in {source}")
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def decode(value: Any) -> Any:
    if isinstance(value, str):
        return hcl_string(value)
    if isinstance(value, dict):
        return {(hcl_string(k) if k.startswith('"') else k): decode(item) for k, item in value.items()}
    if isinstance(value, list):
        return [decode(item) for item in value]
    return value


def parse(text: str) -> dict[str, Any]:
    """The values of a rendered file: its structure as python-hcl2 reads it, its strings decoded."""
    return decode(hcl2.loads(text, serialization_options=PARSE))


def terraform_reads(tmp_path: Path, text: str, names: list[str]) -> dict[str, Any]:
    """The values terraform itself reads from `text` as a variables file, for the named variables."""
    work = tmp_path / "terraform-reads"
    work.mkdir(exist_ok=True)
    (work / "variables.tf").write_text(
        "".join(f'variable "{name}" {{\n  default = null\n}}\n' for name in names)
    )
    (work / "values.tfvars").write_text(text)
    expression = "base64encode(jsonencode({" + ", ".join(f"{n} = var.{n}" for n in names) + "}))\n"
    result = subprocess.run(
        [shutil.which("terraform") or "terraform", "console", "-var-file=values.tfvars"],
        cwd=work,
        input=expression,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    encoded = [line for line in result.stdout.splitlines() if line.startswith('"')]
    assert len(encoded) == 1, result.stdout
    return json.loads(base64.b64decode(encoded[0].strip('"')))


def two_accounts(root: Path) -> Releases:
    write_source(root, "rel-a", release_source({"alpha": 3}))
    write_source(root, "rel-b", release_source({"alpha": 5, "beta": 2}))
    return project_releases(root)


# ---- deterministic, canonical, faithful ----------------------------------------------------------


@pytest.mark.terraform
def test_render_is_byte_identical_across_calls_and_fresh_objects(project: Path) -> None:
    write_source(project, "rel-a", release_source({"alpha": 3, "beta": 7}))
    releases = project_releases(project)
    first = releases.render_text("rel-a")
    assert set(parse(first)) == SOURCE_KEYS
    assert releases.render_text("rel-a") == first
    assert project_releases(project).render_text("rel-a") == first
    written = releases.render()
    assert written == [releases.rendered("rel-a")]
    assert releases.rendered("rel-a").read_bytes() == first.encode()


@pytest.mark.terraform
def test_rendered_file_passes_terraform_fmt_check(project: Path, tmp_path: Path) -> None:
    source = (
        release_source({"alpha": 3, "beta": 7}) + "    environment:\n      LONGER_NAME: x\n      B: 'y'\n"
    )
    write_source(project, "rel-a", source)
    target = tmp_path / "check" / "rel-a.tfvars"
    target.parent.mkdir()
    target.write_text(project_releases(project).render_text("rel-a"))
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-no-color", str(target)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.terraform
def test_terraform_fmt_check_fails_on_a_misaligned_file(project: Path, tmp_path: Path) -> None:
    """The fmt check above can fail: the same file with its alignment removed is refused."""
    write_source(project, "rel-a", release_source({"alpha": 3}))
    text = project_releases(project).render_text("rel-a").replace("type      =", "type =")
    target = tmp_path / "misaligned.tfvars"
    target.write_text(text)
    result = subprocess.run(["terraform", "fmt", "-check", "-no-color", str(target)], capture_output=True)
    assert result.returncode != 0


@pytest.mark.terraform
def test_rendered_file_parses_back_to_the_source_values(project: Path) -> None:
    data = {
        "compute": {"type": "FARGATE", "max_vcpus": 4},
        "log_retention_days": 30,
        "force_delete_repositories": False,
        "tags": {"team": "data", "cost-centre": "42", "with space": "yes"},
        "images": {"alpha": {"build": 3, "keep_builds": 10}, "beta": {"build": 17}},
        "jobs": {
            "alpha": {
                "image": "alpha",
                "command": ["python", "-m", "work", "Ref::input"],
                "vcpus": 0.25,
                "memory": 512,
                "environment": {"MODE": "fast", "LIMIT": "10"},
                "retry_attempts": 2,
                "timeout_seconds": 900,
                "parameters": {"input": "s3://bucket/key"},
                "tags": {"owner": "someone"},
                "evaluate_on_exit": [{"action": "RETRY", "on_exit_code": "137"}],
                "policy_statements": [
                    {"sid": "Read", "actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]}
                ],
            },
            "beta-job": {"image": "beta", "vcpus": 1, "memory": 2048},
        },
    }
    write_data(project, "rel-a", data)
    parsed = parse(project_releases(project).render_text("rel-a"))
    assert parsed == data
    assert list(parsed) == list(data)


KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.terraform
def test_queue_kms_data_bucket_and_share_identifiers_render_and_parse_back(project: Path) -> None:
    data = {
        "compute": {"type": "FARGATE", "max_vcpus": 4},
        "queue": {
            "fair_share": {
                "compute_reservation": 10,
                "share_decay_seconds": 3600,
                "shares": {"analytics": 1, "reports": 0.5, "adhoc*": 2},
            }
        },
        "kms": {"ecr": KMS_KEY, "logs": KMS_KEY, "data_bucket": KMS_KEY, "secrets": [KMS_KEY]},
        "data_bucket": {"fan_out_expiry_days": 3, "force_destroy": True},
        "images": {"alpha": {"build": 3}},
        "jobs": {"alpha": {"image": "alpha", "share_identifier": "analytics"}},
    }
    write_data(project, "rel-a", data)
    parsed = parse(project_releases(project).render_text("rel-a"))
    assert parsed == data
    assert list(parsed) == list(data)


def test_the_repository_local_tfvars_parses_back_to_local_yaml_on_the_shared_declarations() -> None:
    source = Releases().load("local")
    rendered = (REPO / "terraform" / "accounts" / "local.tfvars").read_text()
    assert parse(rendered) == source
    # The shared declarations are the account's jobs: local.yaml only names them, and says when
    # it runs one on a schedule.
    own = yaml.safe_load((REPO / "terraform" / "accounts" / "local.yaml").read_text())
    assert set(own["jobs"]) == set(source["jobs"])
    assert all(set(entry) <= {"schedule"} for entry in own["jobs"].values())


# ---- render writes only what is stale ------------------------------------------------------------


@pytest.mark.terraform
def test_render_writes_only_stale_files_and_returns_them(project: Path) -> None:
    releases = two_accounts(project)
    a, b = releases.rendered("rel-a"), releases.rendered("rel-b")
    assert releases.render() == [a, b]
    assert releases.render() == []
    inode_a = a.stat().st_ino
    write_source(project, "rel-b", release_source({"alpha": 6, "beta": 2}))
    assert releases.render() == [b]
    assert a.stat().st_ino == inode_a  # not rewritten
    assert "build = 6" in b.read_text()
    assert releases.render() == []


@pytest.mark.terraform
def test_render_of_named_accounts_touches_no_other(project: Path) -> None:
    releases = two_accounts(project)
    assert releases.render(["rel-b"]) == [releases.rendered("rel-b")]
    assert not releases.rendered("rel-a").exists()


@pytest.mark.terraform
def test_the_repository_local_source_renders_exactly_to_the_committed_tfvars(
    terraform: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("BATCHFORM_ROOT", "BATCHFORM_CONFIG", "BATCHFORM_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(REPO)
    settings_module.reload()
    try:
        releases = Releases()
        assert releases.paths.root == REPO
        assert "local" in releases.account_names()
        assert releases.stale() == []
        assert releases.render_text("local") == (REPO / "terraform" / "accounts" / "local.tfvars").read_text()
    finally:
        settings_module.reload()


# ---- stale, ensure_rendered and render --check ---------------------------------------------------

STALE_LINE = "terraform/accounts/rel-a.tfvars"


def _remove_rendered(root: Path) -> None:
    (accounts_dir(root) / "rel-a.tfvars").unlink()


def _edit_rendered(root: Path) -> None:
    target = accounts_dir(root) / "rel-a.tfvars"
    text = target.read_text()
    assert "max_vcpus = 4" in text
    target.write_text(text.replace("max_vcpus = 4", "max_vcpus = 5"))


def _edit_source(root: Path) -> None:
    write_source(root, "rel-a", release_source({"alpha": 4}))


@pytest.mark.parametrize(
    ("change", "says"),
    [(_remove_rendered, "missing"), (_edit_rendered, "differs"), (_edit_source, "differs")],
    ids=["missing", "edited-by-hand", "source-not-rendered"],
)
@pytest.mark.terraform
def test_stale_reports_one_line_naming_the_file(project: Path, change, says: str) -> None:  # noqa: ANN001
    releases = two_accounts(project)
    releases.render()
    assert releases.stale() == []
    releases.ensure_rendered("rel-a")
    change(project)
    problems = releases.stale()
    assert len(problems) == 1
    assert problems[0].startswith(f"{STALE_LINE}: {says}")
    assert "\n" not in problems[0]
    with pytest.raises(UserError) as caught:
        releases.ensure_rendered("rel-a")
    assert str(caught.value) == problems[0]
    releases.ensure_rendered("rel-b")  # the other account is still fine
    assert releases.render() == [releases.rendered("rel-a")]
    assert releases.stale() == []


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "BATCHFORM_ROOT": str(root),
        "BATCHFORM_CONFIG": str(root / "batchform.yaml"),
        "BATCHFORM_HOME": str(root / ".batchform"),
    }
    return subprocess.run(
        [sys.executable, "-m", "batchform", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.terraform
def test_render_check_on_the_command_line_fails_until_rendered(project: Path) -> None:
    write_source(project, "rel-a", release_source({"alpha": 3}))
    check = _cli(project, "render", "--check")
    assert check.returncode == 1, check.stdout + check.stderr
    assert f"{STALE_LINE}: missing" in check.stderr
    assert not (accounts_dir(project) / "rel-a.tfvars").exists()

    render = _cli(project, "render")
    assert render.returncode == 0, render.stdout + render.stderr
    assert f"rendered {STALE_LINE}" in render.stdout
    assert (accounts_dir(project) / "rel-a.tfvars").read_text() == project_releases(project).render_text(
        "rel-a"
    )

    check = _cli(project, "render", "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert STALE_LINE not in check.stderr


# ---- no input adds HCL of its own ----------------------------------------------------------------


def _hostile_source() -> dict[str, Any]:
    environment = {f"V{i}": value for i, value in enumerate(HOSTILE)}
    tags = {f"t{i}": value for i, value in enumerate(HOSTILE)}
    return {
        "compute": {"type": "FARGATE", "max_vcpus": 4},
        "force_delete_repositories": True,
        "tags": tags,
        "images": {"alpha": {"build": 1}},
        "jobs": {"alpha": {"image": "alpha", "environment": environment, "tags": tags}},
    }


@pytest.mark.terraform
def test_hostile_values_round_trip_and_add_no_attribute_or_interpolation(project: Path) -> None:
    data = _hostile_source()
    write_data(project, "rel-a", data)
    text = project_releases(project).render_text("rel-a")
    parsed = parse(text)
    assert set(parsed) == {"compute", "force_delete_repositories", "tags", "images", "jobs"}
    assert parsed["images"] == {"alpha": {"build": 1}}
    assert set(parsed["jobs"]) == {"alpha"}
    assert parsed == data
    raw = hcl2.loads(text, serialization_options=PARSE)
    assert raw["jobs"]["alpha"]["environment"]["V0"] == '"$${file(\\"/etc/passwd\\")}"'  # not a call


@pytest.mark.terraform
def test_terraform_reads_hostile_values_as_the_literal_strings(project: Path, tmp_path: Path) -> None:
    data = _hostile_source()
    write_data(project, "rel-a", data)
    text = project_releases(project).render_text("rel-a")
    read = terraform_reads(tmp_path, text, list(data))
    assert read["tags"] == data["tags"]
    assert read["jobs"]["alpha"]["environment"] == data["jobs"]["alpha"]["environment"]
    assert read["jobs"]["alpha"]["tags"] == data["tags"]
    assert read["images"] == {"alpha": {"build": 1}}


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("jobs", "two words"),
        ("jobs", "dotted.name"),
        ("jobs", "1starts-with-digit"),
        ("jobs", '${file("x")}'),
        ("jobs", 'a" = 1\nb'),
        ("images", "two words"),
        ("images", 'quo"te'),
        ("images", "x}\nimages = {"),
        ("jobs", "job\n"),
        ("images", "alpha\n"),
    ],
)
def test_names_that_are_not_identifiers_are_refused(kind: str, name: str) -> None:
    if kind == "jobs":
        data = {"images": {"alpha": {"build": 1}}, "jobs": {name: {"image": "alpha"}}}
    else:
        data = {"images": {name: {"build": 1}}}
    with pytest.raises(ConfigError) as caught:
        validate_source("rel-a.yaml", data)
    shown = name if name.isprintable() else repr(name)  # a name is never allowed to break the line
    assert f"{kind}.{shown}" in str(caught.value)
    assert "letters, digits" in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.terraform
def test_an_environment_key_ending_in_a_newline_is_quoted(project: Path) -> None:
    data = {
        "images": {"alpha": {"build": 1}},
        "jobs": {"alpha": {"image": "alpha", "environment": {"KEY\n": "v", "OTHER": "w"}}},
    }
    write_data(project, "rel-a", data)
    assert parse(project_releases(project).render_text("rel-a")) == data


@pytest.mark.terraform
@pytest.mark.parametrize("value", ["bell\bback", "page\fbreak"])
def test_backspace_and_form_feed_round_trip(project: Path, value: str) -> None:
    data = {
        "images": {"alpha": {"build": 1}},
        "jobs": {"alpha": {"image": "alpha", "environment": {"V": value}}},
    }
    write_data(project, "rel-a", data)
    assert parse(project_releases(project).render_text("rel-a")) == data


@hypothesis_settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@pytest.mark.terraform
@given(value=st.text(st.characters(exclude_categories=["Cs"]), max_size=40))
def test_any_environment_value_round_trips(project: Path, value: str) -> None:
    """Any text in a job's environment renders to a file that parses back to exactly that text.

    Lone surrogates are left out: they cannot be written in a UTF-8 source at all. So is `%{`:
    it renders as HCL's escape `%%{`, which terraform reads back (the injection tests check that
    with terraform itself) but python-hcl2's grammar, used here to parse, rejects.
    The source is handed to render_text as data, so YAML's own quoting plays no part.
    """
    assume("%{" not in value)
    data = validate_source(
        "rel-a.yaml",
        {
            "images": {"alpha": {"build": 1}},
            "jobs": {"alpha": {"image": "alpha", "environment": {"VALUE": value, "AFTER": "end"}}},
        },
    )
    parsed = parse(project_releases(project).render_text("rel-a", data))
    assert set(parsed) == {"images", "jobs"}
    assert parsed["images"] == {"alpha": {"build": 1}}
    assert parsed["jobs"] == {"alpha": {"image": "alpha", "environment": {"VALUE": value, "AFTER": "end"}}}


# ---- hcl() -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-3, "-3"),
        (12345678901234567890, "12345678901234567890"),
        (0.25, "0.25"),
        (-1.5, "-1.5"),
        ("plain", '"plain"'),
        ("", '""'),
        ('${x} %{y} "q" \\ \n', '"$${x} %%{y} \\"q\\" \\\\ \\n"'),
        ("é☃", '"é☃"'),
        ([], "[]"),
        ({}, "{}"),
        ([1, "a", None], '[1, "a", null]'),
        ({"a": [1, {"b": None}], "c": {"d": False}}, "{\na = [1, {\nb = null\n}]\nc = {\nd = false\n}\n}"),
        ({"with space": 1, "a.b": 2, "ok-name_1": 3}, '{\n"with space" = 1\n"a.b" = 2\nok-name_1 = 3\n}'),
        ({"${x}": 1}, '{\n"$${x}" = 1\n}'),
    ],
)
def test_hcl_literals(value: Any, expected: str) -> None:
    assert hcl(value) == expected


@pytest.mark.parametrize("keyword", sorted(HCL_KEYWORDS))
def test_hcl_quotes_keys_that_are_keywords(keyword: str) -> None:
    assert hcl({keyword: 1}) == f'{{\n"{keyword}" = 1\n}}'


def test_the_keywords_include_for_and_null() -> None:
    assert {"for", "null", "true", "false", "if", "in"} <= HCL_KEYWORDS


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, [1.0, math.nan], {"x": math.inf}])
def test_hcl_refuses_numbers_terraform_has_not(value: Any) -> None:
    with pytest.raises(ConfigError):
        hcl(value)


@pytest.mark.parametrize("value", [{1, 2}, object(), b"bytes"])
def test_hcl_refuses_values_it_cannot_write(value: Any) -> None:
    with pytest.raises(ConfigError, match="cannot write"):
        hcl(value)


@pytest.mark.terraform
def test_keyword_and_spaced_keys_render_and_parse_back(project: Path) -> None:
    environment = {"for": "1", "null": "2", "if": "3", "with space": "4", "plain": "5"}
    data = {
        "images": {"alpha": {"build": 1}},
        "jobs": {"alpha": {"image": "alpha", "environment": environment}},
    }
    write_data(project, "rel-a", data)
    assert parse(project_releases(project).render_text("rel-a")) == data


# ---- source validation names the field -----------------------------------------------------------

GOOD = release_source({"alpha": 3, "beta": 4})


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (GOOD + "colour: red\n", "colour"),
        (GOOD.replace("    build: 3", "    tag: latest\n    build: 3"), "images.alpha.tag"),
        (GOOD.replace("build: 3", 'build: "42"'), "images.alpha.build"),
        (GOOD.replace("build: 3", "build: 0"), "images.alpha.build"),
        (GOOD.replace("build: 3", "build: 1.5"), "images.alpha.build"),
        (GOOD.replace("build: 3", "build: -3"), "images.alpha.build"),
        (GOOD.replace("build: 3", "build: true"), "images.alpha.build"),
        (
            GOOD.replace("    build: 3  # bumped by invoke bump\n", "    keep_builds: 5\n"),
            "images.alpha.build",
        ),
        (GOOD.replace("    image: beta", "    image: gamma"), "jobs.beta.image"),
        (GOOD.replace("    memory: 512\n", "    memory: 512\n    colour: red\n", 1), "jobs.alpha.colour"),
        ("images: [alpha]\n", "images: must be a mapping"),
        (GOOD + "queue: {fair_share: {shares: {team-a: 1}}}\n", "queue.fair_share.shares.team-a"),
        (GOOD + "queue: {fair_share: {shares: {team_a: 0}}}\n", "queue.fair_share.shares.team_a"),
        (GOOD + "queue: {fair_share: {compute_reservation: 100}}\n", "queue.fair_share.compute_reservation"),
        (GOOD + "queue: {fair_share: {share_decay_seconds: -1}}\n", "queue.fair_share.share_decay_seconds"),
        (GOOD + "queue: {fair_share: {weights: {}}}\n", "queue.fair_share.weights"),
        (GOOD + "queue: {fifo: true}\n", "queue.fifo"),
        (GOOD + "kms: {ecr: alias/images}\n", "kms.ecr"),
        (GOOD + "kms: {logs: 'arn:aws:kms:us-east-1:123456789012:alias/logs'}\n", "kms.logs"),
        (GOOD + "kms: {data_bucket: 'arn:aws:kms:us-east-1:1234:key/x'}\n", "kms.data_bucket"),
        (GOOD + "kms: {secrets: ['arn:aws:kms:us-east-1:123456789012:alias/s']}\n", "kms.secrets[0]"),
        (GOOD + "kms: {secrets: " + KMS_KEY + "}\n", "kms.secrets"),
        (GOOD + "kms: {s3: x}\n", "kms.s3"),
        (GOOD + "data_bucket: {fan_out_expiry_days: 0}\n", "data_bucket.fan_out_expiry_days"),
        (GOOD + "data_bucket: {force_destroy: 'yes'}\n", "data_bucket.force_destroy"),
        (GOOD + "data_bucket: {expiry: 3}\n", "data_bucket.expiry"),
        (
            GOOD.replace("    memory: 512\n", "    memory: 512\n    share_identifier: a-b\n", 1),
            "jobs.alpha.share_identifier",
        ),
        (
            GOOD.replace("    memory: 512\n", "    memory: 512\n    share_identifier: ab\n", 1),
            "jobs.alpha.share_identifier",
        ),
        (
            GOOD.replace("    memory: 512\n", "    memory: 512\n    scheduling_priority: 10000\n", 1),
            "jobs.alpha.scheduling_priority",
        ),
        (
            GOOD.replace("    memory: 512\n", "    memory: 512\n    scheduling_priority: 0\n", 1),
            "jobs.alpha.scheduling_priority",
        ),
        (
            GOOD.replace("    memory: 512\n", "    memory: 512\n    reads: [inputs/*]\n", 1),
            "jobs.alpha.reads[0]",
        ),
        (
            GOOD.replace("    memory: 512\n", "    memory: 512\n    reads: [inputs]\n", 1),
            "jobs.alpha.reads[0]",
        ),
        (
            GOOD.replace("    memory: 512\n", "    memory: 512\n    writes: [results/, /abs/]\n", 1),
            "jobs.alpha.writes[1]",
        ),
        (
            GOOD.replace("    memory: 512\n", "    memory: 512\n    writes: ['arn:aws:s3:::other/']\n", 1),
            "jobs.alpha.writes[0]",
        ),
        (GOOD.replace("    memory: 512\n", "    memory: 512\n    reads: inputs/\n", 1), "jobs.alpha.reads"),
        (
            GOOD.replace("    memory: 512\n", "    memory: 512\n    tables: [operations]\n", 1),
            "jobs.alpha.tables[0]",
        ),
        (GOOD + "tables: {Operations: {}}\n", "tables.Operations"),
        (GOOD + "tables: {operations: {sort_key: day}}\n", "tables.operations.sort_key"),
        (
            GOOD + "tables: {operations: {deletion_protection: 'no'}}\n",
            "tables.operations.deletion_protection",
        ),
        (GOOD + "tables: {operations: {hash_key: ''}}\n", "tables.operations.hash_key"),
        (GOOD + "tables: [operations]\n", "tables"),
        (GOOD + "compute_environments: {main: {type: FARGATE}}\n", "compute_environments.main"),
        (GOOD + "compute_environments: {Spot: {type: FARGATE_SPOT}}\n", "compute_environments.Spot"),
        (GOOD + "compute_environments: {spot: {type: SPOTTY}}\n", "compute_environments.spot.type"),
        (GOOD + "queue: {compute_environments: [spot]}\n", "queue.compute_environments[0]"),
        (
            GOOD + "compute_environments: {ec2: {type: EC2}}\nqueue: {compute_environments: [main, ec2]}\n",
            "queue.compute_environments: all Fargate",
        ),
        (GOOD + "queue: {compute_environments: [main, main]}\n", "queue.compute_environments"),
        (GOOD + "queue: {priority: 1001}\n", "queue.priority"),
        (
            GOOD + "queue: {time_limits: {'CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY': 599}}\n",
            "queue.time_limits",
        ),
        (
            GOOD + "queue: {time_limits: {'MISCONFIGURATION:SERVICE_ROLE_PERMISSIONS': 600}}\n",
            "queue.time_limits",
        ),
        (GOOD + "queues: {default: {compute_environments: [main]}}\n", "queues.default"),
        (GOOD + "queues: {bulk: {priority: 5}}\n", "queues.bulk.compute_environments: required"),
        (GOOD.replace("    memory: 512\n", "    memory: 512\n    queue: bulk\n", 1), "jobs.alpha.queue"),
        (
            GOOD.replace(
                "    memory: 512\n", "    memory: 512\n    queue: bulk\n    share_identifier: ab\n", 1
            )
            + "queues: {bulk: {compute_environments: [main]}}\n",
            "jobs.alpha.share_identifier: needs a fair_share policy on queue bulk",
        ),
        (
            GOOD.replace("    memory: 512\n", "    memory: 512\n    privileged: true\n", 1),
            "jobs.alpha.privileged: not allowed",
        ),
        (
            GOOD.replace("    memory: 512\n", "    memory: 512\n    network_mode: host\n", 1),
            "jobs.alpha.network_mode: not allowed",
        ),
        (
            GOOD.replace("    memory: 512\n", "    memory: 512\n    ephemeral_storage: 20\n", 1),
            "jobs.alpha.ephemeral_storage",
        ),
        (
            GOOD.replace("    memory: 512\n", "    memory: 512\n    gpus: 1\n", 1),
            "jobs.alpha.gpus: GPUs are for EC2",
        ),
        (
            GOOD.replace(
                "    memory: 512\n", "    memory: 512\n    efs_volumes: {data: {file_system_id: vol-1}}\n", 1
            ),
            "jobs.alpha.efs_volumes.data.container_path: required",
        ),
        (
            GOOD.replace(
                "    memory: 512\n",
                "    memory: 512\n    efs_volumes: {data: {file_system_id: vol-1, container_path: /mnt}}\n",
                1,
            ),
            "jobs.alpha.efs_volumes.data.file_system_id",
        ),
        (
            GOOD.replace(
                "    memory: 512\n",
                "    memory: 512\n    efs_volumes: {v: {file_system_id: fs-01234567, container_path: mnt}}\n",
                1,
            ),
            "jobs.alpha.efs_volumes.v.container_path",
        ),
        (
            GOOD.replace(
                "    memory: 512\n",
                "    memory: 512\n    efs_volumes: {data: {file_system_id: fs-01234567, container_path: /m, "
                "read_only: 'no'}}\n",
                1,
            ),
            "jobs.alpha.efs_volumes.data.read_only",
        ),
    ],
    ids=[
        "unknown-top-level-key",
        "unknown-image-key",
        "build-as-string",
        "build-zero",
        "build-fraction",
        "build-negative",
        "build-bool",
        "build-missing",
        "job-image-not-declared",
        "unknown-job-key",
        "images-not-a-mapping",
        "share-with-a-hyphen",
        "share-weight-zero",
        "compute-reservation-100",
        "share-decay-negative",
        "unknown-fair-share-key",
        "unknown-queue-key",
        "kms-alias-name",
        "kms-alias-arn",
        "kms-short-account",
        "kms-secrets-alias",
        "kms-secrets-not-a-list",
        "unknown-kms-key",
        "expiry-zero",
        "force-destroy-text",
        "unknown-data-bucket-key",
        "job-share-with-a-hyphen",
        "job-share-without-fair-share-queue",
        "scheduling-priority-over-9999",
        "scheduling-priority-zero",
        "read-prefix-wildcard",
        "read-prefix-without-slash",
        "write-prefix-leading-slash",
        "write-prefix-whole-other-bucket",
        "reads-not-a-list",
        "job-table-not-declared",
        "table-key-uppercase",
        "unknown-table-key",
        "table-deletion-protection-text",
        "table-hash-key-empty",
        "tables-not-a-mapping",
        "extra-compute-named-main",
        "extra-compute-uppercase",
        "extra-compute-type",
        "queue-over-undeclared-compute",
        "queue-mixing-fargate-and-ec2",
        "queue-compute-twice",
        "queue-priority-over-1000",
        "time-limit-under-600",
        "time-limit-reason-batch-cannot-act-on",
        "extra-queue-named-default",
        "extra-queue-without-compute",
        "job-on-undeclared-queue",
        "job-share-on-queue-without-fair-share",
        "privileged",
        "host-network-mode",
        "ephemeral-storage-20",
        "gpus-on-fargate",
        "efs-without-container-path",
        "efs-not-a-file-system",
        "efs-relative-path",
        "efs-read-only-text",
    ],
)
def test_source_errors_name_the_field(release_project: Path, text: str, field: str) -> None:
    write_source(release_project, "rel-a", text)
    releases = project_releases(release_project)
    with pytest.raises(ConfigError) as caught:
        releases.load("rel-a")
    message = str(caught.value)
    assert message.startswith("rel-a.yaml: ")
    assert field in message
    assert "\n" not in message


def test_invalid_yaml_names_the_line(release_project: Path) -> None:
    lines = GOOD.splitlines(keepends=True)
    lines[5] = "  max_vcpus: [4\n"  # line 6: an unclosed flow sequence
    write_source(release_project, "rel-a", "".join(lines))
    with pytest.raises(ConfigError) as caught:
        project_releases(release_project).load("rel-a")
    assert str(caught.value).startswith("rel-a.yaml:")
    assert "invalid YAML" in str(caught.value)
    line = int(str(caught.value).split(":")[1])
    assert 6 <= line <= 8


def test_invalid_yaml_reports_the_exact_line_of_a_bad_indent(release_project: Path) -> None:
    text = "images:\n  alpha:\n    build: 1\n   beta: 2\n"
    write_source(release_project, "rel-a", text)
    with pytest.raises(ConfigError, match=r"^rel-a\.yaml:4: invalid YAML"):
        project_releases(release_project).load("rel-a")


def test_an_invalid_source_renders_nothing(project: Path) -> None:
    write_source(project, "rel-a", GOOD.replace("build: 3", "build: 0"))
    releases = project_releases(project)
    with pytest.raises(ConfigError, match="images.alpha.build"):
        releases.render()
    assert snapshot(project) == {
        "terraform/accounts/rel-a.yaml": GOOD.replace("build: 3", "build: 0").encode()
    }


# ---- set_build changes only the number -----------------------------------------------------------

LAYOUT = """\
# Notes: build: 7 here is a comment, not a build.

jobs:   # jobs first on purpose
  beta:
    image: 'beta'
    timeout_seconds: 7
    environment: {MODE: "7", OTHER: '7'}

images:
  # alpha runs the build below
  alpha:
    keep_builds: 7
    build: 7   # bumped by invoke bump


  beta: {build: 7, keep_builds: 7}   # flow style
  gamma:
    build:  7
"""


@pytest.mark.parametrize(
    ("image", "before", "after"),
    [
        ("alpha", "    build: 7   # bumped", "    build: 12   # bumped"),
        ("beta", "{build: 7, keep", "{build: 12, keep"),
        ("gamma", "    build:  7\n", "    build:  12\n"),
    ],
)
def test_set_build_changes_only_that_number(image: str, before: str, after: str) -> None:
    assert LAYOUT.count(before) == 1
    expected = LAYOUT.replace(before, after)
    result = set_build(LAYOUT, image, 12)
    assert result == expected
    images = yaml.safe_load(result)["images"]
    assert {name: entry["build"] for name, entry in images.items()} == {
        "alpha": 12 if image == "alpha" else 7,
        "beta": 12 if image == "beta" else 7,
        "gamma": 12 if image == "gamma" else 7,
    }


def test_set_build_with_equal_builds_changes_only_the_named_image() -> None:
    text = release_source({"alpha": 7, "beta": 7}, comment="Both at 7.")
    assert set_build(text, "beta", 8) == release_source({"alpha": 7, "beta": 8}, comment="Both at 7.")
    assert set_build(text, "alpha", 10000) == release_source(
        {"alpha": 10000, "beta": 7}, comment="Both at 7."
    )


def test_set_build_of_an_undeclared_image_is_refused() -> None:
    with pytest.raises(ConfigError, match="gamma"):
        set_build(release_source({"alpha": 7}), "gamma", 8)


# ---- bump refusals that need no registry ---------------------------------------------------------


class NoRegistry:
    """Stands in for Registry: any use of it means a refusal came too late."""

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the registry was asked before the refusal")


@pytest.fixture
def bump_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Releases]:
    """rel-a declares alpha only, rel-b alpha and beta; both rendered; no registry reachable."""
    write_source(project, "rel-a", release_source({"alpha": 3}))
    write_source(project, "rel-b", release_source({"alpha": 3, "beta": 2}))
    releases = project_releases(project)
    releases.render()
    monkeypatch.setattr(releases_module, "Registry", NoRegistry)
    return project, releases


@pytest.mark.terraform
@pytest.mark.parametrize("build", ["abc", "0", "-1", "1.5", "", " ", "1e3", "0x10", "12345678901234567890"])
def test_bump_refuses_a_build_that_is_not_a_positive_number(bump_project, build: str) -> None:  # noqa: ANN001
    root, releases = bump_project
    before = snapshot(root)
    with pytest.raises(UserError) as caught:
        releases.bump("alpha", build, ["rel-a"])
    message = str(caught.value)
    assert message.startswith(f"build {build!r}:")
    assert "positive whole number" in message and "\n" not in message
    assert snapshot(root) == before


@pytest.mark.parametrize(
    ("image", "accounts", "says"),
    [
        ("gamma", ["rel-a"], "unknown image 'gamma'"),
        ("alpha", ["nope"], "unknown account 'nope'"),
        ("beta", ["rel-a"], "image beta is not declared for account rel-a"),
    ],
    ids=["unknown-image", "unknown-account", "image-not-declared"],
)
@pytest.mark.terraform
def test_bump_refusals_change_no_file(bump_project, image: str, accounts: list[str], says: str) -> None:  # noqa: ANN001
    root, releases = bump_project
    before = snapshot(root)
    with pytest.raises(UserError) as caught:
        releases.bump(image, "4", accounts)
    assert says in str(caught.value)
    assert "\n" not in str(caught.value)
    assert snapshot(root) == before


@pytest.mark.terraform
def test_bump_refuses_an_account_without_a_source(bump_project) -> None:  # noqa: ANN001
    root, releases = bump_project
    (accounts_dir(root) / "rel-b.yaml").unlink()
    before = snapshot(root)
    with pytest.raises(UserError) as caught:
        releases.bump("alpha", "4", ["rel-b"])
    assert str(caught.value) == "account rel-b has no terraform/accounts/rel-b.yaml"
    assert snapshot(root) == before


@pytest.mark.terraform
def test_a_refusal_in_a_later_account_changes_no_file_of_an_earlier_one(
    bump_project,  # noqa: ANN001
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, releases = bump_project

    class FakeRegistry:
        def __init__(self, account: Any) -> None:
            self.account = account

        def builds(self, image: str) -> list[int]:
            return [4, 3, 2, 1]

    monkeypatch.setattr(releases_module, "Registry", FakeRegistry)
    before = snapshot(root)
    with pytest.raises(UserError, match="image beta is not declared for account rel-a"):
        releases.bump("beta", "4", ["rel-b", "rel-a"])
    assert snapshot(root) == before


# ---- an interrupted write leaves the old file --------------------------------------------------


@pytest.mark.terraform
def test_an_interrupted_render_leaves_the_old_file(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_source(project, "rel-a", release_source({"alpha": 3}))
    releases = project_releases(project)
    releases.render()
    target = releases.rendered("rel-a")
    old = target.read_bytes()
    write_source(project, "rel-a", release_source({"alpha": 4}))
    new = releases.render_text("rel-a").encode()
    assert new != old

    def interrupted(*_args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(settings_module.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        releases.render()
    monkeypatch.undo()

    assert target.read_bytes() == old
    for path in accounts_dir(project).iterdir():
        if path.name not in {"rel-a.yaml", "rel-a.tfvars"}:
            assert path.read_bytes() == new, f"{path.name} holds part of a rendering"
    assert releases.render() == [target]
    assert target.read_bytes() == new


@pytest.mark.parametrize(
    ("job", "field", "expected"),
    [
        ({"environment": {"PORT": 8080}}, "jobs.alpha.environment", "a mapping of text to text"),
        ({"vcpus": "1"}, "jobs.alpha.vcpus", "a number"),
        ({"memory": 512.5}, "jobs.alpha.memory", "a whole number"),
        ({"command": "echo hi"}, "jobs.alpha.command", "a list of text"),
        ({"owner": ["a", "b"]}, "jobs.alpha.owner", "text"),
    ],
    ids=["env-number", "vcpus-text", "memory-fraction", "command-not-list", "owner-list"],
)
def test_a_job_field_of_the_wrong_type_is_refused_naming_it(job: dict, field: str, expected: str) -> None:
    data = {"images": {"alpha": {"build": 1}}, "jobs": {"alpha": {"image": "alpha", **job}}}
    with pytest.raises(ConfigError) as caught:
        validate_source("rel-a.yaml", data)
    assert f"rel-a.yaml: {field}: must be {expected}" in str(caught.value)


@pytest.mark.parametrize(
    ("source", "field", "says"),
    [
        ({"jobs": {"alpha": {"memory": -1}}}, "jobs.alpha.memory", "at least 512"),
        ({"jobs": {"alpha": {"timeout_seconds": 30}}}, "jobs.alpha.timeout_seconds", "at least 60"),
        ({"jobs": {"alpha": {"retry_attempts": 11}}}, "jobs.alpha.retry_attempts", "from 1 to 10"),
        ({"jobs": {"alpha": {"retry_attempts": 0}}}, "jobs.alpha.retry_attempts", "from 1 to 10"),
        ({"jobs": {"alpha": {"vcpus": 0}}}, "jobs.alpha.vcpus", "0.25, 0.5, 1, 2, 4, 8 or 16"),
        ({"jobs": {"alpha": {"vcpus": 3}}}, "jobs.alpha.vcpus", "0.25, 0.5, 1, 2, 4, 8 or 16"),
        ({"jobs": {"alpha": {"vcpus": 0.25, "memory": 4096}}}, "jobs.alpha.memory", "0.25 vCPU: 512, 1024"),
        ({"jobs": {"alpha": {"vcpus": 16}}}, "jobs.alpha.memory", "16 vCPU: 32768 to 122880"),
        (
            {"compute": {"type": "EC2"}, "jobs": {"alpha": {"vcpus": 0.5}}},
            "jobs.alpha.vcpus",
            "a whole number on EC2",
        ),
        (
            {"jobs": {"alpha": {"evaluate_on_exit": [{"action": "RETRY"}] * 6}}},
            "jobs.alpha.evaluate_on_exit",
            "at most 5",
        ),
        (
            {"jobs": {"alpha": {"evaluate_on_exit": [{"action": "retry"}]}}},
            "jobs.alpha.evaluate_on_exit[0].action",
            "RETRY or EXIT",
        ),
        ({"log_retention_days": 10}, "log_retention_days", "one CloudWatch Logs accepts"),
        ({"images": {"alpha": {"build": 1, "keep_builds": 0}}}, "images.alpha.keep_builds", "from 1 to 1000"),
        ({"compute": {"type": "LAMBDA"}}, "compute.type", "FARGATE, FARGATE_SPOT, EC2 or SPOT"),
        ({"compute": {"max_vcpus": 0}}, "compute.max_vcpus", "a whole number from 1"),
    ],
    ids=[
        "memory-negative",
        "timeout-30s",
        "retries-11",
        "retries-0",
        "vcpus-0",
        "vcpus-3-fargate",
        "fargate-pair-small",
        "fargate-pair-default-memory",
        "vcpus-fraction-ec2",
        "six-exit-conditions",
        "exit-action-lowercase",
        "log-retention-10",
        "keep-builds-0",
        "compute-type",
        "max-vcpus-0",
    ],
)
def test_a_value_aws_would_refuse_is_refused_at_render_in_one_line_naming_the_file_and_key(
    source: dict, field: str, says: str
) -> None:
    """What terraform's validations (and AWS behind them) refuse is refused before anything is written."""
    data = {"images": {"alpha": {"build": 1}}, "jobs": {"alpha": {"image": "alpha"}}}
    for key, value in source.items():
        data[key] = (
            {name: {**data[key].get(name, {}), **entry} for name, entry in value.items()}
            if key in ("images", "jobs")
            else value
        )
    with pytest.raises(ConfigError) as caught:
        validate_source("rel-a.yaml", data)
    message = str(caught.value)
    assert message.startswith(f"rel-a.yaml: {field}: "), message
    assert says in message and "\n" not in message, message


@pytest.mark.parametrize(
    "job",
    [
        {},
        {"vcpus": 0.25, "memory": 512},
        {"vcpus": 4, "memory": 30720, "retry_attempts": 10, "timeout_seconds": 60},
        {"vcpus": 16, "memory": 122880},
        {"evaluate_on_exit": [{"action": "EXIT", "on_exit_code": "1"}] * 5},
    ],
)
def test_values_at_aws_limits_render(job: dict) -> None:
    data = {"images": {"alpha": {"build": 1}}, "jobs": {"alpha": {"image": "alpha", **job}}}
    assert validate_source("rel-a.yaml", data) == data


def test_whole_vcpus_of_any_size_render_on_ec2() -> None:
    data = {
        "compute": {"type": "SPOT", "max_vcpus": 64},
        "images": {"alpha": {"build": 1}},
        "jobs": {"alpha": {"image": "alpha", "vcpus": 3, "memory": 600}},
    }
    assert validate_source("rel-a.yaml", data) == data


def test_the_limits_render_checks_are_the_ones_terraform_validates() -> None:
    """One table on each side of the language line: they must say the same, or render and plan disagree."""
    from batchform import batchlimits

    root = Path(__file__).resolve().parent.parent
    definitions = (root / "modules/batch-job-definitions/variables.tf").read_text()
    pairs = {
        float(vcpus): list(range(int(low), int(stop), int(step)))
        for vcpus, low, stop, step in re.findall(
            r'"([0-9.]+)"\s*=\s*range\((\d+), (\d+), (\d+)\)', definitions
        )
    }
    pairs[0.25] = [int(m) for m in re.search(r'"0\.25"\s*=\s*\[([^\]]+)\]', definitions)[1].split(",")]
    assert {vcpus: list(sizes) for vcpus, sizes in batchlimits.FARGATE_MEMORY.items()} == pairs
    assert f"j.memory >= {batchlimits.MIN_MEMORY}" in definitions
    attempts = (
        f"j.retry_attempts >= {batchlimits.MIN_ATTEMPTS} && j.retry_attempts <= {batchlimits.MAX_ATTEMPTS}"
    )
    assert attempts in definitions
    assert f"j.timeout_seconds >= {batchlimits.MIN_TIMEOUT}" in definitions
    assert f"length(j.evaluate_on_exit) <= {batchlimits.MAX_EXIT_CONDITIONS}" in definitions
    variables = (root / "terraform/variables.tf").read_text()
    retention = re.search(r"contains\(\[([0-9, ]+)\], var\.log_retention_days\)", variables)[1]
    assert tuple(int(days) for days in retention.split(",")) == batchlimits.LOG_RETENTION_DAYS
    types = re.search(r"contains\((\[[^\]]+\]), var\.compute\.type\)", variables)[1]
    assert tuple(json.loads(types)) == batchlimits.COMPUTE_TYPES
    # ... and what render assumes of a key left out is what terraform gives it.
    for key, default in {**sources.JOB_DEFAULTS, **sourcesettings.COMPUTE_DEFAULTS}.items():
        assert re.search(rf"\b{key}\s*=\s*optional\((number|string), {json.dumps(default)}\)", variables), key


# ---- schedules and notifications, refused at render as EventBridge Scheduler and SNS would ---------


def _scheduled(schedule: dict | None = None, job: dict | None = None, **top: Any) -> dict:
    entry = {"image": "alpha", **({} if schedule is None else {"schedule": schedule}), **(job or {})}
    return {"images": {"alpha": {"build": 1}}, "jobs": {"alpha": entry}, **top}


FAIR_SHARE_QUEUE = {"shared": {"compute_environments": ["main"], "fair_share": {"shares": {"nightly": 1}}}}


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 3 * * ? *)",
        "cron(0/15 8-18 ? * MON-FRI *)",
        "cron(30 6 1,15 * ? 2030-2035)",
        "cron(0 12 L * ? *)",
        "cron(0 9 15W jan-mar ? *)",
        "cron(0 12 ? * 6L *)",
        "cron(0 12 ? * 3#2 *)",
        "cron(*/5 * ? * * *)",
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(1 hour)",
        "rate(12 hours)",
        "rate(1 day)",
        "rate(7 days)",
        "at(2030-01-31T03:00:00)",
    ],
)
def test_schedule_expressions_eventbridge_scheduler_takes_render(expression: str) -> None:
    data = _scheduled({"expression": expression, "timezone": "Europe/Paris", "enabled": False})
    assert validate_source("rel-a.yaml", data) == data


def test_a_scheduled_job_whose_runs_would_carry_over_50_tags_is_refused_and_50_render() -> None:
    """AWS-FIDELITY: "If the total number of combined tags from the job and job definition is over 50,
    the job is moved to the FAILED state." A schedule's runs carry its tag and a token beside the job
    definition's (the job's, the account's, batchform:image, batchform:account, managed-by): no submit
    is there to refuse them, so render does."""
    schedule = {"expression": "rate(1 day)"}
    account_tags = {f"team-{i}": "x" for i in range(4)}
    fits = {f"tag-{i}": "x" for i in range(50 - 4 - 5)}
    data = _scheduled(schedule, {"tags": fits}, tags=account_tags)
    assert validate_source("rel-a.yaml", data) == data
    over = _scheduled(schedule, {"tags": fits, "owner": "data-team"}, tags=account_tags)
    with pytest.raises(ConfigError) as refused:
        validate_source("rel-a.yaml", over)
    message = str(refused.value)
    assert "rel-a.yaml: jobs.alpha.schedule:" in message and "51 tags" in message and "\n" not in message


@pytest.mark.parametrize(
    ("source", "field", "says"),
    [
        (_scheduled({"expression": "cron(0 3 * * *)"}), "jobs.alpha.schedule.expression", "6 fields"),
        (_scheduled({"expression": "cron(0 3 * * * *)"}), "jobs.alpha.schedule.expression", "must be ?"),
        (_scheduled({"expression": "cron(0 3 ? * ? *)"}), "jobs.alpha.schedule.expression", "must be ?"),
        (_scheduled({"expression": "cron(0 3 1 * MON *)"}), "jobs.alpha.schedule.expression", "must be ?"),
        (_scheduled({"expression": "cron(60 3 * * ? *)"}), "jobs.alpha.schedule.expression", "0-59"),
        (_scheduled({"expression": "cron(0 24 * * ? *)"}), "jobs.alpha.schedule.expression", "0-23"),
        (_scheduled({"expression": "cron(0 3 32 * ? *)"}), "jobs.alpha.schedule.expression", "1-31"),
        (_scheduled({"expression": "cron(0 3 * 13 ? *)"}), "jobs.alpha.schedule.expression", "JAN-DEC"),
        (_scheduled({"expression": "cron(0 3 ? * 8 *)"}), "jobs.alpha.schedule.expression", "SUN-SAT"),
        (_scheduled({"expression": "cron(0 3 * * ? 1969)"}), "jobs.alpha.schedule.expression", "1970-2199"),
        (_scheduled({"expression": "cron(? 3 * * ? *)"}), "jobs.alpha.schedule.expression", "cannot be ?"),
        (_scheduled({"expression": "cron(0/0 3 * * ? *)"}), "jobs.alpha.schedule.expression", "at least 1"),
        (_scheduled({"expression": "cron(0 3 ? * 3#6 *)"}), "jobs.alpha.schedule.expression", "1-5"),
        (_scheduled({"expression": "cron(0 L * * ? *)"}), "jobs.alpha.schedule.expression", "takes no L"),
        (_scheduled({"expression": "cron(0  3 * * ? *)"}), "jobs.alpha.schedule.expression", "6 fields"),
        (_scheduled({"expression": "rate(1 minutes)"}), "jobs.alpha.schedule.expression", "rate(1 minute)"),
        (_scheduled({"expression": "rate(5 hour)"}), "jobs.alpha.schedule.expression", "rate(5 hours)"),
        (_scheduled({"expression": "rate(0 days)"}), "jobs.alpha.schedule.expression", "at least 1"),
        (_scheduled({"expression": "rate(2 weeks)"}), "jobs.alpha.schedule.expression", "day(s)"),
        (_scheduled({"expression": "rate(1.5 hours)"}), "jobs.alpha.schedule.expression", "must be cron("),
        (_scheduled({"expression": "at(2030-02-30T03:00:00)"}), "jobs.alpha.schedule.expression", "no date"),
        (_scheduled({"expression": "0 3 * * ?"}), "jobs.alpha.schedule.expression", "must be cron("),
        (_scheduled({"expression": 5}), "jobs.alpha.schedule.expression", "must be text"),
        (_scheduled({"timezone": "UTC"}), "jobs.alpha.schedule.expression", "required"),
        (
            _scheduled({"expression": "rate(1 day)", "timezone": "Europe/Atlantis"}),
            "jobs.alpha.schedule.timezone",
            "IANA",
        ),
        (
            _scheduled({"expression": "rate(1 day)", "timezone": "CEST"}),
            "jobs.alpha.schedule.timezone",
            "IANA",
        ),
        (
            _scheduled({"expression": "rate(1 day)", "enabled": "no"}),
            "jobs.alpha.schedule.enabled",
            "true or",
        ),
        (_scheduled({"expression": "rate(1 day)", "tz": "UTC"}), "jobs.alpha.schedule.tz", "unknown key"),
        (_scheduled(job={"schedule": "rate(1 day)"}), "jobs.alpha.schedule", "a mapping"),
        (
            _scheduled({"expression": "rate(1 day)"}, {"queue": "shared"}, queues=FAIR_SHARE_QUEUE),
            "jobs.alpha.schedule",
            "share_identifier",
        ),
        (_scheduled(notifications={"statuses": ["RUNNING"]}), "notifications.statuses[0]", "FAILED or"),
        (_scheduled(notifications={"statuses": []}), "notifications.statuses", "1 or 2"),
        (_scheduled(notifications={"statuses": ["FAILED", "FAILED"]}), "notifications.statuses", "distinct"),
        (_scheduled(notifications={"email": ["team"]}), "notifications.email[0]", "an email address"),
        (_scheduled(notifications={"email": "a@example.com"}), "notifications.email", "a list of text"),
        (
            _scheduled(notifications={"https": ["http://x.example.com/"]}),
            "notifications.https[0]",
            "https://",
        ),
        (
            _scheduled(notifications={"sqs": ["arn:aws:sqs:us-east-1:123456789012:jobs.fifo"]}),
            "notifications.sqs[0]",
            "not a FIFO queue",
        ),
        (_scheduled(notifications={"sqs": ["jobs"]}), "notifications.sqs[0]", "an SQS queue ARN"),
        (
            _scheduled(notifications={"email": ["a@example.com", "a@example.com"]}),
            "notifications.email",
            "each endpoint once",
        ),
        (_scheduled(notifications={"slack": ["#team"]}), "notifications.slack", "unknown key"),
        (_scheduled(notifications=["a@example.com"]), "notifications", "a mapping"),
        (_scheduled(kms={"notifications": "alias/aws/sns"}), "kms.notifications", "not an alias"),
    ],
    ids=[
        "cron-five-fields",
        "cron-both-days-given",
        "cron-both-days-question",
        "cron-day-of-month-and-weekday",
        "cron-minute-60",
        "cron-hour-24",
        "cron-day-32",
        "cron-month-13",
        "cron-weekday-8",
        "cron-year-1969",
        "cron-question-in-minutes",
        "cron-increment-0",
        "cron-sixth-week",
        "cron-last-hour",
        "cron-two-spaces",
        "rate-1-plural",
        "rate-5-singular",
        "rate-0",
        "rate-weeks",
        "rate-fraction",
        "at-no-such-day",
        "unix-cron",
        "expression-number",
        "expression-missing",
        "timezone-unknown",
        "timezone-abbreviation",
        "enabled-text",
        "schedule-unknown-key",
        "schedule-text",
        "schedule-on-fair-share-without-share",
        "status-running",
        "statuses-empty",
        "statuses-twice",
        "email-no-address",
        "email-not-a-list",
        "https-plain-http",
        "sqs-fifo",
        "sqs-not-an-arn",
        "endpoint-twice",
        "protocol-unknown",
        "notifications-list",
        "notifications-key-alias",
    ],
)
def test_a_schedule_or_notification_aws_would_refuse_is_refused_at_render_naming_the_file_and_key(
    source: dict, field: str, says: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_source("rel-a.yaml", source)
    message = str(caught.value)
    assert message.startswith(f"rel-a.yaml: {field}: "), message
    assert says in message and "\n" not in message, message


def test_a_scheduled_job_on_a_fair_share_queue_with_its_share_and_every_notification_render() -> None:
    data = _scheduled(
        {"expression": "rate(1 day)"},
        {"queue": "shared", "share_identifier": "nightly"},
        queues=FAIR_SHARE_QUEUE,
        notifications={
            "statuses": ["FAILED", "SUCCEEDED"],
            "email": ["batch-team@example.com"],
            "https": ["https://hooks.example.com:8443/batch?team=data"],
            "sqs": ["arn:aws:sqs:eu-west-1:111111111111:batch-events"],
        },
        kms={"notifications": "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111"},
    )
    assert validate_source("rel-a.yaml", data) == data


def test_a_schedule_name_longer_than_eventbridge_takes_is_refused_naming_the_job() -> None:
    job = "a" * 50
    data = {
        "images": {"alpha": {"build": 1}},
        "jobs": {job: {"image": "alpha", "schedule": {"expression": "rate(1 day)"}}},
    }
    with pytest.raises(
        ConfigError, match=rf"^some-account\.yaml: jobs\.{job}\.schedule: its schedule would be named"
    ):
        validate_source("some-account.yaml", data)
    assert validate_source("dev.yaml", data) == data  # batchform-dev-<50>: 64 characters
