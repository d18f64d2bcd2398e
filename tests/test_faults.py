"""Faults on purpose, on the local stack: a proxy on loopback (batchform.localstack.faults) in front of the
registry or the emulator answers 500/503/429, loses answers or drops connections, and the work
still completes exactly once.

Each test reaches the stack through the proxy as a private emulator account and checks the
outcome directly, past the proxy: digests recomputed from the bytes, jobs counted by their token.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml
from batchform import jobs
from batchform.accounts import Account, Endpoints
from batchform.follow import JobWatcher, LogFollower
from batchform.images import LABEL_DIGEST, ImageBuilder, ImageSpec
from batchform.localstack.faults import Fault, FaultPlan, FaultProxy, Request
from batchform.registry import Registry
from batchform.settings import LocalStackSettings
from conftest import queue_job_ids

pytestmark = [pytest.mark.stack, pytest.mark.docker]

REGISTRY_FAULTS = (Fault("refuse", 500), Fault("refuse", 503), Fault("refuse", 429))


def private_account(
    registry: str | None = None, aws: str | None = None, account_id: str | None = None
) -> Account:
    """An emulator account of its own, reached directly or through a proxy (registry host, aws URL)."""
    stack = LocalStackSettings.load()
    account_id = account_id or str(random.randint(10**11, 10**12 - 1))
    return Account(
        name="faulty",
        account_id=account_id,
        region="us-east-1",
        # Its own account's credentials: the local registry, as ECR, opens a repository only to
        # the token of the account that owns it.
        role_arn=f"arn:aws:iam::{account_id}:role/batchform-deployer",
        endpoints=Endpoints(
            aws=aws or stack.emulator_url,
            registry=f"http://{registry or stack.registry_address}/{account_id}",
            emulator_credentials=True,
        ),
    )


def registry_upstream() -> str:
    return f"http://{LocalStackSettings.load().registry_address}"


def verified_image(registry: Registry, image: str, reference: str | int) -> str:
    """Read an image back and check every digest against its bytes; returns the manifest digest."""
    found = registry.manifest(image, reference)
    assert found is not None, f"{image}:{reference} missing"
    digest, _media_type, body = found
    assert digest == "sha256:" + hashlib.sha256(body).hexdigest()
    manifest = json.loads(body)
    for child in manifest.get("manifests") or []:
        verified_image(registry, image, child["digest"])
    for blob in [manifest.get("config"), *(manifest.get("layers") or [])]:
        if not blob:
            continue
        response = registry._get(f"/v2/{registry.repository_path(image)}/blobs/{blob['digest']}")
        assert response.status_code == 200, f"blob {blob['digest']} missing"
        assert "sha256:" + hashlib.sha256(response.content).hexdigest() == blob["digest"]
        assert len(response.content) == blob["size"]
    return digest


@pytest.fixture
def image_context(tmp_path: Path) -> Iterator[ImageSpec]:
    """A small image of one layer (200 KB of random bytes), removed from the engine after.

    Named for this test alone: removing it must not take an image another worker is pushing."""
    context = tmp_path / "image"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\nCOPY data.bin /data.bin\n")
    (context / "data.bin").write_bytes(os.urandom(200_000))
    spec = ImageSpec(name=f"faulty-{uuid.uuid4().hex[:8]}", context=context)
    yield spec
    engine = docker.from_env()
    for image in engine.images.list(name=spec.local_repository):
        engine.images.remove(image.id, force=True)


def _tags(registry: Registry, image: str) -> list[str]:
    """Every tag of a repository, numeric or not, as ECR lists them (none when it holds no image)."""
    ecr = registry.account.client("ecr")
    try:
        pages = ecr.get_paginator("describe_images").paginate(repositoryName=image)
        details = [detail for page in pages for detail in page["imageDetails"]]
    except ecr.exceptions.RepositoryNotFoundException:
        return []
    return sorted(tag for detail in details for tag in detail.get("imageTags", []))


def test_a_push_through_a_registry_failing_half_its_requests_once_completes_with_every_digest_verified(
    local_stack, image_context: ImageSpec, tally: Counter
) -> None:  # noqa: ANN001
    """Transient faults, each request failing at most once: the engine pauses 5 s or more before
    it tries a layer again, so faults that recur (as in the promotion below, our own client) would
    make this test minutes long without proving more of batchform's push."""
    plan = FaultPlan(faults=REGISTRY_FAULTS, rate=1 / 2, style="registry", seed=11, once=True)
    with FaultProxy.running(registry_upstream(), plan) as proxy:
        flaky = private_account(registry=proxy.address)
        printed: list[str] = []
        builder = ImageBuilder([flaky], echo=printed.append)
        result = builder.push(builder.build(image_context))
        injected = proxy.total_injected
    tally["faults injected"] += injected
    assert injected >= 2, proxy.injected  # the proxy really failed requests of this push

    registry = Registry(replace(flaky, endpoints=private_account(account_id=flaky.account_id).endpoints))
    assert _tags(registry, image_context.name) == [str(result.build)]  # one tag: nothing pushed twice
    verified_image(registry, image_context.name, result.build)
    assert registry.config_labels(image_context.name, result.build)[LABEL_DIGEST] == result.digest


