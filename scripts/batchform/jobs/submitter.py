"""Send checked requests to one account, paced, journalled, and never the same one twice.

Idempotency
    Every submission has a token: the one given, or one derived from the account, the job and
    the request's content (not its name). The job is tagged with it (`batchform:token`), and
    the journal records `submitting` (with the job name) before SubmitJob and `submitted`
    (with the job id) after. The same token again within the reattach window returns the
    recorded job instead of a second one; after a crash during the call, the job is looked up
    in the queue by its recorded name and token tag, and submitted (under the same name) only
    when it is not there. Submits of one token take turns (a lock file under the journal's
    directory), so two at once start one job.

Retries
    Batch calls go through a one-attempt client and `retry.retrying`, the one retry policy:
    every attempt takes a token of the rate limit, and a SubmitJob that failed without saying
    whether the job was created is looked up by its token before it is sent again.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .. import retry
from ..accounts import Account
from ..batchlimits import DESCRIBE_BATCH
from ..errors import FieldError, UserError
from ..ratelimit import TokenBucket
from ..settings import file_lock, paths
from . import requests
from .fanout import Chunk, chunk_name, items_key, items_url, store_items, submit_body, validated_plan
from .journal import JOURNAL_KEEP_SECONDS, Journal
from .limits import MAX_OVERRIDES_CHARS, check_body, with_default_share
from .requests import (
    CHUNK_TAG,
    LOOKUP_STATUSES,
    TOKEN_TAG,
    DeployedJob,
    SubmitRequest,
    SubmitResult,
    request_token,
)

# Submits of one token hold a lock file chosen by a hash of the token, one of this many per
# account: few enough files to need no cleaning up however many tokens there are, and enough
# that submits of different tokens seldom wait for one another.
TOKEN_LOCKS = 4096


def _error_text(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, BotoCoreError):
        return str(exc)
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")


class Submitter:
    """Submits requests to one account: checked, paced, journalled, and never twice.

    One submitter can be shared by threads; its rate limit is for all of them together.
    `wall_clock` stamps the journal (times must compare across processes); `clock` and
    `sleep` pace the calls and the waits between retries.
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
        self._bucket = TokenBucket(rate_per_second, clock, sleep)
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()

    def submit(
        self, target: DeployedJob, request: SubmitRequest, token: str | None = None
    ) -> list[SubmitResult]:
        """Submit `request` to `target`, or find it again; one result per SubmitJob call, in order."""
        request = with_default_share(request, target)
        chunks = validated_plan(request, target, token)
        stored = sum(chunk.stored for chunk in chunks)
        if stored and not (target.data_bucket and target.items_prefix):
            raise FieldError(
                "items",
                f"{{items}}: {len(request.items or ())} items do not fit in the {MAX_OVERRIDES_CHARS} "
                "characters of container overrides ECS accepts, so they go to the account's data "
                "bucket, and account {account} has none for job {job}: "
                "run invoke tf.apply --account {account}",
                account=self.account.name,
                job=target.job,
            )
        token = token or request_token(self.account, request)
        base = request.name or requests.default_job_name(request.job)
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
                    chunk_name(base, chunk, len(chunks)),
                    [r for r in history if r.get("chunk") == chunk.index],
                )
                for chunk in chunks
            ]

    def _token_lock(self, token: str) -> AbstractContextManager[None]:
        digest = hashlib.sha256(f"{self.account.account_id}/{token}".encode()).digest()
        slot = int.from_bytes(digest[:4], "big") % TOKEN_LOCKS
        return file_lock(self._lock_dir / f"{self.account.name}-{slot:04d}.lock")

    def _client(self, service: str) -> Any:
        # Asked of the account once: its clients are cached, but behind a lock every thread takes.
        client = self._clients.get(service)
        if client is None:
            with self._clients_lock:
                client = self._clients.get(service)
                if client is None:
                    client = self._clients[service] = self.account.client(service, retries=False)
        return client

    def _submit_chunk(
        self,
        target: DeployedJob,
        request: SubmitRequest,
        token: str,
        chunk: Chunk,
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
        body = submit_body(target, request, chunk, name, token, url)
        check_body(body)  # the real name, token, ARNs and URL: the last check before sending
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
        self, request: SubmitRequest, token: str, chunk: Chunk, name: str, state: str, job_id: str | None
    ) -> float:
        at = self._wall_clock()
        record = {
            "token": token,
            "chunk": chunk.index,
            "job": request.job,
            "name": name,
            "state": state,
            "job_id": job_id,
            "at": at,
        }
        # `submitting` must outlive even a crash of the machine: without it a re-run would not
        # know the name to look for, and would start a second job. A lost `submitted` costs only
        # that look-up, so it is not waited onto the disk (a killed process loses neither).
        self.journal.append(record, durable=state == "submitting")
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
        """One Batch API call under the retry policy: throttling and server errors tried again.

        Every attempt is paced. After a failure that leaves it unknown whether the call took
        effect, `recover` looks for its result before the call is sent again.
        """
        method = getattr(self._client("batch"), operation)
        failed: list[str | None] = []
        try:
            for attempt in retry.retrying(
                lambda exc: retry.transient_kind(exc) is not None,
                attempts=self.max_retries + 1,
                sleep=self._sleep,
            ):
                with attempt:
                    if recover is not None and failed and failed[-1] == retry.FAILING:
                        recovered = recover()
                        if recovered is not None:
                            return recovered
                    self._bucket.take()
                    try:
                        return method(**kwargs)
                    except (ClientError, BotoCoreError) as exc:
                        failed.append(retry.transient_kind(exc))
                        raise
        except (ClientError, BotoCoreError) as exc:
            kind = retry.transient_kind(exc)
            if kind is None:
                raise UserError(f"{operation} in account {self.account.name}: {_error_text(exc)}") from None
            if kind == retry.THROTTLED:
                raise UserError(
                    f"account {self.account.name} is throttling AWS Batch requests: {operation} "
                    f"refused {len(failed)} times ({_error_text(exc)}); try again later, or slower"
                ) from None
            raise UserError(
                f"AWS Batch in account {self.account.name} keeps failing: {operation} failed "
                f"{len(failed)} times ({_error_text(exc)}); try again later"
            ) from None
        raise AssertionError("unreachable: the policy returns or raises")
