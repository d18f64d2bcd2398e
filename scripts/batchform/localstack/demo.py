"""The main workflow, end to end, on the local stack: what `invoke demo` runs.

Start the stack, build and push every image under images/ exactly as `invoke build push`
does (the next build number, or the existing one when nothing changed), `invoke bump` the
local account to those builds and apply it, submit a job, wait for it, and print its log
lines read back from CloudWatch Logs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from .. import jobs
from ..accounts import Accounts
from ..follow import JobWatcher, LogFollower
from ..images import build_images, push_images
from ..releases import Releases
from ..terraform import TerraformRunner
from . import baseimages
from .stack import LocalStack

Echo = Callable[[str], None]
JOB = "hello"


def run(echo: Echo) -> str:
    """Run the demo; return the final job status."""
    echo("== 1/5 local stack")
    for component in LocalStack(echo=echo).up():
        echo("   " + component.line())
    baseimages.ensure(echo)
    account = Accounts().get("local")

    echo("== 2/5 invoke build push (every image under images/)")
    build_images([account], None, False, lambda line: echo("   " + line))
    pushed = push_images([account], None, lambda line: echo("   " + line))
    builds = {result.image: result.build for result in pushed}

    echo("== 3/5 invoke bump (each image to the build just pushed), then terraform apply")
    releases = Releases(echo=lambda line: echo("   " + line))
    for image, build in builds.items():
        # The local stack starts empty, so its builds may be older than the ones declared.
        for result in releases.bump(image, build, [account.name], allow_downgrade=True):
            if result.changed:
                echo(f"   {image}: {result.old} -> {result.new}")
    TerraformRunner(account, echo=lambda line: echo("   " + line) if line.strip() else None).apply()

    echo(f"== 4/5 invoke submit {JOB} --follow")
    request = jobs.SubmitRequest(job=JOB, env={"GREETING": "batchform demo"})
    [submitted] = jobs.Submitter(account).submit(
        jobs.deployed_job(account, JOB), request, token=uuid.uuid4().hex
    )
    echo(f"   submitted {JOB} as {submitted.job_id}")

    echo(f"== 5/5 following {submitted.job_id}: status changes, and log lines from CloudWatch Logs")
    watcher = JobWatcher(account, echo=lambda line: echo("   " + line), poll=0.5)
    follower = LogFollower(account, submitted.job_id, echo=lambda line: echo(f"   | {line}"), poll=0.5)
    outcome = watcher.wait(
        [submitted.job_id], on_poll=lambda described: follower.read_available(described.get(submitted.job_id))
    )[submitted.job_id]
    follower.follow()
    echo(f"job {submitted.job_id} {outcome.status}")
    return outcome.status
