"""The benchmarks run: `python bench/run.py --quick` ends well and reports every benchmark.

A benchmark, not a test of speed: nothing here looks at the numbers.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from batchform.localstack.stack import LocalStack
from conftest import missing

pytestmark = [
    pytest.mark.stack,
    pytest.mark.terraform,
    pytest.mark.docker,
    pytest.mark.browser,
]  # bench/ui.py drives chromium

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ("submit", "fanout", "follow", "logs", "images", "plan", "ui")
RESULT = re.compile(
    r"^(?P<name>[a-z-]+): ours (?P<ours>.+), reference (?P<reference>.+), ratio (?P<ratio>\S+)$"
)


def test_every_benchmark_runs_in_quick_mode() -> None:
    if not (shutil.which("docker-registry") or shutil.which("registry")):
        missing("the docker-registry binary")
    if not LocalStack.docker_healthy():
        missing("a docker engine")
    if shutil.which("terraform") is None:
        missing("terraform")

    done = subprocess.run(
        [sys.executable, "bench/run.py", "--quick"], cwd=ROOT, capture_output=True, text=True, timeout=900
    )

    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    results = [match["name"] for line in done.stdout.splitlines() if (match := RESULT.match(line))]
    assert sorted(results) == sorted(BENCHMARKS), output
