"""The main workflow, end to end, on the local stack: what `invoke demo` runs.

Start the stack, build and push every image under images/ exactly as `invoke build push`
does (the next build number, or the existing one when nothing changed), apply the local
account's terraform with the job definitions pointing at those builds, submit a job, wait
for it, and print its log lines read back from CloudWatch Logs.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from . import baseimages, jobs, logs
from .accounts import Accounts
from .images import build_images, push_images
from .localstack import LocalStack
from .settings import paths
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

    echo(f"== 3/5 terraform apply, account {account.name}, builds {builds}")
    override = paths().terraform_data_dir(account.name) / "demo-builds.tfvars.json"
    override.parent.mkdir(parents=True, exist_ok=True)
    override.write_text(json.dumps({"images": {name: {"build": build} for name, build in builds.items()}}))
    TerraformRunner(account, echo=lambda line: echo("   " + line) if line.strip() else None).apply([override])

    echo(f"== 4/5 submit job {JOB}")
    job_id = jobs.submit(account, JOB, env={"GREETING": "batchform demo"})
    state = jobs.wait(account, [job_id], echo=lambda line: echo("   " + line))[job_id]

    echo(f"== 5/5 log lines of {job_id}, read from CloudWatch Logs")
    for line in logs.lines(account, job_id):
        echo(f"   | {line}")
    echo(f"job {job_id} {state.status}")
    return state.status
