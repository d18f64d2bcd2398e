"""Rules AWS Batch enforces and moto does not, so that code a real account would refuse fails here too.

Each test in tests/test_emulator.py quotes the rule:

* a job whose container overrides are longer than 8,192 characters (ECS's limit, counted as
  `container_overrides_length` does) is accepted, then FAILED with AWS's status reason; an array
  job's children fail so;
* a job with propagated tags (job and job definition together, keys counted once) over 50 is
  accepted, then FAILED;
* SubmitJob to a fair-share queue without a shareIdentifier, or without a scheduling priority
  (neither schedulingPriorityOverride nor the definition's schedulingPriority), or to a queue
  without a scheduling policy with a shareIdentifier, is a ClientException (400);
  shareIdentifier, schedulingPriorityOverride and a definition's schedulingPriority are kept and
  described;
* a job cancelled or terminated before its container started never starts it (moto starts and
  kills it; `batchform.localstack.jobcontainers` holds the container back); cancelling or
  terminating an array parent reaches its children; CancelJob leaves a STARTING or RUNNING job
  running and succeeds (moto already does);
* RegisterJobDefinition and SubmitJob refuse, with a ClientException (400), retryStrategy attempts
  outside 1-10 and a timeout's attemptDurationSeconds under 60 (moto keeps them);
* a job queue keeps its `jobStateTimeLimitActions`, and DescribeJobQueues returns them;
  CreateJobQueue and UpdateJobQueue refuse, with a ClientException (400), more than three compute
  environments, EC2 and Fargate ones mixed, and a time limit outside 600-86400 s or other than
  CANCEL of a RUNNABLE job (moto takes them);
* ListJobs without a status or filters lists only RUNNING jobs, and every listing comes in pages
  (maxResults, 100 by default, and nextToken); its BEFORE_CREATED_AT and AFTER_CREATED_AT filters
  keep the jobs created before or after a time in epoch milliseconds, and a value that is no such
  time is refused (moto kept every job);
* a job that asks for more than every compute environment of its queue offers (more vCPUs than
  an environment's maxvCpus, or no Fargate size) stays RUNNABLE with AWS's status reason until
  it is cancelled (moto ran it).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from typing import Any

from ..batchlimits import FARGATE_TYPES, memory_problem, vcpus_problem

log = logging.getLogger("batchform.localstack.batchrules")


def install() -> None:
    """Enforce every rule below on moto's Batch."""
    _enforce_batch_rules()
    _keep_job_state_time_limit_actions()
    _keep_a_job_definitions_scheduling_priority()
    _list_jobs_as_aws_does()


# The ECS task that runs a job refuses larger overrides, after SubmitJob (up to 30 KiB) accepted
# the job. The product refuses the same before it submits, counted the same way: MAX_OVERRIDES_CHARS
# and overrides_chars in batchform.jobs (the product never imports the local stack, so the rule is
# written twice, once on each side of the AWS API).
MAX_CONTAINER_OVERRIDES = 8192
OVERRIDES_REASON = f"Container Overrides length must be at most {MAX_CONTAINER_OVERRIDES}"
MAX_PROPAGATED_TAGS = 50
SHARE_REQUIRED = "shareIdentifier must be specified."
SHARE_REFUSED = "shareIdentifier must not be specified for a job queue without a scheduling policy."
# What AWS answers a fair-share submit with no priority anywhere (public report: nextflow-io/nextflow#3505).
PRIORITY_REQUIRED = (
    "Either schedulingPriority in job definition or schedulingPriorityOverride should be specified."
)
CANCELLED_BEFORE_START = "the job was cancelled or terminated before its container started"


def container_overrides_length(overrides: dict[str, Any] | None) -> int:
    """The overrides as ECS counts them, conservatively: their JSON text as botocore sends it
    (non-ASCII escaped; ECS counts environment and command only, so never more than this)."""
    return len(json.dumps(overrides)) if overrides else 0


def propagated_tags(job: Any) -> dict[str, str]:
    """The tags AWS puts on the job's ECS task: the job definition's, then the job's (which win)."""
    submitted = getattr(job, "batchform_submitted", {})
    propagate = submitted.get("propagate_tags")
    if propagate is None:
        propagate = job.job_definition.propagate_tags
    if not propagate:
        return {}
    definition = job.backend.list_tags_for_resource(job.job_definition.arn)
    return {**definition, **(submitted.get("tags") or {})}


