"""The command line lists namespaced tasks with help and reports the stack's addresses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import offline_cli

ROOT = Path(__file__).resolve().parent.parent
INVOKE = Path(sys.executable).parent / "invoke"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(INVOKE), *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_invoke_list_shows_namespaced_tasks_each_with_help() -> None:
    out = run("--list").stdout
    tasks = {}
    for line in out.splitlines()[2:]:
        parts = line.split(None, 1)
        if line.startswith("  ") and not line.startswith("    ") and parts:
            tasks[parts[0]] = parts[1] if len(parts) > 1 else ""
    for name in (
        "local.up",
        "local.status",
        "local.down",
        "tf.plan",
        "tf.apply",
        "tf.destroy",
        "tf.check",
        "build",
        "push",
        "images.list",
        "render",
        "bump",
        "promote",
        "releases",
        "submit",
        "jobs.logs",
    ):
        assert name in tasks, out
        assert tasks[name].strip(), f"{name} has no help line"


def test_python_dash_m_runs_the_same_tasks() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "batchform", "--list"], cwd=ROOT, capture_output=True, text=True, timeout=60
    ).stdout
    assert "local.status" in out and "tf.apply" in out


def test_the_command_line_starts_without_the_local_stack_or_boto3_until_a_task_needs_them() -> None:
    # Every command a script or a test runs pays for what the command line imports at start;
    # boto3 alone is 0.15 s, which a refusal or a listing of accounts need not pay.
    heavy = "('localstack' in m or m.split('.')[0] in ('boto3', 'botocore'))"
    probe = f"import sys, batchform.cli; print(*sorted(m for m in sys.modules if {heavy}))"
    command = [sys.executable, "-c", probe]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == []


@pytest.mark.stack
def test_local_status_reports_each_component_with_its_address(local_stack) -> None:  # noqa: ANN001
    result = run("local.status")
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert "http://127.0.0.1:" in lines["emulator"] and "running" in lines["emulator"]
    assert "127.0.0.1:" in lines["registry"] and "running" in lines["registry"]
    assert "running" in lines["docker"]


def test_unknown_account_is_one_line_error_with_nonzero_exit() -> None:
    result = run("tf.plan", "--account", "nope")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: unknown account 'nope' (known: local, local-b)"]


def test_destroy_without_yes_is_refused() -> None:
    result = run("tf.destroy", "--account", "local")
    assert result.returncode == 2
    assert "--yes" in result.stderr


def test_bump_takes_build_as_an_optional_second_argument() -> None:
    # Both forms parse and reach the account check (which refuses an unknown account, in one line).
    for args in (("bump", "hello", "--account", "nope"), ("bump", "hello", "42", "--account", "nope")):
        result = run(*args)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip() == "error: unknown account 'nope' (known: local, local-b)"
    assert "did not receive required positional arguments: 'image'" in run("bump").stderr


def test_a_refused_field_is_named_by_its_field_in_the_domain_and_by_its_flag_on_the_command_line(
    tmp_path: Path,
) -> None:
    from batchform import jobs
    from batchform.errors import FieldError

    job_id = "8bef592f-1d2e-4c3b-9a7f-0123456789ab"
    with pytest.raises(FieldError) as refused:
        jobs.validate(jobs.SubmitRequest("hello", depends_on=[(job_id, "N_TO_N")]))
    assert refused.value.field == "depends_on"
    assert str(refused.value) == f"depends_on {job_id}:N_TO_N: N_TO_N is only for array jobs (array_size)"
    result = offline_cli(tmp_path / "home", "submit", "hello", "--depends-on", f"{job_id}:N_TO_N")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: --depends-on {job_id}:N_TO_N: N_TO_N is only for array jobs (--array-size)"
    ]
