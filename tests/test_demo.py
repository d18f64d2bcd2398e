"""The README's first command: the whole loop on the local stack, printing a real job's output."""

from __future__ import annotations

import pytest
from batchform import logs
from batchform.deployment import outputs


@pytest.mark.stack
@pytest.mark.terraform  # the demo applies the local account
def test_demo_runs_a_real_container_and_prints_its_log_lines_from_cloudwatch(local_account, demo_run) -> None:  # noqa: ANN001
    status, out = demo_run
    assert status == "SUCCEEDED"
    assert "| hello from batchform: job " in out
    assert "greeting batchform demo" in out
    deployed = outputs(local_account)
    assert deployed["log_group_names"]["hello"] == "/batchform/local/hello"


@pytest.mark.stack
@pytest.mark.terraform  # the demo applies the local account
def test_job_output_lands_in_the_log_group_its_definition_names(local_account, demo_run) -> None:  # noqa: ANN001
    """The emulator writes to the job definition's awslogs group and prefix, as AWS does."""
    import uuid

    from batchform import jobs
    from batchform.follow import JobWatcher

    request = jobs.SubmitRequest(job="hello", env={"GREETING": "log group check"})
    [submitted] = jobs.Submitter(local_account).submit(
        jobs.deployed_job(local_account, "hello"), request, token=uuid.uuid4().hex
    )
    job_id = submitted.job_id
    JobWatcher(local_account, echo=lambda _l: None, poll=1.0).wait([job_id], timeout=120)
    job = local_account.client("batch").describe_jobs(jobs=[job_id])["jobs"][0]
    group, stream = logs.log_location(local_account, job)
    assert group == "/batchform/local/hello"
    assert stream == f"hello/default/{job_id}"
    assert any("greeting log group check" in line for line in logs.lines(local_account, job_id))


@pytest.mark.stack
@pytest.mark.terraform  # the demo applies the local account
def test_the_demos_apply_is_a_short_summary_with_terraforms_whole_output_one_path_away(demo_run) -> None:  # noqa: ANN001
    from pathlib import Path

    _status, out = demo_run
    stage = out.split("== 3/5")[1].split("== 4/5")[0].splitlines()
    assert len(stage) <= 30, "\n".join(stage)  # one screen
    assert any(line.strip().startswith("Apply complete! Resources:") for line in stage), stage
    logged = next(line for line in stage if "full terraform output: " in line).split(
        "full terraform output: "
    )[1]
    assert "Apply complete! Resources:" in Path(logged).read_text()
