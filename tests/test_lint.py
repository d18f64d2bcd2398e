"""The Python code passes the project's linter (security rules included) and is formatted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ["scripts", "tests", "images", "bench", "tasks.py"]


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, *TARGETS], cwd=ROOT, capture_output=True, text=True
    )


def test_python_code_has_no_lint_findings() -> None:
    result = _ruff("check", "--output-format", "concise")
    assert result.returncode == 0, result.stdout


def test_python_code_is_formatted() -> None:
    result = _ruff("format", "--check")
    assert result.returncode == 0, result.stdout


def test_the_pre_commit_hooks_run_the_checks_of_the_suite() -> None:
    """.pre-commit-config.yaml runs what this file, and test_modules.py, check."""
    import yaml

    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    [repo] = config["repos"]
    assert repo["repo"] == "local"
    entries = {hook["id"]: hook["entry"] for hook in repo["hooks"]}
    targets = " ".join(TARGETS)
    assert entries == {
        "ruff-check": f".venv/bin/python -m ruff check {targets}",
        "ruff-format": f".venv/bin/python -m ruff format --check {targets}",
        "terraform-fmt": "terraform fmt -check -recursive",
        "module-docs": "bash -c '.venv/bin/python -m batchform.devtools.moduledocs --check modules/*'",
    }
    assert all(hook["pass_filenames"] is False for hook in repo["hooks"])
