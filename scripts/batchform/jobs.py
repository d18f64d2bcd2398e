"""Submit Batch jobs by the name they are declared under, and follow them to the end.

A submission is a `SubmitRequest` sent by a `Submitter`. The submitter checks every AWS limit
before its first AWS call, paces its calls (a token bucket shared by all threads using it, on
top of botocore's own retries) and makes submitting again safe:

Idempotency
    Every submission has a token: the one given, or one derived from the account, the job and
    the request's content (not its name). The job is tagged with it (`batchform:token`), and a
    journal, `<BATCHFORM_HOME>/journal/<account>.jsonl`, records `submitting` (with the job
    name) before SubmitJob and `submitted` (with the job id) after. The same token again
    within the reattach window returns the recorded job instead of a second one; after a
    crash during the call, the job is looked up in the queue by its recorded name and token
    tag, and submitted (under the same name) only when it is not there. Submits of one token
    take turns (a lock file under the journal's directory), so two at once start one job.

Fan-out (`items`, from `--each FILE`)
    One array child per item; how a child finds its item is the contract in images/README.md.
    When every item fits in one request's container overrides (8,192 characters, what ECS
    accepts), they go inline, in one SubmitJob. Otherwise they are split, in order, into as few
    array jobs as the 10,000-children limit allows, and each job's items are one object in the
    account's data bucket (`batchform.fanout`), written before its SubmitJob. Each job is
    tagged `batchform:chunk` with its index and is journalled on its own, so an interrupted
    fan-out submits only the jobs still missing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .accounts import Account
from .deployment import outputs
from .errors import UserError
from .fanout import ITEMS_URL_ENV, LONGEST_URL, items_key, items_url, store_items
from .retry import transient_kind
from .secretnames import PLAIN_VARIABLE_REFUSAL, looks_like_secret
from .settings import file_lock, fsync_dir, paths

Echo = Callable[[str], None]

FINAL_STATES = ("SUCCEEDED", "FAILED")
DESCRIBE_BATCH = 100  # DescribeJobs takes at most 100 ids per call
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
# A token is a tag value, so it keeps to characters every AWS tag accepts.
TOKEN = re.compile(r"^[A-Za-z0-9_.:/=+@-]{1,128}$")
# What Batch gives a job: a UUID, with `:N` for a child of an array job and `#N` for a node.
JOB_ID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}(?::[0-9]{1,5})?(?:#[0-9]{1,5})?")

MAX_REQUEST_BYTES = 30 * 1024  # SubmitJob's whole request
# ECS's limit on a task's container overrides (environment + command): SubmitJob accepts more,
# and the job then FAILS with "Container Overrides length must be at most 8192".
MAX_OVERRIDES_CHARS = 8192
MIN_ARRAY_SIZE, MAX_ARRAY_SIZE = 2, 10_000
MAX_DEPENDENCIES = 20
MIN_TIMEOUT = 60
MIN_ATTEMPTS, MAX_ATTEMPTS = 1, 10
MAX_TAGS, MAX_TAG_KEY, MAX_TAG_VALUE = 50, 128, 256
# SubmitJob shareIdentifier: "limited to 255 alphanumeric characters"; fair-share policies name
# their shares with underscores too.
SHARE_IDENTIFIER = re.compile(r"[A-Za-z0-9_]{1,255}")
MIN_PRIORITY, MAX_PRIORITY = 0, 9999  # schedulingPriorityOverride
DEPENDENCY_TYPES = ("N_TO_N", "SEQUENTIAL")

TOKEN_TAG = "batchform:token"  # noqa: S105 -- a tag key, not a secret
CHUNK_TAG = "batchform:chunk"
ITEM_ENV, ITEMS_ENV, OFFSET_ENV = "BATCHFORM_ITEM", "BATCHFORM_ITEMS", "BATCHFORM_ITEMS_OFFSET"

# In lifecycle order: a job moving on while we look is found in a later status, not missed.
LOOKUP_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
BACKOFF_BASE, BACKOFF_CAP = 0.2, 10.0
JOURNAL_COMPACT_BYTES = 1 << 20
JOURNAL_KEEP_SECONDS = 86_400.0


def default_job_name(job: str, now: datetime | None = None) -> str:
    """`<job>-<UTC timestamp>`, made valid: 128 chars, alphanumeric first, [A-Za-z0-9_-] only."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    name = re.sub(r"[^A-Za-z0-9_-]", "-", f"{job}-{stamp}")
    name = re.sub(r"^[^A-Za-z0-9]+", "", name)
    return name[:128] or f"job-{stamp}"


@dataclass
class JobState:
    job_id: str
    name: str
    status: str
    reason: str = ""
    exit_code: int | None = None


# ---- what to submit -------------------------------------------------------------------------


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

    def __post_init__(self) -> None:
        # Command-line tasks hand over numbers as text (invoke types a flag by its default,
        # and None says nothing): take whole numbers in either form, refuse anything else.
        for field_name, flag in (
            ("array_size", "--array-size"),
            ("timeout", "--timeout"),
            ("retries", "--retries"),
            ("priority", "--priority"),
        ):
            value = getattr(self, field_name)
            if value is None or (isinstance(value, int) and not isinstance(value, bool)):
                continue
            if isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]+\s*", value):
                setattr(self, field_name, int(value))
                continue
            raise UserError(f"{flag} {value!r}: must be a whole number")


