"""What a submission is: the request, the deployed job it goes to, its result and its token.

`SubmitRequest` holds typed values (the command line parses its flags into them);
`deployed_job` reads where a declared job runs from terraform's outputs; `request_token` is
the idempotency token derived from a request's content.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from ..accounts import Account
from ..deployment import outputs
from ..errors import FieldError, UserError

# What Batch gives a job: a UUID, with `:N` for a child of an array job and `#N` for a node.
JOB_ID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}(?::[0-9]{1,5})?(?:#[0-9]{1,5})?")

TOKEN_TAG = "batchform:token"  # noqa: S105 -- a tag key, not a secret
CHUNK_TAG = "batchform:chunk"
# The schedule that submitted a job (the batch-job-schedules module's runs carry it, beside the
# token submit derives for that request).
SCHEDULE_TAG = "batchform:schedule"
# In lifecycle order: a job moving on while we look is found in a later status, not missed.
LOOKUP_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
# How a fan-out child finds its item (the contract in images/README.md).
ITEM_ENV, ITEMS_ENV, OFFSET_ENV = "BATCHFORM_ITEM", "BATCHFORM_ITEMS", "BATCHFORM_ITEMS_OFFSET"
ITEMS_URL_ENV = "BATCHFORM_ITEMS_URL"


def default_job_name(job: str, now: datetime | None = None) -> str:
    """`<job>-<UTC timestamp>`, made valid: 128 chars, alphanumeric first, [A-Za-z0-9_-] only."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    name = re.sub(r"[^A-Za-z0-9_-]", "-", f"{job}-{stamp}")
    name = re.sub(r"^[^A-Za-z0-9]+", "", name)
    return name[:128] or f"job-{stamp}"


@dataclass(frozen=True)
class DeployedJob:
    """Where a declared job runs, from terraform's outputs.

    The fields after `log_group` are absent from the outputs of accounts applied before they
    existed: None then means "not known", and nothing is checked against it.
    """

    job: str
    definition: str  # job definition ARN without revision
    queue: str  # job queue ARN
    log_group: str | None = None
    data_bucket: str | None = None  # the account's bucket for fan-out items
    items_prefix: str | None = None  # the part of it this job's role may read, e.g. fan-out/<job>/
    # The job definition's tags with the provider's default tags: they are propagated too.
    tags: dict[str, str] | None = field(default=None, hash=False)
    fair_share: bool | None = None  # its queue has a fair-share scheduling policy
    share_identifier: str | None = None  # the job's declared default share
    platform: str | None = None  # FARGATE or EC2: where its queue's compute runs it
    queue_name: str | None = None  # the queue's name in the account's source (default, ...)
    vcpus: float | None = None  # what its job definition asks for
    memory: int | None = None
    max_vcpus: float | None = None  # the most its queue's compute environments can run


@dataclass
class SubmitRequest:
    job: str
    name: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    command: list[str] | None = None
    array_size: int | None = None
    # (job id, None | "N_TO_N" | "SEQUENTIAL"); SEQUENTIAL has the empty job id
    depends_on: list[tuple[str, str | None]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    timeout: int | None = None  # seconds per attempt
    retries: int | None = None  # attempts
    items: list[str] | None = None  # fan-out, one job or array child per item
    share: str | None = None  # share identifier, for a queue with a fair-share scheduling policy
    priority: int | None = None  # scheduling priority within the share
    queue: str | None = None  # another of the account's queues than the job's own
    vcpus: float | None = None  # resources instead of the job definition's
    memory: int | None = None  # MiB
    gpus: int | None = None

    def __post_init__(self) -> None:
        # Command-line tasks hand over numbers as text (invoke types a flag by its default,
        # and None says nothing): take whole numbers in either form, refuse anything else.
        if isinstance(self.vcpus, str):
            try:
                number = float(self.vcpus)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                raise FieldError("vcpus", "{vcpus} {value}: must be a number", value=repr(self.vcpus))
            self.vcpus = number
        if isinstance(self.vcpus, float) and self.vcpus.is_integer():
            self.vcpus = int(self.vcpus)
        for field_name in ("array_size", "timeout", "retries", "priority", "memory", "gpus"):
            value = getattr(self, field_name)
            if value is None or (isinstance(value, int) and not isinstance(value, bool)):
                continue
            if isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]+\s*", value):
                setattr(self, field_name, int(value))
                continue
            raise FieldError(
                field_name, f"{{{field_name}}} {{value}}: must be a whole number", value=repr(value)
            )


