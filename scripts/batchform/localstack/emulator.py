"""The local stack's AWS emulator: moto's server plus what the local stack needs of it.

Run as `python -m batchform.localstack.emulator --port PORT [--state-file FILE]` (the local stack does).
On top of moto's own server it adds:

* a health route (`/batchform/health`) naming the service, so the local stack can tell its
  own emulator from another program on the same port;
* fixes where moto differs from AWS in ways batchform relies on (each has a test in
  tests/test_emulator.py):
  - job logs go to the job definition's awslogs group and stream prefix, as on AWS, instead
    of always `/aws/batch/job`;
  - a job's container gets what AWS Batch gives one: the region, credentials of the job
    definition's job role (in the job's account, from the emulator's STS), the array index
    of an array child, and, because the AWS it talks to is this emulator, AWS_ENDPOINT_URL;
  - a job's output reaches CloudWatch Logs while its container runs, line by line (the last
    one too when it ends without a newline), as the awslogs driver sends it on AWS (moto
    writes it all when the container ends);
  - GetAuthorizationToken (with --registry-url, as the local stack runs it) names the local
    registry as `proxyEndpoint`, each account under its own path, with the password the
    registry's guard asks of that account (`batchform.localstack.registryauth`), valid for 12 hours (moto: an
    amazonaws.com host, a fixed password, already expired in 2015);
  - a job's image from the local registry is pulled with the job's account's token, as ECS
    pulls from ECR with the execution role's: an image not in the registry fails the job with
    `CannotPullContainerError`;
  - DescribeJobs says what AWS says about a job that ran: its log stream from the start of
    the attempt, the container's exit code, a status reason on failure, and an array parent
    FAILED once every child is done and one failed (moto leaves it SUBMITTED forever);
  - a job definition named without a revision (by name, or by ARN without `:<revision>`)
    means its latest ACTIVE revision, as on AWS;
  - a launch template's own tags stay on the template, instead of also appearing in its
    version data as a `launch-template` tag specification (which AWS refuses there, and
    which gives terraform a change on every plan);
  - a compute environment without a service role acts as Batch's service-linked role,
    creating it on first use;
* rules AWS enforces and moto does not, so that code a real account would refuse fails here too
  (each test quotes the rule):
  - a job whose container overrides are longer than 8,192 characters (ECS's limit, counted
    as `container_overrides_length` does) is accepted, then FAILED with AWS's status reason;
    an array job's children fail so;
  - a job with propagated tags (job and job definition together, keys counted once) over
    50 is accepted, then FAILED;
  - SubmitJob to a fair-share queue without a shareIdentifier, or without a scheduling
    priority (neither schedulingPriorityOverride nor the definition's schedulingPriority), or
    to a queue without a scheduling policy with a shareIdentifier, is a ClientException (400);
    shareIdentifier, schedulingPriorityOverride and a definition's schedulingPriority are kept
    and described;
  - a job cancelled or terminated before its container started never starts it (moto starts
    and kills it); cancelling or terminating an array parent reaches its children; CancelJob
    leaves a STARTING or RUNNING job running and succeeds (moto already does);
  - a job queue keeps its `jobStateTimeLimitActions`, and DescribeJobQueues returns them;
  - ListJobs without a status or filters lists only RUNNING jobs, and every listing comes in
    pages (maxResults, 100 by default, and nextToken);
* an optional state snapshot: on SIGTERM each service's state is pickled to --state-file and
  loaded again at the next start, which is how `local.down --keep` keeps the emulator's data.
  A service whose state cannot be pickled (for example one holding a running thread) is
  left out and named in the log.
"""

from __future__ import annotations

import argparse
import base64
import copyreg
import json
import logging
import os
import pickle  # noqa: S403 - the snapshot is written and read only by this local process
import re
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from ..settings import write_atomic
from . import registryauth
from .registryauth import LocalRegistry

log = logging.getLogger("batchform.localstack.emulator")

HEALTH_PATH = "/batchform/health"
SERVICE_NAME = "batchform-emulator"


def _fresh_lock(reentrant: bool) -> Any:
    return threading.RLock() if reentrant else threading.Lock()


