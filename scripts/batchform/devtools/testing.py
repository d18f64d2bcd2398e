"""`invoke test`: bring up what the tests need, then run pytest.

With BATCHFORM_REQUIRE_ALL=1 (CI sets it) a test that needs a missing component fails
instead of skipping.
"""

from __future__ import annotations

import os
import subprocess
import sys

from ..errors import UserError
from ..localstack import baseimages
from ..localstack.stack import LocalStack
from ..settings import paths
from . import checks


def run_suite(k: str | None = None, quick: bool = False) -> int:
    try:
        LocalStack(echo=print).up()
        baseimages.ensure(print)
        checks.ensure_checkov(print)
    except UserError as exc:
        if os.environ.get("BATCHFORM_REQUIRE_ALL") == "1":
            print(f"error: {exc}", file=sys.stderr)
            return 3
        print(f"warning: local stack unavailable ({exc}); tests that need it will skip", file=sys.stderr)
    argv = [sys.executable, "-m", "pytest"]
    if k:
        argv += ["-k", k]
    if quick:
        argv += ["-m", "not slow"]
    return subprocess.call(argv, cwd=paths().root)  # noqa: S603 - fixed argument list