def refusal_at_start(job: Any) -> str | None:
    """Why the ECS task of `job` cannot be created, as AWS says it, or None."""
    if container_overrides_length(job.container_overrides) > MAX_CONTAINER_OVERRIDES:
        return OVERRIDES_REASON
    tags = propagated_tags(job)
    if len(tags) > MAX_PROPAGATED_TAGS:
        # AWS documents the outcome (FAILED), not its wording.
        return (
            f"Too many tags to propagate: the job and its job definition have {len(tags)} tags together, "
            f"more than the {MAX_PROPAGATED_TAGS} an ECS task can carry"
        )
    return None


# What AWS Batch says of a job at the head of its queue that no compute environment can run.
TOO_LARGE_REASON = (
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement (vCPU/memory/GPU) is "
    "higher than that can be met by the CE(s) attached to the job queue."
)
HOLD_POLL = 0.5


def fits_no_environment(job: Any) -> bool:
    """Whether every compute environment of the job's queue is managed and too small for it."""
    from .motofixes import job_resources

    environments = list(getattr(job.job_queue, "environments", None) or [])
    if job.job_definition.container_properties is None:
        return False  # a multi-node job: its nodes' resources are not checked here
    if not environments or any(not getattr(ce, "compute_resources", None) for ce in environments):
        return False  # an unmanaged environment runs what its own instances can take
    given = {r["type"]: r["value"] for r in job_resources(job)}
    try:
        vcpus, memory = float(given.get("VCPU", 0)), int(given.get("MEMORY", 0))
    except (TypeError, ValueError):
        return False
    for ce in environments:
        resources = ce.compute_resources
        kind = resources.get("type", "EC2")
        fargate_size = kind not in FARGATE_TYPES or not (
            vcpus_problem(vcpus, kind) or memory_problem(memory, vcpus, kind)
        )
        if vcpus <= float(resources.get("maxvCpus") or 0) and fargate_size:
            return False
    return True


def hold_in_runnable(job: Any) -> None:
    """Keep the job RUNNABLE, saying why, until a cancel (or terminate) stops it; then FAILED."""
    job.job_stopped_reason = TOO_LARGE_REASON
    while not job.stop:
        job.status = "RUNNABLE"  # moto would move it on at its next status read
        job._tick = 0  # noqa: SLF001
        time.sleep(HOLD_POLL)
    job._mark_stopped(success=False)  # noqa: SLF001


_submitting = threading.local()


def _enforce_batch_rules() -> None:
    """SubmitJob's share identifier (kept and described), the limits of the job's ECS task, and what a
    cancel stops."""
    from moto.batch.exceptions import ClientException
    from moto.batch.models import BatchBackend, Job
    from moto.batch.responses import BatchResponse

    original_submit, original_init, original_run = BatchResponse.submitjob, Job.__init__, Job.run
    original_describe = Job.describe
    original_cancel, original_terminate = BatchBackend.cancel_job, BatchBackend.terminate_job

    def submitjob(self: Any) -> str:
        if refusal := attempts_or_timeout_refusal(self):
            raise ClientException(refusal)
        share = self._get_param("shareIdentifier")
        queue = self.batch_backend.get_job_queue(self._get_param("jobQueue"))
        if queue is not None and queue.schedule_policy and not share:
            raise ClientException(SHARE_REQUIRED)
        if queue is not None and not queue.schedule_policy and share is not None:
            raise ClientException(SHARE_REFUSED)
        definition = self.batch_backend.get_job_definition(self._get_param("jobDefinition"))
        if (
            queue is not None
            and queue.schedule_policy
            and self._get_param("schedulingPriorityOverride") is None
            and definition is not None
            and getattr(definition, "batchform_scheduling_priority", None) is None
        ):
            raise ClientException(PRIORITY_REQUIRED)
        # moto drops these parameters; the jobs this call creates (an array's children too) keep them.
        _submitting.parameters = {
            "share_identifier": share,
            "scheduling_priority": self._get_param("schedulingPriorityOverride"),
            "propagate_tags": self._get_param("propagateTags"),
            "tags": self._get_param("tags") or {},
        }
        try:
            return original_submit(self)
        finally:
            _submitting.parameters = {}

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.batchform_submitted = dict(getattr(_submitting, "parameters", None) or {})

    def describe(self: Any) -> dict[str, Any]:
        result = original_describe(self)
        submitted = getattr(self, "batchform_submitted", {})
        if submitted.get("share_identifier") is not None:
            result["shareIdentifier"] = submitted["share_identifier"]
        if submitted.get("scheduling_priority") is not None:
            result["schedulingPriority"] = submitted["scheduling_priority"]
        return result

    def run(self: Any) -> None:
        reason = refusal_at_start(self)
        if reason is None and not getattr(self, "_child_jobs", None) and fits_no_environment(self):
            hold_in_runnable(self)
            return
        if reason is None:
            original_run(self)
            return
        log.warning("job %s failed before it started: %s", self.job_id, reason)
        self.job_stopped_reason = reason
        self._mark_stopped(success=False)  # noqa: SLF001

    def children_of(backend: Any, job_id: str) -> list[Any]:
        job = backend.get_job_by_id(job_id)
        return list(getattr(job, "_child_jobs", None) or [])

    def cancel_job(self: Any, job_id: str, reason: str) -> None:
        # Cancelling an array parent cancels its children (those not started yet, as for any job).
        original_cancel(self, job_id, reason)
        for child in children_of(self, job_id):
            original_cancel(self, child.job_id, reason)

    def terminate_job(self: Any, job_id: str, reason: str) -> None:
        original_terminate(self, job_id, reason)
        for child in children_of(self, job_id):
            original_terminate(self, child.job_id, reason)

    BatchResponse.submitjob = submitjob  # type: ignore[method-assign]
    Job.__init__ = init  # type: ignore[method-assign]
    Job.describe = describe  # type: ignore[method-assign]
    Job.run = run  # type: ignore[method-assign]
    BatchBackend.cancel_job = cancel_job  # type: ignore[method-assign]
    BatchBackend.terminate_job = terminate_job  # type: ignore[method-assign]


