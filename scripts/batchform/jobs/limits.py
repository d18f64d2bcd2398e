"""AWS's limits on a SubmitJob request, checked before any call: fields, tags, dependencies, size.

Every limit is checked before the first AWS call, so a request AWS would refuse (at once, or
later by failing the job) costs no call. A refusal is a FieldError naming the fields to change.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from ..batchlimits import (
    MAX_TAGS,
    attempts_problem,
    gpus_problem,
    memory_problem,
    timeout_problem,
    vcpus_problem,
)
from ..errors import FieldError
from ..secretnames import PLAIN_VARIABLE_REFUSAL, looks_like_secret
from .requests import (
    CHUNK_TAG,
    ITEM_ENV,
    ITEMS_ENV,
    ITEMS_URL_ENV,
    JOB_ID,
    OFFSET_ENV,
    SCHEDULE_TAG,
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
MAX_TAG_KEY, MAX_TAG_VALUE = 128, 256
# SubmitJob shareIdentifier: "limited to 255 alphanumeric characters"; fair-share policies name
# their shares with underscores too.
SHARE_IDENTIFIER = re.compile(r"[A-Za-z0-9_]{1,255}")
MIN_PRIORITY, MAX_PRIORITY = 0, 9999  # schedulingPriorityOverride
DEPENDENCY_TYPES = ("N_TO_N", "SEQUENTIAL")


def check_env_name(name: str) -> None:
    """An environment variable name a job may be given: a shell name, not AWS Batch's, no secret."""
    if not ENV_NAME.fullmatch(name):  # `$` would let a trailing newline through
        raise FieldError(
            "env",
            "{env} {value}: names are letters, digits and underscores, not starting with a digit",
            value=repr(name),
        )
    if name.startswith("AWS_BATCH"):
        raise FieldError(
            "env", "{env} {value}: names starting with AWS_BATCH are reserved by AWS Batch", value=name
        )
    if looks_like_secret(name):
        raise FieldError("env", "{env} {value}: {refusal}", value=name, refusal=PLAIN_VARIABLE_REFUSAL)


def _dependency_text(job_id: str, kind: str | None) -> str:
    return ":".join(part for part in (job_id, kind) if part)


def _check_tags(request: SubmitRequest) -> None:
    ours = 2 if request.items is not None else 1
    if len(request.tags) > MAX_TAGS - ours:
        raise FieldError(
            "tags",
            f"{{tags}}: at most {MAX_TAGS - ours} tags (AWS allows {MAX_TAGS} per job and batchform "
            f"adds {ours}), got {len(request.tags)}",
        )
    for key, value in request.tags.items():
        if not 1 <= len(key) <= MAX_TAG_KEY:
            raise FieldError(
                "tags",
                f"{{tags}} {{key}}: keys are 1-{MAX_TAG_KEY} characters, got {len(key)}",
                key=repr(key[:40]),
            )
        if key.lower().startswith("aws:"):
            raise FieldError(
                "tags", "{tags} {key}: keys starting with aws: are reserved by AWS", key=shown(key)
            )
        if key in (TOKEN_TAG, CHUNK_TAG, SCHEDULE_TAG):
            raise FieldError(
                "tags", "{tags} {key}: set by batchform (choose the token with {token})", key=key
            )
        if len(value) > MAX_TAG_VALUE:
            raise FieldError(
                "tags",
                f"{{tags}} {{key}}: values are at most {MAX_TAG_VALUE} characters, got {len(value)}",
                key=shown(key),
            )


def _check_dependencies(request: SubmitRequest) -> None:
    if len(request.depends_on) > MAX_DEPENDENCIES:
        raise FieldError(
            "depends_on",
            f"{{depends_on}}: at most {MAX_DEPENDENCIES} dependencies, got {len(request.depends_on)}",
        )
    for job_id, kind in request.depends_on:
        text = shown(_dependency_text(job_id, kind)) or "''"
        if kind is not None and kind not in DEPENDENCY_TYPES:
            raise FieldError("depends_on", "{depends_on} {text}: the type is N_TO_N or SEQUENTIAL", text=text)
        if kind == "SEQUENTIAL" and job_id:
            raise FieldError(
                "depends_on",
                "{depends_on} {text}: SEQUENTIAL names no job; give {depends_on} SEQUENTIAL",
                text=text,
            )
        if kind != "SEQUENTIAL" and not job_id:
            raise FieldError("depends_on", "{depends_on} {text}: no job id", text=text)
        if kind is not None and request.array_size is None:
            if request.items is not None:
                raise FieldError(
                    "depends_on",
                    "{depends_on} {text}: {kind} needs {array_size} ({items} may split its items "
                    "over several array jobs)",
                    text=text,
                    kind=kind,
                )
            raise FieldError(
                "depends_on",
                "{depends_on} {text}: {kind} is only for array jobs ({array_size})",
                text=text,
                kind=kind,
            )
        if job_id and not JOB_ID.fullmatch(job_id):
            raise not_a_job_id("depends_on", text[:120])


