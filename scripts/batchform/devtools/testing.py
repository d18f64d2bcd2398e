"""`invoke test`: bring up what the tests need, then run pytest.

With BATCHFORM_REQUIRE_ALL=1 (CI sets it) a test that needs a missing component fails
instead of skipping.

The quick lane runs only the tests that need no component (see the markers in
pyproject.toml), so it starts nothing: no local stack, no base images, no checkov.
"""

from __future__ import annotations

import os
import subprocess
import sys

from ..errors import UserError
from ..settings import paths

# Every marker of a component; a test reaching one without its marker fails (tests/conftest.py).
COMPONENT_MARKERS = ("stack", "terraform", "docker", "checkov", "browser")
QUICK = " and ".join(f"not {marker}" for marker in COMPONENT_MARKERS)
# CI's log shows where the time goes.
SLOWEST = 25


def workers() -> int:
    """Parallel pytest workers: two per core, as most tests wait on the stack (terraform's waits,
    job containers, the registry). On 2 cores, 3 workers left the cores 40% idle; 5 kept them 95%
    busy and finished no sooner than 4."""
    return 2 * (os.cpu_count() or 1)


def pytest_argv(k: str | None = None, quick: bool = False, parallel: int | None = None) -> list[str]:
    """pytest's command line; `parallel` workers (default `workers()`; 0 runs in one process)."""
    argv = [sys.executable, "-m", "pytest", f"--durations={SLOWEST}"]
    parallel = workers() if parallel is None else parallel
    if parallel:
        # Tests that share an account or a file's fixtures stay together, longest first in the
        # collection's order (tests/conftest.py), not xdist's order of most tests first.
        argv += ["-n", str(parallel), "--dist", "loadgroup", "--no-loadscope-reorder"]
    if k:
        argv += ["-k", k]
    if quick:
        argv += ["-m", QUICK]
    return argv


def bring_up() -> int:
    """Start the local stack, the base images and checkov; 0, or the exit code to stop with."""
    from ..localstack import baseimages
    from ..localstack.stack import LocalStack
    from . import checks

    try:
        LocalStack(echo=print).up()
        baseimages.ensure(print)
        checks.ensure_checkov(print)
    except UserError as exc:
        if os.environ.get("BATCHFORM_REQUIRE_ALL") == "1":
            print(f"error: {exc}", file=sys.stderr)
            return 3
        print(f"warning: local stack unavailable ({exc}); tests that need it will skip", file=sys.stderr)
    return 0


def run_suite(k: str | None = None, quick: bool = False, parallel: int | None = None) -> int:
    if not quick:
        code = bring_up()
        if code:
            return code
    argv = pytest_argv(k, quick, parallel)
    code = subprocess.call(argv, cwd=paths().root)  # noqa: S603 - fixed argument list
    if code and not quick:
        report_request_failures()
    return code


def report_request_failures() -> None:
    """After a failed run, what the emulator failed to answer: a client's retry hides the first
    try, and `local.down` deletes the log."""
    from ..localstack.stack import LocalStack

    failures = LocalStack().request_failures()
    if failures:
        print(f"the emulator logged {len(failures)} failed request(s) (last shown):")
        for line in failures:
            print(f"  {line}")
