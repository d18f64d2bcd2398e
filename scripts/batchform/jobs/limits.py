"""AWS's limits on a SubmitJob request, checked before any call: fields, tags, dependencies, size.

Every limit is checked before the first AWS call, so a request AWS would refuse (at once, or
later by failing the job) costs no call. A refusal is a UserError naming what to change.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from ..errors import UserError
from ..secretnames import PLAIN_VARIABLE_REFUSAL, looks_like_secret
from .requests import (
    CHUNK_TAG,
    ITEM_ENV,
    ITEMS_ENV,
    ITEMS_URL_ENV,
    JOB_ID,
    OFFSET_ENV,
    TOKEN_TAG,
    DeployedJob,
    SubmitRequest,
    not_a_job_id,
    shown,
)

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
# A token is a tag value, so it keeps to characters every AWS tag accepts.
TOKEN = re.compile(r"^[A-Za-z0-9_.:/=+@-]{1,128}$")

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


def check_env_name(name: str) -> None:
    """An environment variable name a job may be given: a shell name, not AWS Batch's, no secret."""
    if not ENV_NAME.fullmatch(name):  # `$` would let a trailing newline through
        raise UserError(
            f"--env {name!r}: names are letters, digits and underscores, not starting with a digit"
        )
    if name.startswith("AWS_BATCH"):
        raise UserError(f"--env {name}: names starting with AWS_BATCH are reserved by AWS Batch")
    if looks_like_secret(name):
        raise UserError(f"--env {name}: {PLAIN_VARIABLE_REFUSAL}")


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
            raise UserError(f"--tag {shown(key)}: keys starting with aws: are reserved by AWS")
        if key in (TOKEN_TAG, CHUNK_TAG):
            raise UserError(f"--tag {key}: set by batchform (choose the token with --token)")
        if len(value) > MAX_TAG_VALUE:
            raise UserError(
                f"--tag {shown(key)}: values are at most {MAX_TAG_VALUE} characters, got {len(value)}"
            )


def _check_dependencies(request: SubmitRequest) -> None:
    if len(request.depends_on) > MAX_DEPENDENCIES:
        raise UserError(
            f"--depends-on: at most {MAX_DEPENDENCIES} dependencies, got {len(request.depends_on)}"
        )
    for job_id, kind in request.depends_on:
        text = shown(_dependency_text(job_id, kind)) or "''"
        if kind is not None and kind not in DEPENDENCY_TYPES:
            raise UserError(f"--depends-on {text}: the type is N_TO_N or SEQUENTIAL")
        if kind == "SEQUENTIAL" and job_id:
            raise UserError(f"--depends-on {text}: SEQUENTIAL names no job; give --depends-on SEQUENTIAL")
        if kind != "SEQUENTIAL" and not job_id:
            raise UserError(f"--depends-on {text}: no job id")
        if kind is not None and request.array_size is None:
            if request.items is not None:
                raise UserError(
                    f"--depends-on {text}: {kind} needs --array-size (--each may split its items "
                    "over several array jobs)"
                )
            raise UserError(f"--depends-on {text}: {kind} is only for array jobs (--array-size)")
        if job_id and not JOB_ID.fullmatch(job_id):
            raise not_a_job_id(f"--depends-on {text[:120]}")


def check_fields(request: SubmitRequest) -> None:
    if request.name is not None and not JOB_NAME.fullmatch(request.name):
        raise UserError(
            f"--name {request.name[:140]!r}: job names are 1-128 letters, digits, hyphens and "
            "underscores, starting with a letter or digit"
        )
    for name in request.env:
        check_env_name(name)
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


def with_default_share(request: SubmitRequest, target: DeployedJob) -> SubmitRequest:
    """`request` with the job's declared share when it gives none and the queue takes shares."""
    if request.share is None and target.share_identifier and target.fair_share is not False:
        return replace(request, share=target.share_identifier)
    return request


def check_scheduling(request: SubmitRequest, target: DeployedJob) -> None:
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


def check_propagated_tags(request: SubmitRequest, target: DeployedJob) -> None:
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


def check_token(token: str) -> None:
    if not TOKEN.fullmatch(token):
        raise UserError(f"--token {token[:140]!r}: 1-128 letters, digits and the characters _ . : / = + @ -")


def request_bytes(body: dict[str, Any]) -> int:
    """The size of a SubmitJob request as botocore sends it (json.dumps with its defaults)."""
    return len(json.dumps(body).encode())


def overrides_chars(body: dict[str, Any]) -> int:
    """The length of a request's container overrides as ECS is sent them: their JSON text, as
    botocore writes it (non-ASCII escaped, so never fewer characters than ECS counts)."""
    overrides = body.get("containerOverrides")
    return len(json.dumps(overrides)) if overrides else 0


def body_refusal(body: dict[str, Any]) -> UserError | None:
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


def check_body(body: dict[str, Any]) -> None:
    refusal = body_refusal(body)
    if refusal is not None:
        raise refusal
