"""How a Batch job's container runs in the emulator: as on AWS, not as moto runs it.

Each has a test in tests/test_emulator.py:

* job logs go to the job definition's awslogs group and stream prefix, as on AWS, instead of
  always `/aws/batch/job`;
* a job's container gets what AWS Batch gives one: the region, credentials of the job
  definition's job role (in the job's account, from the emulator's STS), the array index of an
  array child, and, because the AWS it talks to is this emulator, AWS_ENDPOINT_URL;
* a job's output reaches CloudWatch Logs while its container runs, line by line (the last one
  too when it ends without a newline), as the awslogs driver sends it on AWS (moto writes it all
  when the container ends);
* a job's image from the local registry is pulled with the job's account's token, as ECS pulls
  from ECR with the execution role's: an image not in the registry fails the job with
  `CannotPullContainerError`;
* a job cancelled or terminated while it waited never starts its container (a rule of
  `batchform.localstack.batchrules`, kept where the container would start).
"""

from __future__ import annotations

import collections
import logging
import os
import threading
from typing import Any

from .batchrules import CANCELLED_BEFORE_START
from .registryauth import TOKEN_USER, LocalRegistry

log = logging.getLogger("batchform.localstack.jobcontainers")

FORWARDING_WAIT = 30.0  # seconds the job's end waits for its forwarding before writing in its place

_registry: LocalRegistry | None = None


def install(registry: LocalRegistry | None = None) -> None:
    """Run job containers as AWS does; with `registry`, its images are pulled with the account's token."""
    global _registry  # noqa: PLW0603 - one emulator process, one registry
    _registry = registry
    _honour_awslogs_options()
    _give_job_containers_their_aws_environment()


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
    auth = {"username": TOKEN_USER, "password": registry.password(account)}
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
    forwarder = _LogForwarder(backend, group, stream, container, job.job_id)
    forwarder.start()
    job._log_backend = _ForwardedLogs(backend, stream, forwarder)  # noqa: SLF001


class _LogForwarder(threading.Thread):
    """Sends a container's lines to its stream as they come, remembering what it sent."""

    def __init__(self, backend: Any, group: str, stream: str, container: Any, job_id: str):
        super().__init__(name=f"logs-{job_id}", daemon=True)
        self._backend, self._group, self._stream, self._container = backend, group, stream, container
        self._job_id = job_id
        self.sent: collections.Counter[str] = collections.Counter()  # messages: moto stamps them its own way
        self.complete = False  # every line the container wrote was sent
        self.closed = False  # the job's end wrote the rest: nothing more may be sent
        self.lock = threading.Lock()  # one writer at a time: this thread, or the job's end

    def _send(self, lines: list[bytes]) -> None:
        events = []
        for raw in lines:
            stamp, _, message = raw.decode(errors="replace").partition(" ")
            if message.strip():
                events.append({"timestamp": _docker_time_ms(stamp), "message": message.strip()})
        with self.lock:
            if events and not self.closed:
                self._backend.put_log_events(self._group, self._stream, events)
                self.sent.update(event["message"] for event in events)

    def run(self) -> None:
        try:
            pending = b""
            logs = self._container.logs(stream=True, follow=True, timestamps=True, stdout=True, stderr=True)
            for chunk in logs:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                self._send(lines)
            self._send([pending])  # output that ends without a newline is a line too, as awslogs sends it
            self.complete = True
        except Exception as exc:  # noqa: BLE001 - the job goes on; moto's write at its end fills the gap
            log.warning("log forwarding of job %s stopped: %s", self._job_id, exc)


class _ForwardedLogs:
    """The logs backend, except that the bulk write of a forwarded stream waits for the forwarding
    and then writes only the lines it did not send (none, unless the forwarding broke off). A
    forwarding still waiting on the engine then is closed first, so that what it would have sent
    later is written now, once, and not lost if its wait ends in an error."""

    def __init__(self, backend: Any, stream: str, forwarder: _LogForwarder):
        self._backend, self._stream, self._forwarder = backend, stream, forwarder

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def put_log_events(self, group: str, stream: str, events: list[dict[str, Any]]) -> Any:
        if stream != self._stream:
            return self._backend.put_log_events(group, stream, events)
        forwarder = self._forwarder
        forwarder.join(timeout=FORWARDING_WAIT)
        with forwarder.lock:
            forwarder.closed = True
            if forwarder.complete:
                return None
            sent, missing = collections.Counter(forwarder.sent), []
            for event in events:
                if sent[event["message"]]:
                    sent[event["message"]] -= 1
                else:
                    missing.append(event)
            return self._backend.put_log_events(group, stream, missing) if missing else None


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