def test_a_promotion_into_a_registry_failing_a_third_of_requests_copies_every_blob_intact(
    local_stack, image_context: ImageSpec, tally: Counter
) -> None:  # noqa: ANN001
    source = private_account()
    builder = ImageBuilder([source], echo=lambda _line: None)
    pushed = builder.push(builder.build(image_context))
    source_digest = verified_image(Registry(source), image_context.name, pushed.build)

    plan = FaultPlan(faults=REGISTRY_FAULTS, rate=1 / 3, style="registry", seed=5)
    with FaultProxy.running(registry_upstream(), plan) as proxy:
        target = private_account(registry=proxy.address)
        copied = Registry(target).copy_image(Registry(source), image_context.name, pushed.build)
        injected = proxy.total_injected
    tally["faults injected"] += injected
    assert injected >= 1, proxy.injected

    direct = Registry(private_account(account_id=target.account_id))
    assert copied == source_digest
    assert verified_image(direct, image_context.name, pushed.build) == source_digest
    assert _tags(direct, image_context.name) == [str(pushed.build)]


# ---- the emulator throttling Batch ------------------------------------------------------------

BATCH_CALLS = {"submitjob", "describejobs", "listjobs"}


def batch_calls(request: Request) -> bool:
    return request.operation in BATCH_CALLS


def test_submits_and_follows_through_a_throttling_emulator_complete_within_the_rate_with_no_duplicate(
    batch_queue, tmp_path: Path, tally: Counter
) -> None:  # noqa: ANN001
    """A third of SubmitJob/DescribeJobs/ListJobs calls is throttled or fails, and some SubmitJob
    answers are lost after the job was created: every request still ends as exactly one job."""
    account, target = batch_queue.account, batch_queue.target
    run = uuid.uuid4().hex[:8]
    requests = [jobs.SubmitRequest(job="work", env={"RUN": f"{run}-{i}"}) for i in range(12)]
    faults = (Fault("refuse", 429), Fault("lose", 500), Fault("refuse", 429), Fault("refuse", 503))
    plan = FaultPlan(faults=faults, rate=1 / 3, match=batch_calls, style="aws", seed=3)
    rate = 4.0
    with FaultProxy.running(account.endpoints.aws, plan) as proxy:
        flaky = replace(account, endpoints=replace(account.endpoints, aws=proxy.url))
        submitter = jobs.Submitter(flaky, journal_dir=tmp_path / "journal", rate_per_second=rate)
        results = [submitter.submit(target, request)[0] for request in requests]
        submit_times = [at for at, operation in proxy.calls if operation == "submitjob"]
        outcomes = JobWatcher(flaky, echo=lambda _line: None, poll=0.5).wait(
            [r.job_id for r in results], timeout=300
        )
        injected = proxy.total_injected
    tally["faults injected"] += injected
    assert proxy.injected["lose 500"] >= 1 and proxy.injected["refuse 429"] >= 1, proxy.injected

    batch = account.client("batch")
    ids = queue_job_ids(batch, target.queue)
    described = [
        job for at in range(0, len(ids), 100) for job in batch.describe_jobs(jobs=ids[at : at + 100])["jobs"]
    ]
    tokens = Counter((job.get("tags") or {}).get("batchform:token") for job in described)
    # None lost, none doubled.
    assert {r.token: tokens[r.token] for r in results} == {r.token: 1 for r in results}
    assert {o.status for o in outcomes.values()} == {"SUCCEEDED"}
    # The token bucket's promise: never more than a burst of `rate` plus `rate` a second.
    busiest = max(sum(1 for t in submit_times if start <= t < start + 1) for start in submit_times)
    assert busiest <= 2 * rate