@dataclass
class SubmitResult:
    job_id: str
    name: str
    token: str
    reattached: bool  # True: submitted before, this call only found it again
    array_size: int | None
    submitted_at: float  # seconds since the epoch
    children: int = 0  # items covered by this job


def deployed_job(account: Account, job: str, queue: str | None = None) -> DeployedJob:
    """Where `job` runs in `account`, from terraform's outputs (cached after every apply); on
    `queue` (another of the account's queues) instead of its own when given."""
    deployed = outputs(account)
    target = _deployed_job(account, deployed, job)
    if queue is None:
        return target
    queues = deployed.get("queues") or {}
    if queue not in queues:
        raise FieldError(
            "queue",
            "{queue} {value}: account {account} has no such queue (queues: {known})",
            value=shown(queue),
            account=account.name,
            known=", ".join(sorted(queues)) or "none deployed",
        )
    where = queues[queue]
    return replace(
        target,
        queue=where["arn"],
        queue_name=queue,
        fair_share=where.get("fair_share"),
        platform=where.get("platform"),
        max_vcpus=where.get("max_vcpus"),
    )


def _deployed_job(account: Account, deployed: dict, job: str) -> DeployedJob:
    # Without the revision, Batch runs the latest ACTIVE one: an apply by someone else since
    # our outputs were cached cannot leave us submitting a stale (or deregistered) revision.
    declared = deployed.get("jobs") or {}
    if job in declared:
        where = declared[job]
        tags = where.get("tags")
        fair_share = where.get("fair_share")
        return DeployedJob(
            job,
            where["definition"],
            where["queue"],
            where.get("log_group"),
            data_bucket=deployed.get("data_bucket") or None,
            items_prefix=where.get("items_prefix") or None,
            tags=dict(tags) if isinstance(tags, dict) else None,
            fair_share=fair_share if isinstance(fair_share, bool) else None,
            share_identifier=where.get("share_identifier") or None,
            platform=where.get("platform"),
            queue_name=where.get("queue_name"),
            vcpus=where.get("vcpus"),
            memory=where.get("memory"),
            max_vcpus=where.get("max_vcpus"),
        )
    definitions = deployed.get("job_definition_arn_prefixes") or {}
    if job not in definitions:
        known = ", ".join(sorted(set(definitions) | set(declared))) or "none"
        raise UserError(f"unknown job {job!r} in account {account.name} (deployed: {known})")
    return DeployedJob(
        job,
        definitions[job],
        deployed["job_queue_arns"]["default"],
        (deployed.get("log_group_names") or {}).get(job),
    )


def shown(value: str) -> str:
    """A value as a message names it: itself, or its repr when it would break the message's line."""
    return value if value.isprintable() else repr(value)


def not_a_job_id(field_name: str, value: str) -> FieldError:
    """`value` of the field `field_name` is no job id."""
    return FieldError(
        field_name,
        f"{{{field_name}}} {{value}}: a job id is a UUID such as 8bef592f-1d2e-4c3b-9a7f-0123456789ab "
        "(:N for a child of an array job); jobs.list shows them",
        value=value,
    )


def check_job_id(value: str) -> str:
    """A job id as Batch gives them (jobs.follow, jobs.logs, jobs.cancel), refused before any call."""
    if not isinstance(value, str) or not JOB_ID.fullmatch(value):
        raise not_a_job_id("job_id", repr(str(value)[:80]))
    return value


def request_token(account: Account, request: SubmitRequest) -> str:
    """The token of a request: the same for the same account, job and content (not name)."""
    identity = {
        "account": account.account_id,
        "job": request.job,
        "env": sorted(request.env.items()),
        "params": sorted(request.params.items()),
        "command": request.command,
        "array_size": request.array_size,
        "depends_on": sorted([job_id, kind or ""] for job_id, kind in request.depends_on),
        "tags": sorted(request.tags.items()),
        "timeout": request.timeout,
        "retries": request.retries,
        "items": request.items,
    }
    # Only when set, so that the tokens of requests without them stay what they were.
    for key in ("share", "priority", "queue", "vcpus", "memory", "gpus"):
        if getattr(request, key) is not None:
            identity[key] = getattr(request, key)
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
