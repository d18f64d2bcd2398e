"""Operations run at once, by threads and by separate processes, end as if run one after another.

Submits with one token start one job; builds of one image take distinct numbers, and builds of
one content take one number. The end-to-end tests run real OS processes against the local
stack, in emulator accounts of their own, so nothing they do is seen by other tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml
from batchform import jobs
from batchform.accounts import Account, Accounts
from batchform.images import (
    LABEL_DIGEST,
    LABEL_SOURCE,
    LABEL_VERSION,
    ImageSpec,
    content_digest,
    docker_client,
)
from batchform.jobs import DeployedJob, SubmitRequest
from batchform.registry import Registry
from conftest import queue_job_ids
from test_jobs_submit import Moto, aws  # noqa: F401 - `aws` is a fixture used below

ACCOUNT = "concurrency"
TOKEN_TAG = jobs.TOKEN_TAG

# The program each submitting process runs: the Submitter, as `invoke submit` uses it. With a
# start descriptor it gets ready (imports, credentials) and then waits for the descriptor to
# close, so that every process calls submit at the same moment. With `pause`, SubmitJob takes
# that long before and after its request, which widens the windows a kill can land in.
SUBMIT_PROGRAM = """
import json, os, sys, time
from pathlib import Path
from batchform.accounts import Accounts
from batchform.jobs import DeployedJob, SubmitRequest, Submitter

spec = json.loads(sys.argv[1])
account = Accounts({"accounts": {spec["name"]: spec["account"]}}).get(spec["name"])
account.client("batch")  # the role assumed and the service model loaded before the start
if spec.get("pause"):
    import botocore.client

    call = botocore.client.BaseClient._make_api_call

    def slow_submit_job(client, operation, params):
        if operation != "SubmitJob":
            return call(client, operation, params)
        time.sleep(spec["pause"])
        response = call(client, operation, params)
        time.sleep(spec["pause"])
        return response

    botocore.client.BaseClient._make_api_call = slow_submit_job
submitter = Submitter(account, journal_dir=Path(spec["journal_dir"]))
request = SubmitRequest(job="work", env=spec["env"], depends_on=[(spec["never_ends"], None)])
if spec.get("start_fd") is not None:
    print(json.dumps({"ready": True}), flush=True)
    os.read(spec["start_fd"], 1)
