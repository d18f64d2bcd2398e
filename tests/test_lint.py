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