@dataclass
class SubmitResult:
    job_id: str
    name: str
    token: str
    reattached: bool  # True: submitted before, this call only found it again
    array_size: int | None
    submitted_at: float  # seconds since the epoch
    children: int = 0  # items covered by this job


def deployed_job(account: Account, job: str) -> DeployedJob:
    """Where `job` runs in `account`, from terraform's outputs (cached after every apply)."""
    deployed = outputs(account)
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


# ---- command-line values --------------------------------------------------------------------


def _shown(value: str) -> str:
    """A value as a message names it: itself, or its repr when it would break the message's line."""
    return value if value.isprintable() else repr(value)


def _not_a_job_id(label: str) -> UserError:
    return UserError(
        f"{label}: a job id is a UUID such as 8bef592f-1d2e-4c3b-9a7f-0123456789ab "
        "(:N for a child of an array job); jobs.list shows them"
    )


def check_job_id(value: str) -> str:
    """A job id as Batch gives them (jobs.follow, jobs.logs, jobs.cancel), refused before any call."""
    if not isinstance(value, str) or not JOB_ID.fullmatch(value):
        raise _not_a_job_id(f"JOB_ID {str(value)[:80]!r}")
    return value


def _check_env_name(name: str) -> None:
    if not ENV_NAME.fullmatch(name):  # `$` would let a trailing newline through
        raise UserError(
            f"--env {name!r}: names are letters, digits and underscores, not starting with a digit"
        )
    if name.startswith("AWS_BATCH"):
        raise UserError(f"--env {name}: names starting with AWS_BATCH are reserved by AWS Batch")
    if looks_like_secret(name):
        raise UserError(f"--env {name}: {PLAIN_VARIABLE_REFUSAL}")


