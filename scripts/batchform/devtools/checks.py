"""Static checks of the Terraform code: checkov, and the inline suppressions it honours.

checkov pins an old boto3, so it lives in its own virtual environment (`.venv-checkov`,
pinned by `constraints-checkov.txt`), created on first use. It runs offline
(BC_SKIP_MAPPING, no external module download).

A suppression is only allowed inline, as `#checkov:skip=CKV_ID:one-line reason`, so the
reason sits beside the code it excuses; `inline_suppressions` finds them all so that they
can be counted and printed, and a suppression without a reason is itself a finding.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path

from ..errors import ComponentMissing
from ..settings import Paths, paths

Echo = Callable[[str], None]

SUPPRESSION = re.compile(r"#\s*checkov:skip=([A-Za-z0-9_]+)(?::(.*))?$")


@dataclass(frozen=True)
class Suppression:
    check_id: str
    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.check_id} {self.path}:{self.line} - {self.reason or '(no reason given)'}"


@dataclass(frozen=True)
class Finding:
    check_id: str
    resource: str
    path: str
    lines: tuple[int, int]
    name: str

    def __str__(self) -> str:
        return f"{self.check_id} {self.resource} ({self.path}:{self.lines[0]}): {self.name}"


@dataclass
class CheckovReport:
    passed: int = 0
    failed: list[Finding] = field(default_factory=list)
    skipped: set[tuple[str, str]] = field(default_factory=set)  # (check id, absolute file)
    parsing_errors: int = 0


def checkov_venv(p: Paths | None = None) -> Path:
    return (p or paths()).root / ".venv-checkov"


def checkov_binary(p: Paths | None = None) -> Path | None:
    """The checkov executable: our own environment's, else one on PATH."""
    own = checkov_venv(p) / "bin" / "checkov"
    if own.exists():
        return own
    from shutil import which

    found = which("checkov")
    return Path(found) if found else None


def ensure_checkov(echo: Echo, p: Paths | None = None) -> Path:
    """Create or refresh `.venv-checkov` when its pins changed; return the checkov executable."""
    p = p or paths()
    venv = checkov_venv(p)
    constraints = p.root / "constraints-checkov.txt"
    wanted = sha256(constraints.read_bytes()).hexdigest()
    stamp = venv / ".batchform-installed"
    if stamp.exists() and stamp.read_text() == wanted:
        return venv / "bin" / "checkov"
    echo(f"installing checkov into {venv.name} (once)")
    try:
        if not (venv / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # noqa: S603
        subprocess.run(  # noqa: S603 - fixed argument list
            [
                str(venv / "bin" / "pip"),
                "install",
                "-q",
                "--disable-pip-version-check",
                "-c",
                str(constraints),
                "checkov",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or "").strip().splitlines()[-1:] or [str(exc)]
        raise ComponentMissing(f"checkov could not be installed into {venv}: {detail[0]}") from None
    stamp.write_text(wanted)
    return venv / "bin" / "checkov"


def inline_suppressions(directories: Iterable[Path], root: Path) -> list[Suppression]:
    """Every `#checkov:skip=` comment in the .tf files under the directories, in file order."""
    found: list[Suppression] = []
    for directory in directories:
        for tf in sorted(directory.rglob("*.tf")):
            if ".terraform" in tf.parts:
                continue
            for number, text in enumerate(tf.read_text().splitlines(), start=1):
                match = SUPPRESSION.search(text.strip())
                if match:
                    found.append(
                        Suppression(match[1], str(tf.relative_to(root)), number, (match[2] or "").strip())
                    )
    return found


def run_checkov(directories: Iterable[Path], binary: Path) -> CheckovReport:
    """Run checkov's terraform checks over the directories, offline; one merged report."""
    argv = [str(binary), "--framework", "terraform", "--output", "json", "--compact", "--skip-download"]
    for directory in directories:
        argv += ["--directory", str(directory)]
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE")
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)  # noqa: S603
    if result.returncode not in (0, 1):
        raise ComponentMissing(f"checkov failed (exit {result.returncode}): {result.stderr.strip()[-300:]}")
    report = CheckovReport()
    for document in _json_documents(result.stdout):
        summary = document.get("summary", {})
        report.passed += summary.get("passed", 0)
        report.parsing_errors += summary.get("parsing_errors", 0)
        results = document.get("results", {})
        for check in results.get("failed_checks", []):
            finding = Finding(
                check["check_id"],
                check["resource"],
                check.get("file_abs_path", check["file_path"]),
                tuple(check.get("file_line_range") or (0, 0)),
                check.get("check_name", ""),
            )
            if finding not in report.failed:
                report.failed.append(finding)
        for check in results.get("skipped_checks", []):
            report.skipped.add((check["check_id"], check.get("file_abs_path", check["file_path"])))
    return report


def _json_documents(text: str) -> list[dict]:
    """checkov prints one JSON document per scanned directory, back to back."""
    decoder = json.JSONDecoder()
    documents: list[dict] = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return documents
        document, index = decoder.raw_decode(text, index)
        documents.extend(document if isinstance(document, list) else [document])


@dataclass
class StaticCheckResult:
    """checkov's verdict over the Terraform code, with every suppression it honoured."""

    report: CheckovReport
    suppressions: list[Suppression]

    @property
    def problems(self) -> list[str]:
        """Failed checks, reasonless suppressions, and checks skipped by anything but an inline comment."""
        found = [f"failed: {finding}" for finding in self.report.failed]
        found += [f"suppression without a reason: {s}" for s in self.suppressions if not s.reason]
        inline = {(s.check_id, s.path) for s in self.suppressions}
        root = paths().root
        for check_id, path in sorted(self.report.skipped):
            relative = str(Path(path).resolve().relative_to(root)) if Path(path).is_absolute() else path
            if (check_id, relative) not in inline:
                found.append(f"skipped without an inline suppression: {check_id} {relative}")
        if self.report.parsing_errors:
            found.append(f"checkov could not parse {self.report.parsing_errors} file(s)")
        return found

    def lines(self) -> list[str]:
        out = [
            f"checkov: {self.report.passed} passed, {len(self.report.failed)} failed, "
            f"{len(self.suppressions)} inline suppression(s)"
        ]
        out += [f"  suppressed {s}" for s in self.suppressions]
        out += [f"  {problem}" for problem in self.problems]
        return out

    def as_dict(self) -> dict:
        return {
            "passed": self.report.passed,
            "failed": [str(f) for f in self.report.failed],
            "suppressions": [s.__dict__ for s in self.suppressions],
            "problems": self.problems,
        }


def check_terraform(echo: Echo, p: Paths | None = None) -> StaticCheckResult:
    """checkov over terraform/ and modules/ (installing it on first use), plus the suppressions."""
    p = p or paths()
    binary = checkov_binary(p) if (checkov_venv(p) / ".batchform-installed").exists() else None
    binary = binary or ensure_checkov(echo, p)
    directories = [p.terraform_dir, p.modules_dir]
    return StaticCheckResult(run_checkov(directories, binary), inline_suppressions(directories, p.root))
