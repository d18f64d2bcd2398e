"""The CI workflows (.github/): actionlint (with shellcheck) passes, every `./batchform` command and flag
they run exists, and they keep their rules: inputs reach scripts only through `env:`, AWS credentials
only through OIDC, every third-party action pinned to a commit, one apply of an account at a time, and
terraform as the repository pins it.

Each checker is also fed a workflow that breaks its rule, so that none of them can pass vacuously.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from batchform.cli import namespace
from invoke import Program
from invoke.exceptions import ParseError
from invoke.parser import Parser
from test_versions import admits

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
ACTIONS = sorted((GITHUB / "actions").glob("*/action.yml"))
BIN = Path(sys.executable).parent
ACTIONLINT, SHELLCHECK = BIN / "actionlint", BIN / "shellcheck"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")  # owner/repo[/path]@full commit SHA
AWS_CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials"


# ---- reading the workflows ---------------------------------------------------------------------


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def steps_of(document: dict) -> Iterator[tuple[str, dict | None, dict]]:
    """(where, the job or None for an action, step) for every step of a workflow or composite action."""
    for name, job in (document.get("jobs") or {}).items():
        for index, step in enumerate(job.get("steps") or []):
            yield f"jobs.{name}.steps[{index}]", job, step
    for index, step in enumerate((document.get("runs") or {}).get("steps") or []):
        yield f"runs.steps[{index}]", None, step


def scripts(document: dict) -> Iterator[tuple[str, str]]:
    for where, _job, step in steps_of(document):
        if "run" in step:
            yield where, step["run"]


def invocations(script: str) -> list[list[str]]:
    """Each `./batchform ARGS` in a shell script, as the words the shell hands it: up to the first
    operator (a pipe, a redirection, `;`, `&&`, `)`), with quotes removed and variables left as written."""
    found = []
    text = script.replace("\\\n", " ")
    for match in re.finditer(r"(?<![\w./-])\./batchform(?![\w.-])", text):
        lexer = shlex.shlex(text[match.end() :].split("\n", 1)[0], posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = []
        for word in iter(lexer.get_token, None):
            if set(word) <= set("|&;<>()"):
                break
            words.append(word)
        found.append(words)
    return found


def unknown_commands(words: list[str]) -> str | None:
    """Why invoke would refuse `batchform WORDS` (an unknown task, flag or missing argument), or None."""
    program = Program(namespace=namespace, name="batchform", binary="batchform")
    parser = Parser(initial=program.initial_context, contexts=namespace.to_contexts())
    try:
        parser.parse_argv(words)
    except ParseError as refused:
        return str(refused)
    return None


def command_problems(document: dict, where: str) -> list[str]:
    problems = []
    for step, script in scripts(document):
        for words in invocations(script):
            refused = unknown_commands(words)
            if refused:
                problems.append(f"{where} {step}: ./batchform {' '.join(words)}: {refused}")
    return problems


def injection_problems(document: dict, where: str) -> list[str]:
    """Expressions in a script are pasted into it before the shell reads it: a workflow input there
    could run as code. They belong in `env:`, which the script reads as a variable."""
    return [
        f"{where} {step}: {expression}"
        for step, script in scripts(document)
        for expression in re.findall(r"\$\{\{.*?\}\}", script)
    ]


def rule_problems(document: dict, where: str) -> list[str]:
    """OIDC only, pinned actions, one apply of an account at a time, terraform as the repository pins it."""
    problems = []
    text = yaml.safe_dump(document)
    for secret in (
        "aws-access-key-id",
        "aws-secret-access-key",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ):
        if secret in text:
            problems.append(f"{where}: {secret}: AWS credentials come only from OIDC (role-to-assume)")
    for step_where, job, step in steps_of(document):
        uses = step.get("uses", "")
        if uses and not uses.startswith("./") and not PINNED.match(uses):
            problems.append(f"{where} {step_where}: {uses} is not pinned to a full commit SHA")
        if uses.startswith(AWS_CREDENTIALS_ACTION + "@"):
            given = step.get("with") or {}
            if not given.get("role-to-assume"):
                problems.append(f"{where} {step_where}: configure-aws-credentials without role-to-assume")
            if not str(given.get("aws-profile", "")).startswith("batchform-"):
                problems.append(f"{where} {step_where}: the session goes to no batchform-<account> profile")
            permissions = (job or {}).get("permissions") or document.get("permissions") or {}
            if permissions.get("id-token") != "write":
                problems.append(f"{where} {step_where}: its job lacks permissions id-token: write")
        if uses.startswith("hashicorp/setup-terraform@"):
            version = str((step.get("with") or {}).get("terraform_version", ""))
            required = re.search(
                r'required_version\s*=\s*"([^"]+)"', (ROOT / "terraform/versions.tf").read_text()
            )
            if not re.fullmatch(r"\d+\.\d+\.\d+", version) or not admits(
                required[1], tuple(int(part) for part in version.split("."))
            ):
                problems.append(
                    f"{where} {step_where}: terraform_version {version!r} is not one exact version"
                )
            if (step.get("with") or {}).get("terraform_wrapper") is not False:
                problems.append(
                    f"{where} {step_where}: the wrapper changes terraform's output: terraform_wrapper false"
                )
    for name, job in (document.get("jobs") or {}).items():
        applies = any(
            "tf.apply" in words
            for _, script in scripts({"jobs": {name: job}})
            for words in invocations(script)
        )
        concurrency = job.get("concurrency") or {}
        if applies and (
            not str(concurrency.get("group", "")).startswith("batchform-apply-")
            or concurrency.get("cancel-in-progress") is not False
        ):
            problems.append(
                f"{where} jobs.{name}: applies without the account's batchform-apply-<account> group"
            )
    return problems


# ---- the repository's workflows --------------------------------------------------------------------


def test_there_are_the_three_workflows_and_the_bootstrap_action() -> None:
    assert [path.name for path in WORKFLOWS] == ["main.yml", "promote.yml", "pull-request.yml"]
    assert [path.parent.name for path in ACTIONS] == ["bootstrap"]


def _actionlint(cwd: Path) -> subprocess.CompletedProcess[str]:
    assert ACTIONLINT.exists() and SHELLCHECK.exists(), (
        "./batchform installs actionlint and shellcheck into .venv"
    )
    return subprocess.run(
        [str(ACTIONLINT), "-no-color", "-oneline", "-shellcheck", str(SHELLCHECK), "-pyflakes", ""],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_actionlint_and_shellcheck_find_nothing_in_the_workflows() -> None:
    result = _actionlint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_reports_what_is_wrong_in_a_workflow_shellcheck_included(tmp_path: Path) -> None:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "bad.yml").write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo $UNQUOTED\n        shell: bash\n      - uses: actions/checkout@v4\n        with:\n"
        "          no-such-input: true\n"
    )
    subprocess.run(
        ["git", "init", "-q"], cwd=tmp_path, check=True
    )  # actionlint finds .github from the work tree
    result = _actionlint(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "SC2086" in result.stdout and "no-such-input" in result.stdout, result.stdout


@pytest.mark.parametrize("path", WORKFLOWS + ACTIONS, ids=lambda path: str(path.relative_to(GITHUB)))
def test_every_batchform_command_and_flag_the_workflows_run_exists(path: Path) -> None:
    assert command_problems(load(path), path.name) == []


def test_the_workflows_run_the_commands_they_are_made_of() -> None:
    used = {
        words[0]
        for path in WORKFLOWS + ACTIONS
        for _, script in scripts(load(path))
        for words in invocations(script)
        if words
    }
    assert used >= {
        "--list",
        "render",
        "test",
        "accounts",
        "tf.plan",
        "tf.apply",
        "build",
        "bump",
        "releases",
        "promote",
    }


@pytest.mark.parametrize("path", WORKFLOWS + ACTIONS, ids=lambda path: str(path.relative_to(GITHUB)))
def test_no_expression_is_pasted_into_a_script(path: Path) -> None:
    assert injection_problems(load(path), path.name) == []


@pytest.mark.parametrize("path", WORKFLOWS + ACTIONS, ids=lambda path: str(path.relative_to(GITHUB)))
def test_oidc_pinned_actions_one_apply_at_a_time_and_the_pinned_terraform(path: Path) -> None:
    assert rule_problems(load(path), path.name) == []


# ---- the checkers can fail -------------------------------------------------------------------------

BAD = """
on:
  workflow_dispatch:
    inputs:
      image: {type: string}
