"""`doctor`: is an account ready, and if not, what to type.

One report per account, each check a finding (batchform.doctor.findings): who the credentials
are (access), the state bucket, the jobs' network routes (network), Batch's service-linked role
and the deployer's permissions (access), quotas (access), the registry and its declared builds,
what is deployed and jobs stuck in RUNNABLE (deployed); with `run`, one real job (trial).
Checks only read; the same calls go to any account, and where an account cannot answer one the
finding is "unknown", never ok.
"""

from __future__ import annotations

from collections.abc import Callable

from ..accounts import Account
from . import access, deployed, network, trial
from .findings import FAIL, WARN, AccountReport, Finding, as_json, lines
from .subject import Subject

__all__ = ["AccountReport", "Finding", "as_json", "diagnose", "lines"]


def diagnose(
    account: Account, source: dict, progress: Callable[[str], None] | None = None, run: bool = False
) -> AccountReport:
    """Every check of one account. `source`: its merged source declarations; `run`: then one real
    job (batchform.doctor.trial)."""
    subject = Subject.of(account, source)
    report = AccountReport(account.name, account.account_id, account.region)
    add = report.findings.append
    identity = access.credentials(subject)
    add(identity)
    if identity.status == FAIL:  # nothing else can be asked with these credentials
        return report
    steps: list[tuple[str, Callable[[], list[Finding]]]] = [
        ("state bucket", lambda: [access.state_bucket(subject)]),
        ("network", lambda: network.routes(subject)),
        ("permissions", lambda: _permissions(subject)),
        ("quotas", lambda: [*access.quotas(subject), access.batch_limits(subject)]),
        ("registry", lambda: deployed.registry(subject)),
        ("deployed", lambda: _deployed(subject)),
    ]
    if run:
        steps.append(("a job's run", lambda: trial.run(subject, progress)))
    for name, step in steps:
        if progress:
            progress(f"{account.name}: checking {name}")
        report.findings.extend(step())
    return report


def _permissions(subject: Subject) -> list[Finding]:
    decisions = access.simulate(
        subject,
        {**access.DEPLOYER_ACTIONS, "*": [*access.DEPLOYER_ACTIONS["*"], "iam:CreateServiceLinkedRole"]},
    )
    may_create = decisions if isinstance(decisions, str) else decisions.get("iam:CreateServiceLinkedRole", "")
    if isinstance(may_create, str) and may_create not in ("allowed", "implicitDeny", "explicitDeny"):
        may_create = "unknown on this account"
    deployer = (
        decisions
        if isinstance(decisions, str)
        else {
            action: decision
            for action, decision in decisions.items()
            if action != "iam:CreateServiceLinkedRole"
        }
    )
    return [access.service_linked_role(subject, may_create), access.permissions(deployer)]


def _deployed(subject: Subject) -> list[Finding]:
    if not subject.outputs:
        name = subject.account.name
        return [
            Finding(
                "deployed",
                WARN,
                "nothing deployed, as far as this machine knows (no outputs of an apply here)",
                f"invoke tf.apply --account {name} (or tf.output, if it was applied elsewhere)",
            )
        ]
    findings, offered = deployed.environments_and_queues(subject)
    findings += deployed.job_definitions(subject)
    findings += list(deployed.stuck_jobs(subject, offered))
    return findings