def check_fields(request: SubmitRequest) -> None:
    if request.name is not None and not JOB_NAME.fullmatch(request.name):
        raise FieldError(
            "name",
            "{name} {value}: job names are 1-128 letters, digits, hyphens and "
            "underscores, starting with a letter or digit",
            value=repr(request.name[:140]),
        )
    for name in request.env:
        check_env_name(name)
    if request.items is not None:
        taken = sorted({ITEM_ENV, ITEMS_ENV, OFFSET_ENV, ITEMS_URL_ENV} & set(request.env))
        if taken:
            raise FieldError(
                "env", "{env} {value}: set by {items}, which gives each job its items there", value=taken[0]
            )
        if request.array_size is not None:
            raise FieldError(
                ("items", "array_size"),
                "{items} and {array_size}: {items} makes one array child per item; give one of them",
            )
        if not request.items:
            raise FieldError("items", "{items}: no items")
    if request.array_size is not None and not MIN_ARRAY_SIZE <= request.array_size <= MAX_ARRAY_SIZE:
        raise FieldError(
            "array_size",
            f"{{array_size}} {request.array_size}: must be from {MIN_ARRAY_SIZE} to {MAX_ARRAY_SIZE}",
        )
    if request.command is not None and not request.command:
        raise FieldError("command", "{command}: empty; leave it out to run the job definition's command")
    for key in request.params:
        if not key:
            raise FieldError("params", "{params}: empty name")
    _check_tags(request)
    _check_dependencies(request)
    if request.timeout is not None and (problem := timeout_problem(request.timeout)):
        raise FieldError("timeout", f"{{timeout}} {request.timeout}: {problem}")
    if request.retries is not None and (problem := attempts_problem(request.retries)):
        raise FieldError("retries", f"{{retries}} {request.retries}: {problem}")
    if request.share is not None and not SHARE_IDENTIFIER.fullmatch(request.share):
        raise FieldError(
            "share",
            "{share} {value}: a share identifier is 1-255 letters, digits and underscores",
            value=repr(request.share[:80]),
        )
    if request.priority is not None and not MIN_PRIORITY <= request.priority <= MAX_PRIORITY:
        raise FieldError(
            "priority", f"{{priority}} {request.priority}: must be from {MIN_PRIORITY} to {MAX_PRIORITY}"
        )


def with_default_share(request: SubmitRequest, target: DeployedJob) -> SubmitRequest:
    """`request` with the job's declared share when it gives none and the queue takes shares."""
    if request.share is None and target.share_identifier and target.fair_share is not False:
        return replace(request, share=target.share_identifier)
    return request


def check_queue(request: SubmitRequest, target: DeployedJob) -> None:
    """A request for another queue is sent to that queue: `target` must be the job on it
    (`deployed_job(account, job, queue)`), or the token would name one queue and the job run on another."""
    if request.queue is not None and target.queue_name not in (None, request.queue):
        raise FieldError(
            "queue",
            "{queue} {value}: job {job} was looked up on queue {actual}; look it up on {value}",
            value=request.queue,
            job=target.job,
            actual=target.queue_name,
        )


def check_scheduling(request: SubmitRequest, target: DeployedJob) -> None:
    """SubmitJob shareIdentifier: "If the job queue has a fair-share scheduling policy, then this
    parameter must be specified"; a queue without one refuses it. Unknown (older outputs): unchecked."""
    queue = target.queue.rpartition("/")[2]
    if target.fair_share is True and request.share is None:
        raise FieldError(
            "share",
            "{share}: queue {queue} has a fair-share scheduling policy, so every job needs a share "
            "identifier, and job {job} declares no default share: give {share} ID",
            queue=queue,
            job=target.job,
        )
    if target.fair_share is False:
        if request.share is not None:
            raise FieldError(
                "share",
                "{share} {value}: queue {queue} has no fair-share scheduling policy, and "
                "AWS Batch refuses a share identifier there",
                value=request.share,
                queue=queue,
            )
        if request.priority is not None:
            raise FieldError(
                "priority",
                f"{{priority}} {request.priority}: only for a queue with a fair-share scheduling "
                "policy, and queue {queue} has none",
                queue=queue,
            )


