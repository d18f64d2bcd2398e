"""What a check found, and how a report of them is shown: lines for a person, JSON for a program.

Each finding is ok, warn, fail or unknown. "unknown" is what a check says when the account cannot
answer it (the caller may not simulate IAM policies, Service Quotas has no figure): never an ok
it could not prove. A report fails when any finding fails.
"""

from __future__ import annotations

import textwrap
from dataclasses import asdict, dataclass, field
from typing import Any

OK, WARN, FAIL, UNKNOWN = "ok", "warn", "fail", "unknown"
STATUSES = (OK, WARN, FAIL, UNKNOWN)
WIDTH = 100  # the human output fits a terminal this wide
_CHECK_WIDTH = 13


@dataclass(frozen=True)
class Finding:
    check: str  # what was checked: "credentials", "network", "image", ...
    status: str  # one of STATUSES
    found: str  # what was found, in one sentence
    fix: str = ""  # what to type or change, where there is something to do
    subject: str = ""  # what it was checked on, where there are several: a subnet, an image

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r}: one of {', '.join(STATUSES)}")


@dataclass
class AccountReport:
    account: str
    account_id: str
    region: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def status(self) -> str:
        """fail if any finding failed, else warn if any warned, else ok ("unknown" is not a warning)."""
        statuses = {f.status for f in self.findings}
        return FAIL if FAIL in statuses else WARN if WARN in statuses else OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "account_id": self.account_id,
            "region": self.region,
            "status": self.status,
            "checks": [asdict(finding) for finding in self.findings],
        }


def as_json(reports: list[AccountReport]) -> dict[str, Any]:
    """The documented `doctor --json` shape: {"status": ..., "accounts": [{..., "checks": [...]}]}."""
    statuses = {report.status for report in reports}
    overall = FAIL if FAIL in statuses else WARN if WARN in statuses else OK
    return {"status": overall, "accounts": [report.as_dict() for report in reports]}


def lines(report: AccountReport) -> list[str]:
    """The report as a person reads it: one line per check (wrapped at WIDTH), its fix below it."""
    out = [f"account {report.account} ({report.account_id}, {report.region}): {report.status}"]
    lead = " " * (2 + 8 + _CHECK_WIDTH)
    for finding in report.findings:
        first = f"  {finding.status:<7} {finding.check:<{_CHECK_WIDTH - 1}} "
        found = f"{finding.subject}: {finding.found}" if finding.subject else finding.found
        out.extend(textwrap.wrap(found, WIDTH, initial_indent=first, subsequent_indent=lead))
        if finding.fix:
            out.extend(
                textwrap.wrap(finding.fix, WIDTH, initial_indent=f"{lead}fix: ", subsequent_indent=lead)
            )
    return out