[result] = submitter.submit(DeployedJob(**spec["target"]), request, token=spec["token"])
print(json.dumps({"job_id": result.job_id, "reattached": result.reattached}), flush=True)
"""


# ---- a private queue in the emulator ---------------------------------------------------------


@dataclass
class PrivateQueue:
    """A Fargate compute environment, job queue and job definition in an emulator account of its own."""

    config: dict[str, Any]  # the account as batchform.yaml declares it
    account: Account
    target: DeployedJob
    # Every job waits on this job id, which no job has: the emulator keeps them waiting instead of
    # starting containers, and the test cancels them when it ends.
    never_ends: str

    def jobs_tagged(self, token: str) -> list[dict[str, Any]]:
        """Every job (not array child) in the queue carrying `token`."""
        batch = self.account.client("batch")
        ids = [job_id for job_id in queue_job_ids(batch, self.target.queue) if ":" not in job_id]
        return [
            job
            for start in range(0, len(ids), 100)
            for job in batch.describe_jobs(jobs=ids[start : start + 100])["jobs"]
            if (job.get("tags") or {}).get(TOKEN_TAG) == token
        ]

    def submit_spec(self, token: str, journal_dir: Path, **extra: Any) -> dict[str, Any]:
        return {
            "name": ACCOUNT,
            "account": self.config,
            "target": {
                "job": self.target.job,
                "definition": self.target.definition,
                "queue": self.target.queue,
            },
            "journal_dir": str(journal_dir),
            "token": token,
            "env": {"WORK": "once"},
            "never_ends": self.never_ends,
            **extra,
        }


@pytest.fixture(scope="module")
def private_queue(batch_queue) -> PrivateQueue:  # noqa: ANN001
    return PrivateQueue(
        batch_queue.config, batch_queue.account, batch_queue.target, never_ends=str(uuid.uuid4())
    )


# ---- running processes at once --------------------------------------------------------------


def start_together(
    commands: list[list[str]], env: dict[str, str] | None = None
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Run `commands` (programs taking a JSON spec with `start_fd`) so that each gets ready, then all
    go at the moment one descriptor closes; returns what each printed when ready, and at its end."""
    read_end, write_end = os.pipe()
    processes: list[subprocess.Popen[str]] = []
    try:
        for command in commands:
            spec = json.loads(command[-1]) | {"start_fd": read_end}
            processes.append(
                subprocess.Popen(
                    [*command[:-1], json.dumps(spec)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    pass_fds=(read_end,),
                    env=env,
                )
            )
        readied = []
        for process in processes:
            line = process.stdout.readline()
            assert line.startswith("{"), (line, process.stderr.read())
            readied.append(json.loads(line))
        os.close(write_end)  # every process blocked on the descriptor goes now
        write_end = -1
        outcomes = []
        for process in processes:
            out, err = process.communicate(timeout=300)
            assert process.returncode == 0, err
            outcomes.append(json.loads(out.strip().splitlines()[-1]))
        return list(zip(readied, outcomes, strict=True))
    finally:
        for descriptor in (read_end, write_end):
            if descriptor >= 0:
                os.close(descriptor)
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def python(program: str, spec: dict[str, Any]) -> list[str]:
    return [sys.executable, "-c", program, json.dumps(spec)]


# ---- submits --------------------------------------------------------------------------------


@pytest.mark.stack
def test_ten_processes_submitting_with_one_token_at_once_start_one_job(
    private_queue: PrivateQueue, tmp_path: Path, tally: Counter
) -> None:
    token = f"at-once-{uuid.uuid4().hex}"
    spec = private_queue.submit_spec(token, tmp_path / "journal")
    outcomes = [end for _ready, end in start_together([python(SUBMIT_PROGRAM, spec) for _ in range(10)])]
    tally["concurrent operations"] += len(outcomes)

    tagged = [job["jobId"] for job in private_queue.jobs_tagged(token)]
    assert len(tagged) == 1, f"{len(tagged)} jobs carry the token"
    assert [outcome["job_id"] for outcome in outcomes] == tagged * 10
    assert sorted(outcome["reattached"] for outcome in outcomes) == [False] + [True] * 9


def run_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """`work(0..count-1)` on threads of their own; a failure in any is raised here."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(work, index) for index in range(count)]
        return [future.result(timeout=120) for future in futures]


def test_ten_threads_submitting_with_one_token_at_once_start_one_job(aws: Moto, tally: Counter) -> None:  # noqa: F811
    # SubmitJob takes a moment, as it does over a network: without a lock across reading the
    # journal and recording the job, every thread would read an empty history and submit.
    aws.batch.before_submit = lambda _request: time.sleep(0.05)
    start = threading.Barrier(10)
    request = SubmitRequest("hello", env={"RUN": "once"})

    def submit(_index: int) -> jobs.SubmitResult:
        submitter = aws.submitter()  # a submitter each, as separate commands would have
        start.wait()
        return submitter.submit(aws.target, request, token="one-token")[0]

    results = run_threads(10, submit)
    tally["concurrent operations"] += len(results)
    assert len(aws.batch.submitted) == 1
    assert [job["jobId"] for job in aws.jobs_tagged("one-token")] == [results[0].job_id]
    assert {result.job_id for result in results} == {results[0].job_id}
    assert sorted(result.reattached for result in results) == [False] + [True] * 9


def test_submits_with_different_tokens_are_in_flight_at_the_same_time(aws: Moto, tally: Counter) -> None:  # noqa: F811
    # Each SubmitJob waits until all eight are in flight: were submits of different tokens
    # serialised on one lock, the first would wait for the others forever (here: time out).
    in_flight = threading.Barrier(8, timeout=30)
    aws.batch.before_submit = lambda _request: in_flight.wait()

    def submit(index: int) -> jobs.SubmitResult:
        request = SubmitRequest("hello", env={"ITEM": str(index)})
        return aws.submitter().submit(aws.target, request, token=f"fan-out-{index}")[0]

    results = run_threads(8, submit)
    tally["concurrent operations"] += len(results)
    assert len({result.job_id for result in results}) == 8
    assert not any(result.reattached for result in results)


# ---- builds ---------------------------------------------------------------------------------

BUILD_PROGRAM = """
import json, os, sys
from pathlib import Path
import yaml
from batchform.accounts import Accounts
from batchform.images import ImageBuilder, ImageSpec

spec = json.loads(sys.argv[1])
account = Accounts(yaml.safe_load(Path(spec["config"]).read_text())).get(spec["account"])
builder = ImageBuilder([account], echo=lambda line: print(line, file=sys.stderr, flush=True))
built = builder.build(ImageSpec(name=spec["image"], context=Path(spec["context"])))
print(json.dumps({"built": built.build, "reused": built.reused}), flush=True)
os.read(spec["start_fd"], 1)
pushed = builder.push(built)
print(json.dumps({"build": pushed.build, "digest": pushed.digest}), flush=True)
"""


@dataclass
class BuildRace:
    root: Path
    account: Account
    image: str
    env: dict[str, str]

    def context(self, content: str) -> Path:
        """A build context of its own, two layers: one shared by every build, one with `content`."""
        context = self.root / "contexts" / uuid.uuid4().hex
        context.mkdir(parents=True)
        (context / "Dockerfile").write_text(
            "FROM scratch\nCOPY shared.txt /shared.txt\nCOPY data.txt /data.txt\n"
        )
        (context / "shared.txt").write_text(f"{self.image}\n")
        (context / "data.txt").write_text(content)
        return context

    def build_all(self, contexts: list[Path]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Build each context in a process of its own, then push them all at once: (built, pushed) each."""
        commands = [
            python(
                BUILD_PROGRAM,
                {
                    "config": str(self.root / "batchform.yaml"),
                    "account": self.account.name,
                    "image": self.image,
                    "context": str(context),
                },
            )
            for context in contexts
        ]
        return start_together(commands, env=self.env)

    def digest(self, context: Path) -> str:
        return content_digest(ImageSpec(name=self.image, context=context), {})


@pytest.fixture
def build_race(local_stack, release_project: Path) -> Iterator[BuildRace]:  # noqa: ANN001
    """An image of its own in a private account's (empty) registry; its local tags removed afterwards."""
    config = yaml.safe_load((release_project / "batchform.yaml").read_text())
    account = Accounts(config).get("rel-a")
    image = f"race-{uuid.uuid4().hex[:10]}"
    env = dict(
        os.environ,
        BATCHFORM_ROOT=str(release_project),
        BATCHFORM_CONFIG=str(release_project / "batchform.yaml"),
        BATCHFORM_HOME=str(release_project / ".batchform"),
    )
    yield BuildRace(release_project, account, image, env)
    remove_images(docker_client(), {LABEL_SOURCE: f"images/{image}"})


def remove_images(client: Any, labels: dict[str, str]) -> None:
    """Every local image with these labels: the builds, the ones that lost a race, the ones pulled."""
    filters = {"label": [f"{key}={value}" for key, value in labels.items()]}
    for _pass in range(5):  # an image with children goes once they are gone
        found = client.images.list(all=True, filters=filters)
        if not found:
            return
        for image in found:
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_image(image.id, force=True)


@pytest.mark.stack
def test_five_processes_building_different_content_at_once_get_builds_1_to_5(
    build_race: BuildRace, tally: Counter
) -> None:
    contents = [f"change {letter}\n" for letter in "abcde"]
    contexts = [build_race.context(content) for content in contents]
    built, outcomes = zip(*build_race.build_all(contexts), strict=True)
    tally["concurrent operations"] += len(outcomes)

    assert [b["built"] for b in built] == [1] * 5  # each saw an empty registry: all race for number 1
    assert sorted(outcome["build"] for outcome in outcomes) == [1, 2, 3, 4, 5]
    registry = Registry(build_race.account)
    assert registry.builds(build_race.image) == [5, 4, 3, 2, 1]
    labels = {number: registry.config_labels(build_race.image, number) for number in range(1, 6)}
    for context, outcome in zip(contexts, outcomes, strict=True):
        # The number a process reports holds the content that process built, and says so.
        assert outcome["digest"] == build_race.digest(context)
        assert labels[outcome["build"]][LABEL_DIGEST] == outcome["digest"]
        assert labels[outcome["build"]][LABEL_VERSION] == str(outcome["build"])
    assert len({found[LABEL_DIGEST] for found in labels.values()}) == 5  # no content under two numbers

    client = docker_client()
    auth = registry.credentials().docker_auth()
    for number in range(1, 6):
        reference = registry.reference(build_race.image, number)
        client.images.pull(reference, auth_config=auth)
        client.api.remove_image(reference, noprune=True)


@pytest.mark.stack
def test_five_processes_building_one_content_at_once_share_one_build(
    build_race: BuildRace, tally: Counter
) -> None:
    context = build_race.context("the same change\n")
    built, first = zip(*build_race.build_all([context] * 5), strict=True)
    assert [(b["built"], b["reused"]) for b in built] == [(1, False)] * 5  # all race for number 1
    # Built again at once, unchanged: each process finds that build and reuses it.
    built_again, again = zip(*build_race.build_all([context] * 5), strict=True)
    assert [(b["built"], b["reused"]) for b in built_again] == [(1, True)] * 5
    first, again = list(first), list(again)
    tally["concurrent operations"] += len(first) + len(again)

    assert [outcome["build"] for outcome in first + again] == [1] * 10
    assert {outcome["digest"] for outcome in first + again} == {build_race.digest(context)}
    registry = Registry(build_race.account)
    assert registry.builds(build_race.image) == [1]
    assert registry.config_labels(build_race.image, 1)[LABEL_DIGEST] == build_race.digest(context)
