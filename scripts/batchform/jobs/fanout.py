"""How a request becomes its SubmitJob calls: checked, planned into chunks, and their items stored.

Fan-out (`items`): one array child per item; how a child finds its item is the contract in
images/README.md. When every item fits in one request's container overrides (8,192
characters, what ECS accepts), they go inline, in one SubmitJob. Otherwise they are split, in
order, into as few array jobs as the 10,000-children limit allows, and each job's items are
one object in the account's data bucket, written before its SubmitJob. The object's key is
derived from the account, the token and the chunk, so a re-run writes the same object again
and never a second one; it lies under the job's items prefix, the only part of the bucket the
job's role may read. Each job is tagged `batchform:chunk` with its index.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..errors import FieldError
from . import limits, requests
from .limits import (
    body_refusal,
    check_body,
    check_fields,
    check_propagated_tags,
    check_queue,
    check_resources,
    check_scheduling,
    check_token,
    with_default_share,
)
from .requests import (
    CHUNK_TAG,
    ITEM_ENV,
    ITEMS_ENV,
    ITEMS_URL_ENV,
    OFFSET_ENV,
    TOKEN_TAG,
    DeployedJob,
    SubmitRequest,
)

# The longest pointer a child can get: a bucket name of 63 characters, a generous items
# prefix and the derived part of the key. Fan-out is planned against it, so the plan depends
# on the request alone.
LONGEST_URL = "s3://" + "b" * 63 + "/" + "p" * 256 + "0" * 32 + "/99999.json"


@dataclass(frozen=True)
class Chunk:
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


def _job_env(request: SubmitRequest, chunk: Chunk, url: str | None) -> dict[str, str]:
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


def submit_body(
    target: DeployedJob,
    request: SubmitRequest,
    chunk: Chunk,
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
    resources = [
        {"type": kind, "value": f"{value:g}" if isinstance(value, float) else str(value)}
        for kind, value in (("VCPU", request.vcpus), ("MEMORY", request.memory), ("GPU", request.gpus))
        if value is not None
    ]
    if resources:
        overrides["resourceRequirements"] = resources
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


def plan(request: SubmitRequest) -> list[Chunk]:
    """The SubmitJob calls of `request`: all items inline when they fit in one, else stored chunks.

    Planned for the longest name, token, ARNs and items URL, so the split depends on the
    request alone: the same on every re-run, wherever it is sent.
    """
    if request.items is None:
        return [Chunk(array_size=request.array_size)]

    def refusal(chunk: Chunk) -> FieldError | None:
        return body_refusal(submit_body(_ENVELOPE_TARGET, request, chunk, _ENVELOPE_NAME, _ENVELOPE_TOKEN))

    items = request.items
    if len(items) <= limits.MAX_ARRAY_SIZE:
        inline = Chunk(0, 0, tuple(items), len(items) if len(items) >= limits.MIN_ARRAY_SIZE else None)
        if refusal(inline) is None:
            return [inline]
    # As few array jobs as the size limit allows, of (nearly) equal size: never a last job of one.
    count = -(-len(items) // limits.MAX_ARRAY_SIZE)
    size, larger = divmod(len(items), count)
    chunks: list[Chunk] = []
    start = 0
    for index in range(count):
        end = start + size + (1 if index < larger else 0)
        children = end - start
        chunks.append(
            Chunk(
                index,
                start,
                tuple(items[start:end]),
                children if children >= limits.MIN_ARRAY_SIZE else None,
                True,
            )
        )
        start = end
    # Only the offset differs between the chunks' overrides: the last has the longest.
    problem = refusal(chunks[-1])
    if problem is not None:
        raise problem
    return chunks


def validated_plan(request: SubmitRequest, target: DeployedJob | None, token: str | None) -> list[Chunk]:
    check_fields(request)
    check_resources(request, target)
    if target is not None:
        check_queue(request, target)
        check_scheduling(request, target)
        check_propagated_tags(request, target)
    if token is not None:
        check_token(token)
    chunks = plan(request)
    if request.items is None:
        name = request.name or requests.default_job_name(request.job)
        check_body(submit_body(target or _ENVELOPE_TARGET, request, chunks[0], name, token or _DERIVED_TOKEN))
    return chunks


def validate(request: SubmitRequest, target: DeployedJob | None = None, token: str | None = None) -> None:
    """Check `request` against every limit of SubmitJob, without calling AWS; FieldError names the field.

    The size is that of the request to be sent to `target` (without one, to the longest ARNs
    Batch has, so a request passing here fits any queue). Fan-out is always planned that way.
    With `target`, the request is also checked against what terraform says of its queue and
    job definition (share identifiers, propagated tags).
    """
    validated_plan(with_default_share(request, target) if target else request, target, token)


def chunk_name(base: str, chunk: Chunk, count: int) -> str:
    if count == 1:
        return base
    suffix = f"-{chunk.index}"
    return base[: 128 - len(suffix)] + suffix


# ---- items objects ----------------------------------------------------------------------------


def items_key(prefix: str, account_id: str, token: str, chunk: int) -> str:
    """Where chunk `chunk` of the submission `token` keeps its items, under `prefix`."""
    digest = hashlib.sha256(f"{account_id}/{token}".encode()).hexdigest()[:32]
    return f"{prefix}{digest}/{chunk}.json"


def items_url(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def items_object(items: Sequence[str]) -> bytes:
    """The object's content: the chunk's items as a JSON array, in order."""
    return json.dumps(list(items), ensure_ascii=False, separators=(",", ":")).encode()


def store_items(s3: Any, account_name: str, bucket: str, key: str, items: Sequence[str]) -> None:
    """Write the items of one chunk (the same content again on a re-run: PutObject replaces it)."""
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=items_object(items), ContentType="application/json")
    except (ClientError, BotoCoreError) as exc:
        raise FieldError(
            "items",
            "{items}: cannot store the items in {url} (account {account}): {reason}",
            url=items_url(bucket, key),
            account=account_name,
            reason=exc,
        ) from None