jobs:
  release:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v7.0.1
      - uses: hashicorp/setup-terraform@dfe3c3f87815947d99a8997f908cb6525fc44e9e
        with: {terraform_version: "1.9"}
      - uses: aws-actions/configure-aws-credentials@e6de054238d6b7531b4efff3b6587d9aade6a06c
        with: {aws-access-key-id: AKIA, aws-region: eu-west-1}
      - run: |
          ./batchform build --account dev push --account dev --jsn > pushed.json
          ./batchform tf.plann --account dev
          ./batchform bump "$IMAGE" 42 \\
            --acount dev
          ./batchform promote --from dev --to prod
          ./batchform push --image "${{ inputs.image }}"
          ./batchform tf.apply --account dev
"""


def test_a_renamed_flag_an_unknown_task_and_a_missing_argument_fail_the_command_check() -> None:
    problems = command_problems(yaml.safe_load(BAD), "bad.yml")
    assert len(problems) == 4, "\n".join(problems)
    assert "--jsn" in problems[0] and "tf.plann" in problems[1] and "--acount" in problems[2]
    assert "positional" in problems[3]  # promote without its image
    good = invocations(
        "x=$(./batchform accounts --json | jq -c .)\n./batchform build --account dev push --json > p"
    )
    assert good == [["accounts", "--json"], ["build", "--account", "dev", "push", "--json"]]
    assert [unknown_commands(words) for words in good] == [None, None]


def test_an_input_in_a_script_credentials_by_key_unpinned_actions_and_an_unguarded_apply_are_refused() -> (
    None
):
    document = yaml.safe_load(BAD)
    assert injection_problems(document, "bad.yml") == ["bad.yml jobs.release.steps[3]: ${{ inputs.image }}"]
    problems = "\n".join(rule_problems(document, "bad.yml"))
    for expected in (
        "aws-access-key-id: AWS credentials come only from OIDC",
        "actions/checkout@v7.0.1 is not pinned",
        "configure-aws-credentials without role-to-assume",
        "lacks permissions id-token: write",
        "terraform_version '1.9' is not one exact version",
        "terraform_wrapper false",
        "jobs.release: applies without the account's batchform-apply-<account> group",
    ):
        assert expected in problems, problems
