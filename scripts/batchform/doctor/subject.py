"""What the checks look at: an account, what its source declares, and what was deployed there."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..accounts import Account
from ..batchlimits import FARGATE_TYPES
from ..sourcesettings import all_compute_environments
from ..terraform import outputs_cache

# Answers that mean "this account cannot tell": the caller may not ask, or the endpoint does not
# implement the call (an emulator answers 500, or a body that is no AWS answer at all).
CANNOT_TELL = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "NoSuchResourceException",
    "NotImplemented",
    "InternalFailure",
    "500",
    "501",
}


def error_code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "")
    return type(exc).__name__


def cannot_tell(exc: Exception) -> bool:
    """Whether a failed call means the account cannot answer, rather than that the answer is no."""
    return (isinstance(exc, ClientError) and error_code(exc) in CANNOT_TELL) or (
        isinstance(exc, BotoCoreError) and not isinstance(exc, ClientError)
    )


@dataclass
class Subject:
    account: Account
    source: dict[str, Any]  # the account's merged source (compute, images, jobs, network)
    outputs: dict[str, Any] | None  # what its last apply recorded here, None before any

    @classmethod
    def of(cls, account: Account, source: dict[str, Any]) -> Subject:
        path = outputs_cache(account)
        recorded = json.loads(path.read_text()) if path.exists() else None
        return cls(account, source, recorded or None)

    @cached_property
    def compute(self) -> dict[str, dict[str, Any]]:
        """Compute environment key => its declaration (`main` is `compute`), with terraform's defaults."""
        return all_compute_environments(self.source)

    @property
    def runs_fargate(self) -> bool:
        return any(ce["type"] in FARGATE_TYPES for ce in self.compute.values())

    @property
    def network(self) -> dict[str, Any]:
        return dict(self.account.network or {})

    @property
    def uses_secrets(self) -> set[str]:
        """The services the jobs' secrets come from: secretsmanager, ssm."""
        found: set[str] = set()
        for job in (self.source.get("jobs") or {}).values():
            for reference in ((job or {}).get("secrets") or {}).values():
                text = str(reference)
                found.add("ssm" if text.startswith("ssm:") or ":ssm:" in text else "secretsmanager")
        return found

    @property
    def partition(self) -> str:
        return self.account.session.get_partition_for_region(self.account.region)

    @cached_property
    def identity(self) -> dict[str, Any]:
        """STS GetCallerIdentity, asked once for every check (it raises what the call raises)."""
        return self.account.client("sts").get_caller_identity()
