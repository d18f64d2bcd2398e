"""Submit Batch jobs by the name they are declared under, and list or stop them.

A submission is a `SubmitRequest` sent to a `DeployedJob` by a `Submitter`. The modules:

requests   what a submission is: the request, the deployed job, the result, the token
limits     AWS's limits on a request, all checked before the first AWS call
fanout     how a request becomes SubmitJob calls: the plan, each call's body, items objects
journal    what each token's submits recorded, shared by every process
submitter  sending: paced, retried under the one retry policy, never twice for one token
listing    the jobs of an account's queues (and the schedules that started them), and stopping one

Following jobs to their end is `follow.JobWatcher`'s.
"""

from __future__ import annotations

from .fanout import items_key, items_object, items_url, store_items, validate
from .journal import JOURNAL_COMPACT_BYTES, JOURNAL_KEEP_SECONDS, Journal
from .limits import (
    MAX_ARRAY_SIZE,
    MAX_DEPENDENCIES,
    MAX_OVERRIDES_CHARS,
    MAX_REQUEST_BYTES,
    check_env_name,
    overrides_chars,
    request_bytes,
)
from .listing import (
    account_queues,
    check_statuses,
    describe,
    list_jobs,
    listing_lines,
    queue_summaries,
    stop_job,
)
from .requests import (
    CHUNK_TAG,
    ITEMS_URL_ENV,
    JOB_ID,
    LOOKUP_STATUSES,
    SCHEDULE_TAG,
    TOKEN_TAG,
    DeployedJob,
    SubmitRequest,
    SubmitResult,
    check_job_id,
    default_job_name,
    deployed_job,
    request_token,
)
from .submitter import Submitter

__all__ = [
    "CHUNK_TAG",
    "ITEMS_URL_ENV",
    "JOB_ID",
    "JOURNAL_COMPACT_BYTES",
    "LOOKUP_STATUSES",
    "JOURNAL_KEEP_SECONDS",
    "MAX_ARRAY_SIZE",
    "MAX_DEPENDENCIES",
    "MAX_OVERRIDES_CHARS",
    "MAX_REQUEST_BYTES",
    "SCHEDULE_TAG",
    "TOKEN_TAG",
    "DeployedJob",
    "Journal",
    "SubmitRequest",
    "SubmitResult",
    "Submitter",
    "check_env_name",
    "check_job_id",
    "default_job_name",
    "deployed_job",
    "items_key",
    "items_object",
    "items_url",
    "account_queues",
    "check_statuses",
    "describe",
    "list_jobs",
    "queue_summaries",
    "listing_lines",
    "overrides_chars",
    "request_bytes",
    "request_token",
    "stop_job",
    "store_items",
    "validate",
]