def parse_env(pairs: Iterable[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise UserError(f"--env {pair!r}: expected NAME=VALUE")
        _check_env_name(name)
        env[name] = value
    return env


def parse_pairs(pairs: Iterable[str], what: str) -> dict[str, str]:
    """`KEY=VALUE` values of the flag `what` (`--param`, `--tag`); a later key wins."""
    found: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UserError(f"{what} {pair!r}: expected KEY=VALUE")
        if not key:
            raise UserError(f"{what} {pair!r}: empty key")
        found[key] = value
    return found


def parse_depends_on(values: Iterable[str]) -> list[tuple[str, str | None]]:
    """`JOBID`, `JOBID:N_TO_N`, or `SEQUENTIAL` (which names no job) -> (job id, type)."""
    found: list[tuple[str, str | None]] = []
    for value in values:
        text = value.strip()
        if text.upper() == "SEQUENTIAL":
            found.append(("", "SEQUENTIAL"))
            continue
        head, sep, tail = text.rpartition(":")
        kind: str | None = None
        job_id = text
        if sep and tail.upper() in DEPENDENCY_TYPES:
            job_id, kind = head, tail.upper()
        elif sep and not tail.isdigit():  # `JOBID:3` is a child of an array job, not a type
            raise UserError(f"--depends-on {_shown(value)}: expected JOBID, JOBID:N_TO_N or SEQUENTIAL")
        if kind == "SEQUENTIAL":
            raise UserError(
                f"--depends-on {_shown(value)}: SEQUENTIAL names no job; give --depends-on SEQUENTIAL"
            )
        if not job_id:
            raise UserError(f"--depends-on {value!r}: no job id")
        found.append((job_id, kind))
    return found


def load_items(path: str | Path) -> list[str]:
    """The items of `--each FILE`: a JSON array, or one item per non-empty line.

    Items of a JSON array that are not strings become their compact JSON text. A line's
    surrounding whitespace is dropped.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"--each {path}: no such file") from None
    except UnicodeDecodeError:
        raise UserError(f"--each {path}: not UTF-8 text") from None
    except OSError as exc:
        raise UserError(f"--each {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if path.suffix.lower() == ".json":
            raise UserError(f"--each {path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        data = None
    if isinstance(data, list):
        items = [v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for v in data]
    elif path.suffix.lower() == ".json":
        raise UserError(f"--each {path}: a JSON file of items must hold an array")
    else:
        items = [line.strip() for line in text.splitlines() if line.strip()]
    if not items:
        raise UserError(f"--each {path}: no items")
    return items


# ---- limits ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Chunk:
    """One SubmitJob call of a request: the whole request, or a run of its items."""

    index: int = 0
    offset: int = 0  # index of the first item in the request's items
    items: tuple[str, ...] | None = None  # None: the request has no items
    array_size: int | None = None
    stored: bool = False  # the items are in the data bucket, not in the environment

    @property
    def children(self) -> int:
        return len(self.items or ())


# The largest queue and definition ARNs, job name and token a request can have. Fan-out is
# planned against them, so the split depends on the request alone (the same on every
# resubmission, whatever name or queue) and fits wherever it is sent.
_ENVELOPE_TARGET = DeployedJob(
    job="",
    definition="arn:aws-iso-b:batch:us-isob-east-1:000000000000:job-definition/" + "d" * 128,
    queue="arn:aws-iso-b:batch:us-isob-east-1:000000000000:job-queue/" + "q" * 128,
)
_ENVELOPE_NAME = "n" * 128
_ENVELOPE_TOKEN = "t" * 128
_DERIVED_TOKEN = "0" * 32  # as long as request_token()'s


def _dependency_text(job_id: str, kind: str | None) -> str:
    return ":".join(part for part in (job_id, kind) if part)


def _check_tags(request: SubmitRequest) -> None:
    ours = 2 if request.items is not None else 1
    if len(request.tags) > MAX_TAGS - ours:
        raise UserError(
            f"--tag: at most {MAX_TAGS - ours} tags (AWS allows {MAX_TAGS} per job and batchform "
            f"adds {ours}), got {len(request.tags)}"
        )
    for key, value in request.tags.items():
        if not 1 <= len(key) <= MAX_TAG_KEY:
            raise UserError(f"--tag {key[:40]!r}: keys are 1-{MAX_TAG_KEY} characters, got {len(key)}")
        if key.lower().startswith("aws:"):
            raise UserError(f"--tag {_shown(key)}: keys starting with aws: are reserved by AWS")
        if key in (TOKEN_TAG, CHUNK_TAG):
            raise UserError(f"--tag {key}: set by batchform (choose the token with --token)")
        if len(value) > MAX_TAG_VALUE:
            raise UserError(
                f"--tag {_shown(key)}: values are at most {MAX_TAG_VALUE} characters, got {len(value)}"
            )


def _check_dependencies(request: SubmitRequest) -> None:
    if len(request.depends_on) > MAX_DEPENDENCIES:
        raise UserError(
            f"--depends-on: at most {MAX_DEPENDENCIES} dependencies, got {len(request.depends_on)}"
        )
    for job_id, kind in request.depends_on:
        shown = _shown(_dependency_text(job_id, kind)) or "''"
        if kind is not None and kind not in DEPENDENCY_TYPES:
            raise UserError(f"--depends-on {shown}: the type is N_TO_N or SEQUENTIAL")
        if kind == "SEQUENTIAL" and job_id:
            raise UserError(f"--depends-on {shown}: SEQUENTIAL names no job; give --depends-on SEQUENTIAL")
        if kind != "SEQUENTIAL" and not job_id:
            raise UserError(f"--depends-on {shown}: no job id")
        if kind is not None and request.array_size is None:
            if request.items is not None:
                raise UserError(
                    f"--depends-on {shown}: {kind} needs --array-size (--each may split its items "
                    "over several array jobs)"
                )
            raise UserError(f"--depends-on {shown}: {kind} is only for array jobs (--array-size)")
        if job_id and not JOB_ID.fullmatch(job_id):
            raise _not_a_job_id(f"--depends-on {shown[:120]}")


def _check_fields(request: SubmitRequest) -> None:
    if request.name is not None and not JOB_NAME.fullmatch(request.name):
        raise UserError(
            f"--name {request.name[:140]!r}: job names are 1-128 letters, digits, hyphens and "
            "underscores, starting with a letter or digit"
        )
    for name in request.env:
        _check_env_name(name)
    if request.items is not None:
        taken = sorted({ITEM_ENV, ITEMS_ENV, OFFSET_ENV, ITEMS_URL_ENV} & set(request.env))
        if taken:
            raise UserError(f"--env {taken[0]}: set by --each, which gives each job its items there")
        if request.array_size is not None:
            raise UserError(
                "--each and --array-size: --each makes one array child per item; give one of them"
            )
        if not request.items:
            raise UserError("--each: no items")
    if request.array_size is not None and not MIN_ARRAY_SIZE <= request.array_size <= MAX_ARRAY_SIZE:
        raise UserError(
            f"--array-size {request.array_size}: must be from {MIN_ARRAY_SIZE} to {MAX_ARRAY_SIZE}"
        )
    if request.command is not None and not request.command:
        raise UserError("--command: empty; leave it out to run the job definition's command")
    for key in request.params:
        if not key:
            raise UserError("--param: empty name")
    _check_tags(request)
    _check_dependencies(request)
    if request.timeout is not None and request.timeout < MIN_TIMEOUT:
        raise UserError(f"--timeout {request.timeout}: must be at least {MIN_TIMEOUT} seconds")
    if request.retries is not None and not MIN_ATTEMPTS <= request.retries <= MAX_ATTEMPTS:
        raise UserError(f"--retries {request.retries}: must be from {MIN_ATTEMPTS} to {MAX_ATTEMPTS}")
    if request.share is not None and not SHARE_IDENTIFIER.fullmatch(request.share):
        raise UserError(
            f"--share {request.share[:80]!r}: a share identifier is 1-255 letters, digits and underscores"
        )
    if request.priority is not None and not MIN_PRIORITY <= request.priority <= MAX_PRIORITY:
        raise UserError(f"--priority {request.priority}: must be from {MIN_PRIORITY} to {MAX_PRIORITY}")


def _with_default_share(request: SubmitRequest, target: DeployedJob) -> SubmitRequest:
    """`request` with the job's declared share when it gives none and the queue takes shares."""
    if request.share is None and target.share_identifier and target.fair_share is not False:
        return replace(request, share=target.share_identifier)
    return request


def _check_scheduling(request: SubmitRequest, target: DeployedJob) -> None:
    """SubmitJob shareIdentifier: "If the job queue has a fair-share scheduling policy, then this
    parameter must be specified"; a queue without one refuses it. Unknown (older outputs): unchecked."""
    queue = target.queue.rpartition("/")[2]
    if target.fair_share is True and request.share is None:
        raise UserError(
            f"--share: queue {queue} has a fair-share scheduling policy, so every job needs a share "
            f"identifier, and job {target.job} declares no default share: give --share ID"
        )
    if target.fair_share is False:
        if request.share is not None:
            raise UserError(
                f"--share {request.share}: queue {queue} has no fair-share scheduling policy, and "
                "AWS Batch refuses a share identifier there"
            )
        if request.priority is not None:
            raise UserError(
                f"--priority {request.priority}: only for a queue with a fair-share scheduling "
                f"policy, and queue {queue} has none"
            )


def _check_propagated_tags(request: SubmitRequest, target: DeployedJob) -> None:
    """propagateTags: "If the total number of combined tags from the job and job definition is
    over 50, the job is moved to the FAILED state" (the provider's default tags included)."""
    if target.tags is None:
        return
    ours = {TOKEN_TAG} | ({CHUNK_TAG} if request.items is not None else set())
    total = len(set(request.tags) | ours | set(target.tags))
    if total > MAX_TAGS:
        raise UserError(
            f"--tag: the job's tasks would get {total} tags ({len(request.tags)} from --tag, "
            f"{len(ours)} of batchform's, {len(target.tags)} of job definition {target.job} with the "
            f"default tags; a key in both counted once), more than the {MAX_TAGS} AWS Batch "
            "propagates before failing the job: give fewer --tag"
        )


def _check_token(token: str) -> None:
    if not TOKEN.fullmatch(token):
        raise UserError(f"--token {token[:140]!r}: 1-128 letters, digits and the characters _ . : / = + @ -")


def _job_env(request: SubmitRequest, chunk: _Chunk, url: str | None) -> dict[str, str]:
    env = dict(request.env)
    if chunk.items is not None:
        if chunk.stored:
            env[ITEMS_URL_ENV] = url or LONGEST_URL
        elif chunk.array_size is None:
            env[ITEM_ENV] = chunk.items[0]
        else:
            env[ITEMS_ENV] = json.dumps(list(chunk.items), ensure_ascii=False, separators=(",", ":"))
        env[OFFSET_ENV] = str(chunk.offset)
    return env


def _body(
    target: DeployedJob,
    request: SubmitRequest,
    chunk: _Chunk,
    name: str,
    token: str,
    url: str | None = None,
) -> dict[str, Any]:
    """The SubmitJob request for one chunk, as boto3 takes it; `url`: where a stored chunk's items are."""
    body: dict[str, Any] = {"jobName": name, "jobQueue": target.queue, "jobDefinition": target.definition}
    overrides: dict[str, Any] = {}
    env = _job_env(request, chunk, url)
    if env:
        overrides["environment"] = [{"name": k, "value": v} for k, v in sorted(env.items())]
    if request.command is not None:
        overrides["command"] = list(request.command)
    if overrides:
        body["containerOverrides"] = overrides
    if request.params:
        body["parameters"] = dict(sorted(request.params.items()))
    if chunk.array_size is not None:
        body["arrayProperties"] = {"size": chunk.array_size}
    if request.depends_on:
        body["dependsOn"] = [
            {**({"jobId": job_id} if job_id else {}), **({"type": kind} if kind else {})}
            for job_id, kind in request.depends_on
        ]
    tags = {**request.tags, TOKEN_TAG: token}
    if chunk.items is not None:
        tags[CHUNK_TAG] = str(chunk.index)
    body["tags"] = tags
    if request.timeout is not None:
        body["timeout"] = {"attemptDurationSeconds": request.timeout}
    if request.retries is not None:
        body["retryStrategy"] = {"attempts": request.retries}
    if request.share is not None:
        body["shareIdentifier"] = request.share
    if request.priority is not None:
        body["schedulingPriorityOverride"] = request.priority
    # The ECS tasks carry the token and the user's tags too: costs and resources trace back.
    body["propagateTags"] = True
    return body


def request_bytes(body: dict[str, Any]) -> int:
    """The size of a SubmitJob request as botocore sends it (json.dumps with its defaults)."""
    return len(json.dumps(body).encode())


def overrides_chars(body: dict[str, Any]) -> int:
    """The length of a request's container overrides as ECS is sent them: their JSON text, as
    botocore writes it (non-ASCII escaped, so never fewer characters than ECS counts)."""
    overrides = body.get("containerOverrides")
    return len(json.dumps(overrides)) if overrides else 0


def _body_refusal(body: dict[str, Any]) -> UserError | None:
    """Why AWS would refuse `body` (SubmitJob at once, or ECS when the job starts), or None."""
    size = request_bytes(body)
    if size > MAX_REQUEST_BYTES:
        return UserError(
            f"--env/--param/--command/--tag: the SubmitJob request would be {size} bytes, more than "
            f"the {MAX_REQUEST_BYTES} (30 KiB) AWS Batch accepts"
        )
    chars = overrides_chars(body)
    if chars > MAX_OVERRIDES_CHARS:
        return UserError(
            f"--env/--command: the container overrides would be {chars} characters, more than the "
            f"{MAX_OVERRIDES_CHARS} ECS accepts (the job would be accepted, then fail)"
        )
    return None


def _check_body(body: dict[str, Any]) -> None:
    refusal = _body_refusal(body)
    if refusal is not None:
        raise refusal


def _plan(request: SubmitRequest) -> list[_Chunk]:
    """The SubmitJob calls of `request`: all items inline when they fit in one, else stored chunks.

    Planned for the longest name, token, ARNs and items URL, so the split depends on the
    request alone: the same on every re-run, wherever it is sent.
    """
    if request.items is None:
        return [_Chunk(array_size=request.array_size)]

    def refusal(chunk: _Chunk) -> UserError | None:
        return _body_refusal(_body(_ENVELOPE_TARGET, request, chunk, _ENVELOPE_NAME, _ENVELOPE_TOKEN))

    items = request.items
    if len(items) <= MAX_ARRAY_SIZE:
        inline = _Chunk(0, 0, tuple(items), len(items) if len(items) >= MIN_ARRAY_SIZE else None)
        if refusal(inline) is None:
            return [inline]
    # As few array jobs as the size limit allows, of (nearly) equal size: never a last job of one.
    count = -(-len(items) // MAX_ARRAY_SIZE)
    size, larger = divmod(len(items), count)
    chunks: list[_Chunk] = []
    start = 0
    for index in range(count):
        end = start + size + (1 if index < larger else 0)
        children = end - start
        chunks.append(
            _Chunk(
                index, start, tuple(items[start:end]), children if children >= MIN_ARRAY_SIZE else None, True
            )
        )
        start = end
    # Only the offset differs between the chunks' overrides: the last has the longest.
    problem = refusal(chunks[-1])
    if problem is not None:
        raise problem
    return chunks


def _validated_plan(request: SubmitRequest, target: DeployedJob | None, token: str | None) -> list[_Chunk]:
    _check_fields(request)
    if target is not None:
        _check_scheduling(request, target)
        _check_propagated_tags(request, target)
    if token is not None:
        _check_token(token)
    chunks = _plan(request)
    if request.items is None:
        name = request.name or default_job_name(request.job)
        _check_body(_body(target or _ENVELOPE_TARGET, request, chunks[0], name, token or _DERIVED_TOKEN))
    return chunks


def validate(request: SubmitRequest, target: DeployedJob | None = None, token: str | None = None) -> None:
    """Check `request` against every limit of SubmitJob, without calling AWS; UserError names the flag.

    The size is that of the request to be sent to `target` (without one, to the longest ARNs
    Batch has, so a request passing here fits any queue). Fan-out is always planned that way.
    With `target`, the request is also checked against what terraform says of its queue and
    job definition (share identifiers, propagated tags).
    """
    _validated_plan(_with_default_share(request, target) if target else request, target, token)


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
    for key in ("share", "priority"):
        if getattr(request, key) is not None:
            identity[key] = getattr(request, key)
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _chunk_name(base: str, chunk: _Chunk, count: int) -> str:
    if count == 1:
        return base
    suffix = f"-{chunk.index}"
    return base[: 128 - len(suffix)] + suffix


# ---- journal --------------------------------------------------------------------------------


def _record_at(line: str) -> float:
    try:
        at = json.loads(line).get("at")
    except (ValueError, AttributeError):
        return float("-inf")
    return at if isinstance(at, int | float) else float("-inf")


class Journal:
    """Submissions of one account as JSON lines, appended by any number of processes.

    A lock file rather than the journal itself is locked, so that compaction can replace the
    journal without a writer waiting on the old file appending to a file no one reads.
    """

    def __init__(self, path: Path, keep_seconds: float = JOURNAL_KEEP_SECONDS):
        self.path = path
        self.keep_seconds = keep_seconds
        self._lock_path = path.with_name(path.name + ".lock")

    @contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, record: dict[str, Any]) -> None:
        """Add `record`, on disk when this returns."""
        line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
        with self._locked(exclusive=True):
            created = not self.path.exists()
            with open(self.path, "a+b") as journal:
                journal.seek(0, os.SEEK_END)
                if journal.tell():
                    journal.seek(-1, os.SEEK_END)
                    if journal.read(1) != b"\n":  # a line cut short by a crash must not swallow this one
                        line = "\n" + line
                journal.write(line.encode())
                journal.flush()
                os.fsync(journal.fileno())
                size = journal.tell()
            if created:
                fsync_dir(self.path.parent)
            if size > JOURNAL_COMPACT_BYTES:
                since = float(record.get("at", time.time())) - self.keep_seconds
                # Only when the oldest record has aged out: a journal that is big with recent
                # records alone would otherwise be rewritten on every append.
                if self._oldest_at() < since:
                    self._compact(since)

    def records(self, token: str, since: float) -> list[dict[str, Any]]:
        """The records of `token` written at `since` or later, oldest first."""
        with self._locked(exclusive=False):
            try:
                text = self.path.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                return []
        found = []
        # Records are written with sorted keys and compact separators, so a token's lines all
        # contain this text; only those are parsed (the journal holds every recent submit).
        marker = json.dumps({"token": token}, separators=(",", ":"))[1:-1]
        for line in text.splitlines():
            if marker not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if (
                isinstance(record, dict)
                and record.get("token") == token
                and isinstance(record.get("at"), int | float)
                and record["at"] >= since
            ):
                found.append(record)
        return found

    def _oldest_at(self) -> float:
        with open(self.path, encoding="utf-8", errors="replace") as journal:
            for line in journal:
                if line.strip():
                    return _record_at(line)
        return float("inf")

    def _compact(self, since: float) -> None:
        keep = [line for line in self.path.read_text().splitlines(keepends=True) if _record_at(line) >= since]
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w") as out:
            out.writelines(keep)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)


# ---- pacing ---------------------------------------------------------------------------------


class _TokenBucket:
    """At most `rate` calls per second on average, bursts of up to a second's worth."""

    def __init__(self, rate: float, clock: Callable[[], float], sleep: Callable[[float], None]):
        if rate <= 0:
            raise ValueError("rate_per_second must be positive")
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.clock, self.sleep = clock, sleep
        self.updated = clock()
        self.lock = threading.Lock()

    def take(self) -> None:
        while True:
            with self.lock:
                now = self.clock()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                # A tolerance: refills rounding to just under one token would otherwise wait ever
                # shorter times, forever.
                if self.tokens >= 1 - 1e-9:
                    self.tokens = max(0.0, self.tokens - 1)
                    return
                wait = (1 - self.tokens) / self.rate
            self.sleep(wait)  # outside the lock: other threads refill and take meanwhile


def _error_text(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, BotoCoreError):
        return str(exc)
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")


# ---- submitting -----------------------------------------------------------------------------

# Submits of one token hold a lock file chosen by a hash of the token, one of this many per
# account: few enough files to need no cleaning up however many tokens there are, and enough
# that submits of different tokens seldom wait for one another.
TOKEN_LOCKS = 4096


class Submitter:
    """Submits requests to one account: checked, paced, journalled, and never twice.

    One submitter can be shared by threads; its rate limit is for all of them together.
    `wall_clock` stamps the journal (times must compare across processes); `clock` and
    `sleep` pace the calls.
    """

    def __init__(
        self,
        account: Account,
        journal_dir: Path | None = None,
        rate_per_second: float = 50.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_retries: int = 8,
        reattach_window: float = 3600.0,
        wall_clock: Callable[[], float] = time.time,
    ):
        self.account = account
        journal_dir = journal_dir if journal_dir is not None else paths().home / "journal"
        self.journal = Journal(
            journal_dir / f"{account.name}.jsonl", keep_seconds=max(reattach_window, JOURNAL_KEEP_SECONDS)
        )
        self._lock_dir = journal_dir / "locks"
        self.max_retries = max_retries
        self.reattach_window = reattach_window
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._bucket = _TokenBucket(rate_per_second, clock, sleep)
        self._random = random.Random()  # noqa: S311 -- backoff jitter, not a secret

    def submit(
        self, target: DeployedJob, request: SubmitRequest, token: str | None = None
    ) -> list[SubmitResult]:
        """Submit `request` to `target`, or find it again; one result per SubmitJob call, in order."""
        request = _with_default_share(request, target)
        chunks = _validated_plan(request, target, token)
        stored = sum(chunk.stored for chunk in chunks)
        if stored and not (target.data_bucket and target.items_prefix):
            raise UserError(
                f"--each: {len(request.items or ())} items do not fit in the {MAX_OVERRIDES_CHARS} "
                f"characters of container overrides ECS accepts, so they go to the account's data "
                f"bucket, and account {self.account.name} has none for job {target.job}: "
                f"run invoke tf.apply --account {self.account.name}"
            )
        token = token or request_token(self.account, request)
        base = request.name or default_job_name(request.job)
        # From reading the token's history to recording its jobs, one submit of the token at a
        # time (threads and processes alike): a second one reads what the first recorded.
        with self._token_lock(token):
            history = self.journal.records(token, since=self._wall_clock() - self.reattach_window)
            return [
                self._submit_chunk(
                    target,
                    request,
                    token,
                    chunk,
                    _chunk_name(base, chunk, len(chunks)),
                    [r for r in history if r.get("chunk") == chunk.index],
                )
                for chunk in chunks
            ]

    def _token_lock(self, token: str) -> AbstractContextManager[None]:
        digest = hashlib.sha256(f"{self.account.account_id}/{token}".encode()).digest()
        slot = int.from_bytes(digest[:4], "big") % TOKEN_LOCKS
        return file_lock(self._lock_dir / f"{self.account.name}-{slot:04d}.lock")

    def _submit_chunk(
        self,
        target: DeployedJob,
        request: SubmitRequest,
        token: str,
        chunk: _Chunk,
        name: str,
        history: list[dict[str, Any]],
    ) -> SubmitResult:
        def result(job_id: str, job_name: str, reattached: bool, at: float) -> SubmitResult:
            return SubmitResult(job_id, job_name, token, reattached, chunk.array_size, at, chunk.children)

        done = [r for r in history if r.get("state") == "submitted" and r.get("job_id")]
        # A recorded job AWS no longer knows (a reset local stack, a purged account) is not one to
        # reattach to: the work was lost with it, so it is submitted again.
        if done and self._exists(done[-1]["job_id"]):
            return result(done[-1]["job_id"], done[-1].get("name") or name, True, done[-1]["at"])
        tried = [r["name"] for r in history if r.get("state") == "submitting" and r.get("name")]
        if tried:
            name = tried[-1]  # a crash may have left the job submitted under this name
        key = url = None
        if chunk.stored:
            assert target.data_bucket and target.items_prefix  # checked before the first chunk
            key = items_key(target.items_prefix, self.account.account_id, token, chunk.index)
            url = items_url(target.data_bucket, key)
        body = _body(target, request, chunk, name, token, url)
        _check_body(body)  # the real name, token, ARNs and URL: the last check before sending
        chunk_tag = str(chunk.index) if chunk.items is not None else None
        if tried:
            found = self._find(target, name, token, chunk_tag)
            if found:
                self._record(request, token, chunk, name, "submitted", found[0])
                return result(found[0], name, True, found[1])
        if key is not None:
            # Before SubmitJob, so that no child can start before its items are there.
            store_items(self.account.client("s3"), self.account.name, target.data_bucket, key, chunk.items)
        self._record(request, token, chunk, name, "submitting", None)

        def submitted_after_all() -> dict[str, Any] | None:
            # A 5xx does not say the job was not created: look before submitting it again.
            found = self._find(target, name, token, chunk_tag)
            return {"jobId": found[0]} if found else None

        job_id = self._call("submit_job", recover=submitted_after_all, **body)["jobId"]
        at = self._record(request, token, chunk, name, "submitted", job_id)
        return result(job_id, name, False, at)

    def _exists(self, job_id: str) -> bool:
        described = self._call("describe_jobs", jobs=[job_id])
        return any(job.get("jobId") == job_id for job in described.get("jobs", []))

    def _record(
        self, request: SubmitRequest, token: str, chunk: _Chunk, name: str, state: str, job_id: str | None
    ) -> float:
        at = self._wall_clock()
        self.journal.append(
            {
                "token": token,
                "chunk": chunk.index,
                "job": request.job,
                "name": name,
                "state": state,
                "job_id": job_id,
                "at": at,
            }
        )
        return at

    def _find(
        self, target: DeployedJob, name: str, token: str, chunk_tag: str | None
    ) -> tuple[str, float] | None:
        """The job `name` in the target queue tagged with `token` (and chunk), and when it was created."""
        seen: set[str] = set()
        for status in LOOKUP_STATUSES:
            # With a JOB_NAME filter AWS lists every status at once (and ignores jobStatus); asking
            # status by status and comparing names here still works where filters are ignored.
            query: dict[str, Any] = {
                "jobQueue": target.queue,
                "jobStatus": status,
                "filters": [{"name": "JOB_NAME", "values": [name]}],
            }
            while True:
                page = self._call("list_jobs", **query)
                ids = [
                    s["jobId"]
                    for s in page.get("jobSummaryList", [])
                    if s.get("jobName") == name and ":" not in s["jobId"] and s["jobId"] not in seen
                ]
                seen.update(ids)
                for start in range(0, len(ids), DESCRIBE_BATCH):
                    for job in self._call("describe_jobs", jobs=ids[start : start + DESCRIBE_BATCH])["jobs"]:
                        tags = job.get("tags") or {}
                        if tags.get(TOKEN_TAG) == token and tags.get(CHUNK_TAG) == chunk_tag:
                            return job["jobId"], job.get("createdAt", 0) / 1000
                if not page.get("nextToken"):
                    break
                query["nextToken"] = page["nextToken"]
        return None

    def _call(
        self, operation: str, recover: Callable[[], dict[str, Any] | None] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """One Batch API call, paced, with throttling and server errors retried (full-jitter backoff).

        botocore does not retry here (one attempt per call): every attempt is paced, and a failed
        SubmitJob is looked for (`recover`) before it is sent again.
        """
        method = getattr(self.account.client("batch", retries=False), operation)
        attempt = 0
        while True:
            self._bucket.take()
            try:
                return method(**kwargs)
            except (ClientError, BotoCoreError) as exc:
                kind = transient_kind(exc)
                if kind is None:
                    raise UserError(
                        f"{operation} in account {self.account.name}: {_error_text(exc)}"
                    ) from None
                if attempt >= self.max_retries:
                    if kind == "throttling":
                        raise UserError(
                            f"account {self.account.name} is throttling AWS Batch requests: {operation} "
                            f"refused {attempt + 1} times ({_error_text(exc)}); try again later, or slower"
                        ) from None
                    raise UserError(
                        f"AWS Batch in account {self.account.name} keeps failing: {operation} failed "
                        f"{attempt + 1} times ({_error_text(exc)}); try again later"
                    ) from None
            self._sleep(self._random.uniform(0.0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)))
            attempt += 1
            if kind == "failing" and recover is not None:
                recovered = recover()
                if recovered is not None:
                    return recovered


def submit(account: Account, job: str, env: dict[str, str] | None = None, name: str | None = None) -> str:
    """Submit one job to the account's queue; returns its job id. Every call submits a new job."""
    request = SubmitRequest(job=job, name=name, env=dict(env or {}))
    # A fresh token: callers of this function expect a new run each time, as it always did.
    results = Submitter(account).submit(deployed_job(account, job), request, token=uuid.uuid4().hex)
    return results[0].job_id


# ---- following ------------------------------------------------------------------------------


def describe(account: Account, job_ids: list[str]) -> dict[str, dict[str, Any]]:
    """DescribeJobs for any number of ids, 100 per call."""
    batch = account.client("batch")
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(job_ids), DESCRIBE_BATCH):
        for job in batch.describe_jobs(jobs=job_ids[start : start + DESCRIBE_BATCH])["jobs"]:
            found[job["jobId"]] = job
    return found