# Backends guard their data with locks; a restored backend gets new, unheld ones.
copyreg.pickle(type(threading.Lock()), lambda _lock: (_fresh_lock, (False,)))
copyreg.pickle(type(threading.RLock()), lambda _lock: (_fresh_lock, (True,)))


def _backend_dicts() -> dict[str, Any]:
    from moto.core.base_backend import BackendDict

    return {bd.service_name: bd for bd in BackendDict._instances}  # noqa: SLF001


def save_state(path: Path) -> None:
    """Pickle every service backend that pickles, one entry per service, atomically."""
    snapshot: dict[str, bytes] = {}
    for name, backends in _backend_dicts().items():
        try:
            snapshot[name] = pickle.dumps(dict(backends))
        except Exception as exc:  # noqa: BLE001 - report and keep the services that do pickle
            log.warning("state of %s not kept: %s", name, exc)
    write_atomic(path, pickle.dumps(snapshot))
    log.warning("state of %d services saved to %s", len(snapshot), path)


def load_state(path: Path) -> None:
    if not path.exists():
        return
    from moto.backends import get_backend
    from moto.core.base_backend import BackendDict

    snapshot: dict[str, bytes] = pickle.loads(path.read_bytes())  # noqa: S301 - our own file
    for name, blob in snapshot.items():
        try:
            backends = get_backend(name)  # type: ignore[call-overload]
            backends.update(pickle.loads(blob))  # noqa: S301
            # moto only tracks (and so only saves and resets) backends that were used.
            if backends not in BackendDict._instances:  # noqa: SLF001
                BackendDict._instances.append(backends)  # noqa: SLF001
        except Exception as exc:  # noqa: BLE001
            log.warning("state of %s not restored: %s", name, exc)
    log.warning("state of %d services restored from %s", len(snapshot), path)


def _honour_awslogs_options() -> None:
    """Send a job's output where its definition's awslogs options say, named as AWS names it."""
    from moto.batch import models

    original_init = models.Job.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        config = (self.job_definition.container_properties or {}).get("logConfiguration") or {}
        if config.get("logDriver") != "awslogs":
            return
        options = config.get("options") or {}
        self._log_group = options.get("awslogs-group", self._log_group)
        prefix = options.get("awslogs-stream-prefix")
        if prefix:
            self._stream_name = f"{prefix}/default/{self.job_id}"

    models.Job.__init__ = init


def job_container_environment(job: Any) -> dict[str, str]:
    """What the container of `job` finds in its environment on AWS, besides the job's own variables."""
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    definition = job.job_definition
    region = definition._region  # noqa: SLF001
    endpoint = f"http://{os.environ.get('MOTO_HOST', '127.0.0.1')}:{os.environ.get('MOTO_PORT', '4566')}"
    env = {"AWS_REGION": region, "AWS_DEFAULT_REGION": region, "AWS_ENDPOINT_URL": endpoint}
    index = (job.array_properties or {}).get("index")
    if index is not None:
        env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(index)
    role_arn = (definition.container_properties or {}).get("jobRoleArn")
    if role_arn:
        sts = sts_backends[definition.backend.account_id][get_partition(region)]
        session = sts.assume_role(
            region_name=region,
            role_session_name=f"batch-{job.job_id}"[:64].replace(":", "-"),
            role_arn=role_arn,
            policy="",
            duration=3600,
            external_id="",
        )
        env.update(
            AWS_ACCESS_KEY_ID=session.access_key_id,
            AWS_SECRET_ACCESS_KEY=session.secret_access_key,
            AWS_SESSION_TOKEN=session.session_token,
        )
    return env


class JobStoppedBeforeStart(Exception):
    """Raised instead of starting the container of a job that was cancelled or terminated."""


class ImageNotPulled(Exception):
    """The job's image could not be pulled: the job fails as ECS fails it."""