LIST_JOBS_PAGE = 100  # ListJobs' default maxResults
CREATED_AT_FILTERS = {
    "AFTER_CREATED_AT": lambda created, at: created > at,
    "BEFORE_CREATED_AT": lambda created, at: created < at,
}


def _list_jobs_as_aws_does() -> None:
    """ListJobs without a status (and no filters) lists RUNNING jobs only, and answers in pages of
    maxResults (100 unless asked) with a nextToken, as AWS does; moto lists every job in one page."""
    from moto.batch.exceptions import ClientException
    from moto.batch.responses import BatchResponse

    original = BatchResponse.listjobs

    def listjobs(self: Any) -> str:
        summaries = json.loads(original(self))["jobSummaryList"]
        if self._get_param("jobStatus") is None and self._get_param("filters") is None:
            summaries = [summary for summary in summaries if summary["status"] == "RUNNING"]
        for name, values in (
            (f.get("name"), f.get("values") or []) for f in self._get_param("filters") or []
        ):
            if name in CREATED_AT_FILTERS:
                if len(values) != 1 or not str(values[0]).isdigit():
                    raise ClientException(
                        f"{name} takes one time in milliseconds since the epoch, not {values}"
                    )
                keep = CREATED_AT_FILTERS[name]
                summaries = [s for s in summaries if keep(s.get("createdAt", 0), int(values[0]))]
        size = self._get_param("maxResults") or LIST_JOBS_PAGE
        token = self._get_param("nextToken")
        try:
            start = int(base64.b64decode(token).decode()) if token else 0
        except ValueError:
            raise ClientException("Invalid nextToken") from None
        answer: dict[str, Any] = {"jobSummaryList": summaries[start : start + size]}
        if start + size < len(summaries):
            answer["nextToken"] = base64.b64encode(str(start + size).encode()).decode()
        return json.dumps(answer)

    BatchResponse.listjobs = listjobs  # type: ignore[method-assign]


def attempts_or_timeout_refusal(response: Any) -> str | None:
    """What AWS says of a request's retryStrategy.attempts or timeout.attemptDurationSeconds, if wrong."""
    from ..batchlimits import attempts_problem, timeout_problem

    attempts = (response._get_param("retryStrategy") or {}).get("attempts")
    seconds = (response._get_param("timeout") or {}).get("attemptDurationSeconds")
    if attempts is not None and (problem := attempts_problem(int(attempts))):
        return f"retryStrategy.attempts {attempts}: {problem}"
    if seconds is not None and (problem := timeout_problem(int(seconds))):
        return f"timeout.attemptDurationSeconds {seconds}: {problem}"
    return None


