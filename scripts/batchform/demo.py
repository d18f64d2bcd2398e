"""The main workflow, end to end, on the local stack: what `invoke demo` runs.

Start the stack, build and push the example image with the next build number, apply the
local account's terraform with the job definition pointing at that build, submit a job,
wait for it, and print its log lines read back from CloudWatch Logs.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from . import baseimages, jobs, logs
from .accounts import Accounts
from .images import ImageBuilder, discover
from .localstack import LocalStack
from .settings import paths
from .terraform import TerraformRunner

Echo = Callable[[str], None]
IMAGE = "hello"
JOB = "hello"


def run(echo: Echo) -> str:
    """Run the demo; return the final job status."""
    echo("== 1/5 local stack")
    for component in LocalStack(echo=echo).up():
        echo("   " + component.line())
    baseimages.ensure(echo)
    account = Accounts().get("local")

    echo(f"== 2/5 build and push images/{IMAGE}")
    builder = ImageBuilder([account], echo=echo)
    result = builder.build(discover([IMAGE])[0])
    builder.push(result)

    echo(f"== 3/5 terraform apply, account {account.name}, {IMAGE} build {result.build}")
    override = paths().terraform_data_dir(account.name) / "demo-builds.tfvars.json"
    override.parent.mkdir(parents=True, exist_ok=True)
    override.write_text(json.dumps({"images": {IMAGE: {"build": result.build}}}))
    TerraformRunner(account, echo=lambda line: echo("   " + line) if line.strip() else None).apply([override])

    echo(f"== 4/5 submit job {JOB}")
    job_id = jobs.submit(account, JOB, env={"GREETING": "batchform demo"})
    state = jobs.wait(account, [job_id], echo=lambda line: echo("   " + line))[job_id]

    echo(f"== 5/5 log lines of {job_id}, read from CloudWatch Logs")
    for line in logs.lines(account, job_id):
        echo(f"   | {line}")
    echo(f"job {job_id} {state.status}")
    return state.status