def _pull_as_ecs_does(job: Any, client: Any, image: str) -> None:
    """Pull an image of the local registry with the job's account's token, as ECS pulls from ECR
    with the execution role's: so the image must really be in the registry, and the registry's
    guard lets the job's account in. Other images are the engine's own (moto's behaviour)."""
    registry = _registry
    if registry is None or not image.startswith(f"{registry.host}/"):
        return
    repository, _, tag = image.rpartition(":")
    if "/" in tag or not repository:
        repository, tag = image, "latest"
    account = job.job_definition.backend.account_id
    auth = {"username": registryauth.TOKEN_USER, "password": registry.password(account)}
    try:
        client.images.pull(repository, tag=tag, auth_config=auth)
    except Exception as exc:  # noqa: BLE001 - any failure to pull is the job's failure
        job.job_stopped_reason = f"CannotPullContainerError: pull image {image}: {exc}"[:1024]
        raise ImageNotPulled(job.job_stopped_reason) from None


class _JobContainers:
    """docker's `containers`, adding the AWS-provided environment when a job's container starts."""

    def __init__(self, client: Any, job: Any):
        self._client, self._containers, self._job = client, client.containers, job

    def __getattr__(self, name: str) -> Any:
        return getattr(self._containers, name)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        if self._job.stop:
            # Cancelled or terminated while waiting: on AWS its container never starts (moto starts
            # it and kills it at once, after it may already have done its work).
            raise JobStoppedBeforeStart(CANCELLED_BEFORE_START)
        _pull_as_ecs_does(self._job, self._client, kwargs.get("image") or "")
        # Added at start only: DescribeJobs keeps showing just the job's own variables, as on AWS.
        kwargs["environment"] = {**job_container_environment(self._job), **(kwargs.get("environment") or {})}
        container = self._containers.run(*args, **kwargs)
        _stream_container_logs(self._job, container)
        return container


def _docker_time_ms(stamp: str) -> int:
    """Docker's RFC 3339 log timestamp (nanoseconds, Z) in epoch milliseconds."""
    import datetime

    whole, _, rest = stamp.rstrip("Z").partition(".")
    moment = datetime.datetime.fromisoformat(whole).replace(tzinfo=datetime.UTC)
    return int(moment.timestamp() * 1000) + int((rest + "000")[:3])


