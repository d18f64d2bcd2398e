"""Tasks of the development tooling: `test` and `bench`."""

from __future__ import annotations

import sys

from invoke import Context, Exit, task


@task(
    iterable=["only"],
    help={
        "quick": "small sizes: proves every benchmark works (what CI runs)",
        "only": "run only this benchmark (repeatable): submit, follow, logs, images, plan",
    },
)
def bench(c: Context, quick: bool = False, only: list[str] | None = None) -> None:
    """Measure the project against the reference ways on a private local stack (see bench/RESULTS.md)."""
    import subprocess

    from ..settings import paths

    root = paths().root
    argv = [sys.executable, str(root / "bench" / "run.py"), *(["--quick"] if quick else [])]
    for name in only or []:
        argv += ["--only", name]
    code = subprocess.call(argv, cwd=root)  # noqa: S603 - fixed argument list
    if code:
        raise Exit(code=code)


@task(
    help={
        "k": "only tests matching this pytest expression",
        "quick": "only the tests that need no local stack, docker, terraform or checkov; starts nothing",
        "workers": "parallel pytest workers (default: one more than the cores; 0: none)",
    }
)
def test(c: Context, k: str | None = None, quick: bool = False, workers: str | None = None) -> None:
    """Run the test suite (starts the local stack first, except with --quick)."""
    from ..devtools.testing import run_suite

    code = run_suite(k=k, quick=quick, parallel=None if workers is None else int(workers))
    if code:
        raise Exit(code=code)