def _keep_a_job_definitions_scheduling_priority() -> None:
    """RegisterJobDefinition keeps `schedulingPriority` and DescribeJobDefinitions returns it (moto
    drops it: the fair-share rule above could not see it, and terraform would plan a change); it
    refuses attempts and timeouts AWS refuses."""
    from moto.batch.exceptions import ClientException
    from moto.batch.models import JobDefinition
    from moto.batch.responses import BatchResponse

    original_register, original_describe = BatchResponse.registerjobdefinition, JobDefinition.describe

    def registerjobdefinition(self: Any) -> str:
        if refusal := attempts_or_timeout_refusal(self):
            raise ClientException(refusal)
        answer = original_register(self)
        priority = self._get_param("schedulingPriority")
        if priority is not None:
            definition = self.batch_backend.get_job_definition(json.loads(answer)["jobDefinitionArn"])
            definition.batchform_scheduling_priority = priority
        return answer

    def describe(self: Any) -> dict[str, Any]:
        result = original_describe(self)
        priority = getattr(self, "batchform_scheduling_priority", None)
        if priority is not None:
            result["schedulingPriority"] = priority
        return result

    BatchResponse.registerjobdefinition = registerjobdefinition  # type: ignore[method-assign]
    JobDefinition.describe = describe  # type: ignore[method-assign]


def queue_refusal(response: Any) -> str | None:
    """What AWS says of a CreateJobQueue or UpdateJobQueue moto takes: more than three compute
    environments, EC2 and Fargate ones mixed ("Amazon EC2 and Fargate compute environments can't be
    mixed"), a time limit outside 600-86400 s, or one that does not CANCEL a RUNNABLE job."""
    from ..batchlimits import FARGATE_TYPES, MAX_QUEUE_ENVIRONMENTS, MAX_TIME_LIMIT, MIN_TIME_LIMIT

    order = response._get_param("computeEnvironmentOrder") or []
    if len(order) > MAX_QUEUE_ENVIRONMENTS:
        return f"computeEnvironmentOrder: at most {MAX_QUEUE_ENVIRONMENTS} compute environments"
    kinds = set()
    for entry in order:
        environment = response.batch_backend.get_compute_environment(entry.get("computeEnvironment"))
        if environment is not None:
            kind = (environment.compute_resources or {}).get("type", "EC2")  # unmanaged: EC2 instances
            kinds.add(kind in FARGATE_TYPES)
    if len(kinds) > 1:
        return "computeEnvironmentOrder: Amazon EC2 and Fargate compute environments can't be mixed"
    for action in response._get_param("jobStateTimeLimitActions") or []:
        seconds = action.get("maxTimeSeconds")
        if not isinstance(seconds, int) or not MIN_TIME_LIMIT <= seconds <= MAX_TIME_LIMIT:
            return (
                f"jobStateTimeLimitActions.maxTimeSeconds {seconds}: "
                f"must be from {MIN_TIME_LIMIT} to {MAX_TIME_LIMIT}"
            )
        if action.get("action") != "CANCEL" or action.get("state") != "RUNNABLE":
            return "jobStateTimeLimitActions: the only action is CANCEL, for the state RUNNABLE"
    return None


def _keep_job_state_time_limit_actions() -> None:
    """CreateJobQueue/UpdateJobQueue refuse what AWS refuses (`queue_refusal`), keep
    `jobStateTimeLimitActions`, and DescribeJobQueues returns them."""
    from moto.batch.exceptions import ClientException
    from moto.batch.models import JobQueue
    from moto.batch.responses import BatchResponse

    original_create, original_update = BatchResponse.createjobqueue, BatchResponse.updatejobqueue
    original_describe = JobQueue.describe

    def keeping(original: Any, name_param: str) -> Any:
        def handler(self: Any) -> str:
            if refusal := queue_refusal(self):
                raise ClientException(refusal)
            answer = original(self)
            actions = self._get_param("jobStateTimeLimitActions")
            if actions is not None:
                queue = self.batch_backend.get_job_queue(self._get_param(name_param))
                queue.batchform_time_limit_actions = actions
            return answer

        return handler

    def describe(self: Any) -> dict[str, Any]:
        result = original_describe(self)
        result["jobStateTimeLimitActions"] = getattr(self, "batchform_time_limit_actions", [])
        return result

    BatchResponse.createjobqueue = keeping(original_create, "jobQueueName")  # type: ignore[method-assign]
    BatchResponse.updatejobqueue = keeping(original_update, "jobQueue")  # type: ignore[method-assign]
    JobQueue.describe = describe  # type: ignore[method-assign]