def check_resources(request: SubmitRequest, target: DeployedJob | None) -> None:
    """--vcpus, --memory and --gpus as the job definition's own are checked at render: Fargate's
    vCPU and memory pairs (with what the definition keeps), whole vCPUs on EC2, GPUs only on EC2.
    Where the job runs is unknown (older outputs): only what holds everywhere."""
    if request.vcpus is None and request.memory is None and request.gpus is None:
        return
    platform = target.platform if target else None
    if request.vcpus is not None:
        if platform:
            problem = vcpus_problem(request.vcpus, platform)
        elif (
            isinstance(request.vcpus, bool)
            or not isinstance(request.vcpus, (int, float))
            or request.vcpus <= 0
        ):
            problem = f"must be a positive number, got {request.vcpus!r}"
        else:
            problem = None
        if problem:
            raise FieldError("vcpus", f"{{vcpus}}: {problem}")
        check_fits_the_queue(request, target)
    if request.memory is not None:
        vcpus = request.vcpus if request.vcpus is not None else (target.vcpus if target else None)
        if problem := memory_problem(request.memory, vcpus, platform or "EC2"):
            raise FieldError("memory", f"{{memory}}: {problem}")
    elif platform == "FARGATE" and request.vcpus is not None and target and target.memory is not None:
        # A new vCPU size keeps the definition's memory, which Fargate must take with it.
        if problem := memory_problem(target.memory, request.vcpus, platform):
            raise FieldError(
                ("vcpus", "memory"),
                f"{{vcpus}} {request.vcpus:g}: job {{job}} keeps its {target.memory} MiB, and {problem}: "
                "give {memory} too",
                job=request.job,
            )
    if request.gpus is not None and (problem := gpus_problem(request.gpus, platform)):
        raise FieldError("gpus", f"{{gpus}}: {problem}")


def check_fits_the_queue(request: SubmitRequest, target: DeployedJob | None) -> None:
    """More vCPUs than the queue's largest compute environment can run: AWS takes the job, and it
    waits in RUNNABLE for good (MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT)."""
    largest = target.max_vcpus if target else None
    if request.vcpus is None or largest is None or float(request.vcpus) <= float(largest):
        return
    raise FieldError(
        "vcpus",
        f"{{vcpus}} {float(request.vcpus):g}: more than queue {{queue_name}}'s compute environments can run "
        f"(at most {float(largest):g} vCPUs); the job would wait in RUNNABLE for good",
        queue_name=target.queue_name if target and target.queue_name else "?",
    )


def check_propagated_tags(request: SubmitRequest, target: DeployedJob) -> None:
    """propagateTags: "If the total number of combined tags from the job and job definition is
    over 50, the job is moved to the FAILED state" (the provider's default tags included)."""
    if target.tags is None:
        return
    ours = {TOKEN_TAG} | ({CHUNK_TAG} if request.items is not None else set())
    total = len(set(request.tags) | ours | set(target.tags))
    if total > MAX_TAGS:
        raise FieldError(
            "tags",
            f"{{tags}}: the job's tasks would get {total} tags ({len(request.tags)} from {{tags}}, "
            f"{len(ours)} of batchform's, {len(target.tags)} of job definition {{job}} with the "
            f"default tags; a key in both counted once), more than the {MAX_TAGS} AWS Batch "
            "propagates before failing the job: give fewer {tags}",
            job=target.job,
        )


def check_token(token: str) -> None:
    if not TOKEN.fullmatch(token):
        raise FieldError(
            "token",
            "{token} {value}: 1-128 letters, digits and the characters _ . : / = + @ -",
            value=repr(token[:140]),
        )


def request_bytes(body: dict[str, Any]) -> int:
    """The size of a SubmitJob request as botocore sends it (json.dumps with its defaults)."""
    return len(json.dumps(body).encode())


def overrides_chars(body: dict[str, Any]) -> int:
    """The length of a request's container overrides as ECS is sent them: their JSON text, as
    botocore writes it (non-ASCII escaped, so never fewer characters than ECS counts)."""
    overrides = body.get("containerOverrides")
    return len(json.dumps(overrides)) if overrides else 0


def body_refusal(body: dict[str, Any]) -> FieldError | None:
    """Why AWS would refuse `body` (SubmitJob at once, or ECS when the job starts), or None."""
    size = request_bytes(body)
    if size > MAX_REQUEST_BYTES:
        return FieldError(
            ("env", "params", "command", "tags"),
            f"{{env}}/{{params}}/{{command}}/{{tags}}: the SubmitJob request would be {size} bytes, "
            f"more than the {MAX_REQUEST_BYTES} (30 KiB) AWS Batch accepts",
        )
    chars = overrides_chars(body)
    if chars > MAX_OVERRIDES_CHARS:
        return FieldError(
            ("env", "command"),
            f"{{env}}/{{command}}: the container overrides would be {chars} characters, more than the "
            f"{MAX_OVERRIDES_CHARS} ECS accepts (the job would be accepted, then fail)",
        )
    return None


def check_body(body: dict[str, Any]) -> None:
    refusal = body_refusal(body)
    if refusal is not None:
        raise refusal