# ---- connections dropping under a log follower -------------------------------------------------


def test_a_log_follow_whose_connections_drop_prints_every_line_once_in_order(
    local_stack, tmp_path: Path, tally: Counter
) -> None:  # noqa: ANN001
    direct = private_account()
    logs = direct.client("logs")
    group, stream = f"/batchform/faults/{uuid.uuid4().hex[:8]}", "job/default/attempt-1"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    job: dict[str, Any] = {
        "jobId": str(uuid.uuid4()),
        "status": "RUNNING",
        "container": {"logStreamName": stream, "logConfiguration": {"options": {"awslogs-group": group}}},
    }
    written = [f"line {i:03d}" for i in range(240)]

    def write() -> None:
        for start in range(0, len(written), 6):
            now = int(time.time() * 1000)
            batch = [{"timestamp": now, "message": line} for line in written[start : start + 6]]
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
            time.sleep(0.02)
        job["status"] = "SUCCEEDED"

    faults = (Fault("drop"), Fault("lose", 500), Fault("refuse", 503), Fault("refuse", 429))
    plan = FaultPlan(
        faults=faults, rate=1 / 3, match=lambda r: r.operation == "getlogevents", style="aws", seed=9
    )
    printed: list[str] = []
    with FaultProxy.running(direct.endpoints.aws, plan) as proxy:
        flaky = replace(direct, endpoints=replace(direct.endpoints, aws=proxy.url))
        follower = LogFollower(flaky, job["jobId"], echo=printed.append, state_dir=tmp_path, poll=0.05)
        follower.page_size = 7  # many pages, so many positions to resume from
        writer = threading.Thread(target=write)
        writer.start()
        follower.follow(watcher_poll=lambda: dict(job))
        writer.join()
        injected = proxy.total_injected
    tally["faults injected"] += injected
    assert proxy.injected["drop 503"] >= 1, proxy.injected
    assert printed == written


# ---- a push killed half-way --------------------------------------------------------------------


def test_a_push_killed_half_way_leaves_no_partial_tag_and_the_rerun_completes_it_once(
    local_stack, release_project: Path, tally: Counter
) -> None:  # noqa: ANN001
    """The CLI is killed while a layer is on its way; the registry never shows an incomplete
    tag, and pushing again completes the same build, once."""
    plan = FaultPlan(faults=(Fault("refuse", 503),), rate=0.0)
    with FaultProxy.running(registry_upstream(), plan) as proxy:
        account_id = str(random.randint(10**11, 10**12 - 1))
        config = yaml.safe_load((release_project / "batchform.yaml").read_text())
        stack = LocalStackSettings.load()
        config["accounts"]["proxied"] = {
            "account_id": account_id,
            "region": "us-east-1",
            "endpoints": {"aws": stack.emulator_url, "registry": f"http://{proxy.address}/{account_id}"},
            "role_arn": f"arn:aws:iam::{account_id}:role/batchform-deployer",
        }
        (release_project / "batchform.yaml").write_text(yaml.safe_dump(config))
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "batchform-local-stack",
            "AWS_SECRET_ACCESS_KEY": "emulator",
            "BATCHFORM_HOME": str(release_project / ".batchform"),
        }

        def cli(*args: str) -> subprocess.Popen[str]:
            return subprocess.Popen(
                [sys.executable, "-m", "batchform", *args, "--account", "proxied"],
                cwd=release_project,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )

        build = cli("build", "--image", "alpha")
        assert build.wait(timeout=120) == 0, build.stdout.read() if build.stdout else ""

        push = cli("push", "--image", "alpha")
        killed = threading.Event()

        def kill_on_upload(request: Request) -> None:
            if (
                "/blobs/uploads/" in request.path
                and request.method in ("PATCH", "PUT")
                and not killed.is_set()
            ):
                killed.set()
                os.kill(push.pid, signal.SIGKILL)

        proxy.on_request = kill_on_upload
        push.wait(timeout=120)
        proxy.on_request = None
        assert killed.is_set() and push.returncode == -signal.SIGKILL
        tally["faults injected"] += 1

        registry = Registry(private_account(account_id=account_id))
        for tag in _tags(registry, "alpha"):  # whatever got there is whole
            verified_image(registry, "alpha", tag)

        again = cli("push", "--image", "alpha")
        output = again.communicate(timeout=120)[0]
        assert again.returncode == 0, output
    assert _tags(registry, "alpha") == ["1"]
    verified_image(registry, "alpha", 1)