def wait(
    account: Account,
    job_ids: list[str],
    echo: Echo | None = None,
    poll: float = 1.0,
    timeout: float | None = None,
) -> dict[str, JobState]:
    """Poll until every job is final; echo each status change with the elapsed time."""
    echo = echo or print
    started = time.monotonic()
    last: dict[str, str] = {}
    states: dict[str, JobState] = {}
    pending = list(job_ids)
    while pending:
        for job_id, job in describe(account, pending).items():
            state = JobState(
                job_id,
                job["jobName"],
                job["status"],
                job.get("statusReason", ""),
                (job.get("container") or {}).get("exitCode"),
            )
            states[job_id] = state
            if last.get(job_id) != state.status:
                last[job_id] = state.status
                echo(f"{state.name} ({job_id}): {state.status} after {time.monotonic() - started:.1f} s")
        pending = [j for j in pending if states.get(j) is None or states[j].status not in FINAL_STATES]
        if pending:
            if timeout is not None and time.monotonic() - started > timeout:
                raise UserError(
                    f"{len(pending)} job(s) not finished after {timeout:.0f} s: {', '.join(pending)}"
                )
            time.sleep(poll)
    return states


# ---- listing and stopping ---------------------------------------------------------------------


def list_jobs(account: Account, statuses: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The jobs of the account's queues in the given statuses (default: all), newest first."""
    wanted = [s.upper() for s in statuses] if statuses else list(LOOKUP_STATUSES)
    for status in wanted:
        if status not in LOOKUP_STATUSES:
            raise UserError(f"--status {status}: must be one of {', '.join(LOOKUP_STATUSES)}")
    deployed = outputs(account)
    queues = sorted({job["queue"] for job in (deployed.get("jobs") or {}).values()}) or [
        deployed["job_queue_arns"]["default"]
    ]
    batch = account.client("batch")
    found: dict[str, dict[str, Any]] = {}
    for queue in queues:
        for status in wanted:
            for page in batch.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus=status):
                for summary in page["jobSummaryList"]:
                    # The emulator ignores the status filter; AWS does not. Filter here for both.
                    if summary.get("status", status) == status:
                        found.setdefault(summary["jobId"], summary)
    return sorted(found.values(), key=lambda s: s.get("createdAt", 0), reverse=True)


def stop_job(account: Account, job_id: str, reason: str) -> str:
    """End a job in whatever state it is; one line saying what it was and what it is now.

    TerminateJob, never CancelJob: "Jobs that progressed to the STARTING or RUNNING state
    aren't canceled. However, the API operation still succeeds", so a job seen RUNNABLE that
    starts meanwhile would go on running. TerminateJob ends a job in any state, started or not.
    """
    described = describe(account, [job_id]).get(job_id)
    if described is None:
        raise UserError(f"no job {job_id} in account {account.name}")
    status = described["status"]
    if status in FINAL_STATES:
        return f"{job_id} already {status}: nothing to stop"
    account.client("batch").terminate_job(jobId=job_id, reason=reason)
    after = (describe(account, [job_id]).get(job_id) or {}).get("status", "unknown")
    now = after if after in FINAL_STATES else f"{after}, stopping"
    return f"terminated {job_id} (was {status}; now {now})"