def _stream_container_logs(job: Any, container: Any) -> None:
    """Forward the container's lines to the job's log stream as they come, like the awslogs driver.

    moto's own write of all the lines when the container ends is then skipped for this stream:
    it waits for this forwarding to finish instead, so no line is lost or written twice.
    """
    backend, group, stream = job._log_backend, job._log_group, job._stream_name  # noqa: SLF001
    backend.ensure_log_group(group)
    backend.ensure_log_stream(group, stream)

    def send(lines: list[bytes]) -> None:
        events = []
        for raw in lines:
            stamp, _, message = raw.decode(errors="replace").partition(" ")
            if message.strip():
                events.append({"timestamp": _docker_time_ms(stamp), "message": message.strip()})
        if events:
            backend.put_log_events(group, stream, events)

    def forward() -> None:
        try:
            pending = b""
            for chunk in container.logs(stream=True, follow=True, timestamps=True, stdout=True, stderr=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                send(lines)
            send([pending])  # output that ends without a newline is a line too, as awslogs sends it
        except Exception as exc:  # noqa: BLE001 - the job goes on; its lines are what got through
            log.warning("log forwarding of job %s stopped: %s", job.job_id, exc)

    forwarder = threading.Thread(target=forward, name=f"logs-{job.job_id}", daemon=True)
    forwarder.start()
    job._log_backend = _ForwardedLogs(backend, stream, forwarder)  # noqa: SLF001


class _ForwardedLogs:
    """The logs backend, except that the bulk write of an already forwarded stream waits instead."""

    def __init__(self, backend: Any, stream: str, forwarder: threading.Thread):
        self._backend, self._stream, self._forwarder = backend, stream, forwarder

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def put_log_events(self, group: str, stream: str, events: list[dict[str, Any]]) -> Any:
        if stream != self._stream:
            return self._backend.put_log_events(group, stream, events)
        self._forwarder.join(timeout=30)
        return None


class _JobDockerClient:
    def __init__(self, client: Any, job: Any):
        self._client, self.containers = client, _JobContainers(client, job)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def _give_job_containers_their_aws_environment() -> None:
    from moto.batch import models
    from moto.utilities.docker_utilities import DockerModel

    engine_client = DockerModel.docker_client.fget  # type: ignore[attr-defined]

    def docker_client(self: Any) -> Any:
        return _JobDockerClient(engine_client(self), self)

    models.Job.docker_client = property(docker_client)  # type: ignore[assignment]


FINAL = ("SUCCEEDED", "FAILED")


def _describe_jobs_as_aws_does() -> None:
    from moto.batch.models import Job

    original_start, original_describe = Job._start_attempt, Job.describe  # noqa: SLF001

    def start_attempt(self: Any) -> None:
        # AWS names the attempt's log stream as soon as its container starts; moto only at the end.
        self.log_stream_name = self._stream_name  # noqa: SLF001
        original_start(self)

    def describe(self: Any) -> dict[str, Any]:
        children = self._child_jobs or []  # noqa: SLF001
        if children and self.status not in FINAL and all(c.status in FINAL for c in children):
            if any(c.status == "FAILED" for c in children):
                self.status = "FAILED"
        result = original_describe(self)
        if self.job_stopped and self.exit_code is not None and "container" in result:
            result["container"]["exitCode"] = self.exit_code
            if result.get("attempts"):
                result["attempts"][-1].setdefault("container", {})["exitCode"] = self.exit_code
        if result.get("status") == "FAILED" and not result.get("statusReason") and not children:
            result["statusReason"] = "Essential container in task exited"
        submitted = getattr(self, "batchform_submitted", {})
        if submitted.get("share_identifier") is not None:
            result["shareIdentifier"] = submitted["share_identifier"]
        if submitted.get("scheduling_priority") is not None:
            result["schedulingPriority"] = submitted["scheduling_priority"]
        return result

    Job._start_attempt = start_attempt  # type: ignore[method-assign]  # noqa: SLF001
    Job.describe = describe  # type: ignore[method-assign]


REVISIONLESS_ARN = re.compile(r"^arn:[^:]+:batch:[^:]+:[0-9]{12}:job-definition/([^:]+)$")
BATCH_SERVICE = "batch.amazonaws.com"


def _resolve_revisionless_job_definitions() -> None:
    from moto.batch.models import BatchBackend

    original_get = BatchBackend.get_job_definition

    def get_job_definition(self: Any, identifier: str) -> Any:
        match = REVISIONLESS_ARN.match(identifier)
        name = match[1] if match else (identifier if ":" not in identifier else None)
        if name is None:
            return original_get(self, identifier)
        active = [
            d
            for d in self._job_definitions.values()  # noqa: SLF001
            if d.name == name and d.status == "ACTIVE"
        ]
        return max(active, key=lambda d: d.revision, default=None)

    BatchBackend.get_job_definition = get_job_definition  # type: ignore[method-assign]


def _keep_launch_template_tags_off_its_data() -> None:
    """The template's tags belong to the template; AWS never echoes them in the version data."""
    from moto.ec2.models.launch_templates import LaunchTemplateBackend

    original_create = LaunchTemplateBackend.create_launch_template

    def create(self: Any, name: str, description: str, template_data: dict[str, Any], tag_spec: Any) -> Any:
        specs = [
            spec
            for spec in template_data.get("TagSpecifications") or []
            if spec.get("ResourceType") != "launch-template"
        ]
        template_data = {k: v for k, v in template_data.items() if k != "TagSpecifications"}
        if specs:
            template_data["TagSpecifications"] = specs
        return original_create(self, name, description, template_data, tag_spec)

    LaunchTemplateBackend.create_launch_template = create  # type: ignore[method-assign]


def _use_the_batch_service_linked_role() -> None:
    """Without serviceRole, AWS Batch acts as its service-linked role, creating it on first use."""
    from moto.batch.models import BatchBackend

    original_create = BatchBackend.create_compute_environment

    def create(self: Any, **kwargs: Any) -> Any:
        if not kwargs.get("service_role"):
            iam = self.iam_backend
            linked = [r for r in iam.roles.values() if r.path == f"/aws-service-role/{BATCH_SERVICE}/"]
            role = linked[0] if linked else iam.create_service_linked_role(BATCH_SERVICE, "AWS Batch", "")
            kwargs["service_role"] = role.arn
        return original_create(self, **kwargs)

    BatchBackend.create_compute_environment = create  # type: ignore[method-assign]


# ---- rules AWS Batch enforces that moto does not -------------------------------------------

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


_submitting = threading.local()


def _enforce_batch_rules() -> None:
    """SubmitJob's share identifier, the limits of the job's ECS task, and what a cancel stops."""
    from moto.batch.exceptions import ClientException
    from moto.batch.models import BatchBackend, Job
    from moto.batch.responses import BatchResponse

    original_submit, original_init, original_run = BatchResponse.submitjob, Job.__init__, Job.run
    original_cancel, original_terminate = BatchBackend.cancel_job, BatchBackend.terminate_job

    def submitjob(self: Any) -> str:
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

    def run(self: Any) -> None:
        reason = refusal_at_start(self)
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
    Job.run = run  # type: ignore[method-assign]
    BatchBackend.cancel_job = cancel_job  # type: ignore[method-assign]
    BatchBackend.terminate_job = terminate_job  # type: ignore[method-assign]


LIST_JOBS_PAGE = 100  # ListJobs' default maxResults


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


def _keep_a_job_definitions_scheduling_priority() -> None:
    """RegisterJobDefinition keeps `schedulingPriority` and DescribeJobDefinitions returns it (moto
    drops it: the fair-share rule above could not see it, and terraform would plan a change)."""
    from moto.batch.models import JobDefinition
    from moto.batch.responses import BatchResponse

    original_register, original_describe = BatchResponse.registerjobdefinition, JobDefinition.describe

    def registerjobdefinition(self: Any) -> str:
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


def _keep_job_state_time_limit_actions() -> None:
    """CreateJobQueue/UpdateJobQueue keep `jobStateTimeLimitActions` and DescribeJobQueues returns them."""
    from moto.batch.models import JobQueue
    from moto.batch.responses import BatchResponse

    original_create, original_update = BatchResponse.createjobqueue, BatchResponse.updatejobqueue
    original_describe = JobQueue.describe

    def keeping(original: Any, name_param: str) -> Any:
        def handler(self: Any) -> str:
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


_registry: LocalRegistry | None = None


def install_extensions(registry: LocalRegistry | None = None) -> None:
    """Every extension; with `registry`, ECR's tokens are that registry's and job images are pulled
    from it with them."""
    global _registry  # noqa: PLW0603 - one emulator process, one registry
    _registry = registry
    _honour_awslogs_options()
    _give_job_containers_their_aws_environment()
    _resolve_revisionless_job_definitions()
    _describe_jobs_as_aws_does()
    _keep_launch_template_tags_off_its_data()
    _use_the_batch_service_linked_role()
    _enforce_batch_rules()
    _keep_job_state_time_limit_actions()
    _keep_a_job_definitions_scheduling_priority()
    _list_jobs_as_aws_does()
    if registry:
        registryauth.answer_with_the_local_registry(registry)


def make_app() -> Any:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    moto_app = DomainDispatcherApplication(create_backend_app)
    health = json.dumps({"service": SERVICE_NAME, "pid": os.getpid()}).encode()

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == HEALTH_PATH:
            start_response("200 OK", [("Content-Type", "application/json")])
            return [health]
        return moto_app(environ, start_response)

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m batchform.localstack.emulator", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--state-file", type=Path, help="keep state here across restarts")
    parser.add_argument("--registry-url", help="the local registry, named in ECR's authorization tokens")
    parser.add_argument("--registry-key-file", type=Path, help="the key of the tokens the registry asks for")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    os.environ.setdefault("MOTO_PORT", str(args.port))
    os.environ.setdefault("MOTO_HOST", args.host)

    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import run_simple

    key = registryauth.read_auth_key(args.registry_key_file) if args.registry_key_file else None
    install_extensions(LocalRegistry(args.registry_url, key) if args.registry_url else None)
    if args.state_file:
        load_state(args.state_file)

    def stop(_signum: int, _frame: Any) -> None:
        if args.state_file:
            save_state(args.state_file)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    run_simple(args.host, args.port, make_app(), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
