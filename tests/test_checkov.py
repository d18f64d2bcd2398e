"""checkov finds nothing in terraform/ and modules/; every suppression is inline, with a reason."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from batchform.devtools.checks import StaticCheckResult, inline_suppressions, run_checkov
from batchform.settings import paths


@pytest.mark.checkov
def test_terraform_and_modules_have_no_failed_checkov_check(
    checkov: Path, suite_summary: list[str], tally: Counter
) -> None:
    p = paths()
    directories = [p.terraform_dir, p.modules_dir]
    result = StaticCheckResult(run_checkov(directories, checkov), inline_suppressions(directories, p.root))
    suite_summary.extend(result.lines())
    tally["checkov passed"] += result.report.passed
    tally["checkov suppressed"] += len(result.suppressions)
    assert result.report.passed > 0
    assert result.problems == []


@pytest.mark.checkov
def test_checkov_reports_an_insecure_resource(checkov: Path, tmp_path: Path) -> None:
    """The check above can fail: an unencrypted, mutable repository is reported."""
    (tmp_path / "main.tf").write_text(
        'resource "aws_ecr_repository" "open" {\n  name                 = "open"\n'
        '  image_tag_mutability = "MUTABLE"\n}\n'
    )
    report = run_checkov([tmp_path], checkov)
    assert "CKV_AWS_51" in {finding.check_id for finding in report.failed}  # tags must be immutable


def test_a_suppression_without_a_reason_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "aws_ecr_repository" "r" {\n  #checkov:skip=CKV_AWS_136:AES256 is enough here\n'
        '  #checkov:skip=CKV_AWS_51\n  name = "r"\n}\n'
    )
    found = inline_suppressions([tmp_path], tmp_path)
    assert [(s.check_id, s.line, s.reason) for s in found] == [
        ("CKV_AWS_136", 2, "AES256 is enough here"),
        ("CKV_AWS_51", 3, ""),
    ]
