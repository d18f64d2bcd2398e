"""The main workflow, end to end, on the local stack: what `invoke demo` runs.

Start the stack, build and push every image under images/ exactly as `invoke build push`
does (the next build number, or the existing one when nothing changed), `invoke bump` the
local account to those builds and apply it, submit a job, wait for it, and print its log
lines read back from CloudWatch Logs.
"""

from __future__ import annotations

from collections.abc import Callable

from . import baseimages, jobs, logs
from .accounts import Accounts
from .images import build_images, push_images
from .localstack import LocalStack
from .releases import Releases
from .terraform import TerraformRunner

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

    echo(f"== 4/5 submit job {JOB}")
    job_id = jobs.submit(account, JOB, env={"GREETING": "batchform demo"})
    state = jobs.wait(account, [job_id], echo=lambda line: echo("   " + line))[job_id]

    echo(f"== 5/5 log lines of {job_id}, read from CloudWatch Logs")
    for line in logs.lines(account, job_id):
        echo(f"   | {line}")
    echo(f"job {job_id} {state.status}")
    return state.status
