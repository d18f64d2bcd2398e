"""tf.apply completes a compute environment replacement that AWS's eventual consistency interrupted.

AWS-FIDELITY: "Replacing a compute environment with `create_before_destroy` can still fail with
"Cannot delete, found existing JobQueue relationship": Batch is eventually consistent and the queue
update is not yet visible (hashicorp/terraform-provider-aws#13221, #46925, both open). The emulator
is always consistent."

So the emulator cannot show it: a stand-in terraform on PATH answers the apply with the error the
provider gives (provider 5.x wording), as often as the test asks, and everything else as terraform.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from batchform import terraform
from batchform.accounts import Accounts
from batchform.errors import UserError
from batchform.settings import Paths
from batchform.terraform import TerraformRunner, outputs_cache

ENVIRONMENT = "batchform-dev-main-20261201223000000000000001"
STAND_IN = f'''#!{sys.executable}
"""terraform, as far as apply and output go: the first FAILURES applies fail as on AWS."""
import json, pathlib, sys

here = pathlib.Path(__file__).parent
if sys.argv[1] == "output":
    print(json.dumps({{"job_queue_arns": {{"value": {{"default": "arn:aws:batch:::job-queue/q"}}}}}}))
    sys.exit(0)
count = here / "applies"
applies = int(count.read_text()) + 1 if count.exists() else 1
count.write_text(str(applies))
if applies <= int((here / "failures").read_text()):
    print("module.batch_environment.aws_batch_compute_environment.this[\\"main\\"] "
          "(deposed object 1f2e3d4c): Destroying...")
    print("\\u2577")
    print("\\u2502 Error: deleting Batch Compute Environment ({ENVIRONMENT}): operation error Batch: "
          "DeleteComputeEnvironment, https response error StatusCode: 400, RequestID: "
          "0f6a1c2e-8d4b-4f5a-9c3e-2b1d0e9f8a7c, ClientException: Cannot delete, found existing "
          "JobQueue relationship")
    print("\\u2502 ")
    print("\\u2575")
    sys.exit(1)
print(sys.argv[1].capitalize() + " complete! Resources: 1 destroyed.")
'''


class StandIn:
    def __init__(self, directory: Path):
        self.directory = directory

    def fail_applies(self, count: int) -> None:
        (self.directory / "failures").write_text(str(count))

    @property
    def applies(self) -> int:
        return int((self.directory / "applies").read_text())


@pytest.fixture
def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    binary = bin_dir / "terraform"
    binary.write_text(STAND_IN)
    binary.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin")
    # init makes the state bucket and the data directory: nothing to do with this stand-in.
    monkeypatch.setattr(TerraformRunner, "init", lambda self: None)
    return StandIn(bin_dir)


def _runner(tmp_path: Path, lines: list[str], slept: list[float]) -> TerraformRunner:
    (tmp_path / "project" / "terraform").mkdir(parents=True)
    account = Accounts({"accounts": {"dev": {"account_id": "111111111111", "endpoints": "local-stack"}}}).get(
        "dev"
    )
    return TerraformRunner(
        account,
        echo=lines.append,
        p=Paths(tmp_path / "project", tmp_path / "project" / ".batchform"),
        sleep=slept.append,
    )


def test_an_apply_that_fails_on_a_queue_still_linked_waits_applies_again_and_says_so_in_one_line(
    stand_in: StandIn, tmp_path: Path
) -> None:
    stand_in.fail_applies(1)
    lines: list[str] = []
    slept: list[float] = []
    runner = _runner(tmp_path, lines, slept)

    runner.apply()

    assert stand_in.applies == 2
    assert slept == [terraform.QUEUE_LINK_FIRST_WAIT]
    assert lines[-1] == (
        f"compute environment {ENVIRONMENT} still linked to its queue (AWS is eventually consistent): "
        "waited 15 s, applied again"
    )
    assert "Apply complete!" in "\n".join(lines)
    # The apply went on to its end: the outputs of the account were saved.
    assert "job_queue_arns" in outputs_cache(runner.account, runner.paths).read_text()


def test_an_apply_that_keeps_failing_on_a_queue_still_linked_gives_up_naming_the_bound(
    stand_in: StandIn, tmp_path: Path
) -> None:
    stand_in.fail_applies(100)
    lines: list[str] = []
    slept: list[float] = []
    runner = _runner(tmp_path, lines, slept)

    with pytest.raises(UserError) as refused:
        runner.apply()

    assert stand_in.applies == terraform.QUEUE_LINK_APPLIES
    # Backoff: each wait doubles, up to the cap.
    assert slept == [15, 30, 60, 120]
    assert str(refused.value) == (
        f"terraform apply failed for account dev: compute environment {ENVIRONMENT} still linked to its "
        f"queue after {terraform.QUEUE_LINK_APPLIES} runs over 225 s (AWS is eventually consistent); "
        "run tf.apply again later"
    )
    assert "\n" not in str(refused.value)


def test_a_destroy_that_fails_on_a_queue_still_linked_is_run_again_the_same_way(
    stand_in: StandIn, tmp_path: Path
) -> None:
    """The same error stops a destroy (hashicorp/terraform-provider-aws#13221 is about destroying)."""
    stand_in.fail_applies(2)
    lines: list[str] = []
    slept: list[float] = []
    runner = _runner(tmp_path, lines, slept)
    outputs_cache(runner.account, runner.paths).parent.mkdir(parents=True, exist_ok=True)
    outputs_cache(runner.account, runner.paths).write_text("{}")

    runner.destroy()

    assert (stand_in.applies, slept) == (3, [15, 30])
    assert lines[-1] == (
        f"compute environment {ENVIRONMENT} still linked to its queue (AWS is eventually consistent): "
        "waited 45 s, destroyed 2 more times"
    )
    assert not outputs_cache(runner.account, runner.paths).exists()


def test_an_apply_that_fails_for_another_reason_is_not_applied_again(
    stand_in: StandIn, tmp_path: Path
) -> None:
    stand_in.fail_applies(1)
    (stand_in.directory / "terraform").write_text(
        f"#!{sys.executable}\nimport sys\nprint('\\u2502 Error: creating Batch Job Queue: AccessDenied')\n"
        "sys.exit(1)\n"
    )
    slept: list[float] = []
    with pytest.raises(UserError, match="Error: creating Batch Job Queue: AccessDenied"):
        _runner(tmp_path, [], slept).apply()
    assert slept == []


def test_an_apply_prints_a_summary_and_the_log_holding_terraforms_whole_output(
    stand_in: StandIn, tmp_path: Path
) -> None:
    stand_in.fail_applies(1)
    lines: list[str] = []
    runner = _runner(tmp_path, lines, [])

    runner.apply()

    assert not any("Error:" in line or "Destroying..." in line for line in lines), lines  # in the log only
    assert lines[-3].startswith("Apply complete! Resources: 1 destroyed. (")
    logged = Path(lines[-2].removeprefix("full terraform output: "))
    assert (
        logged.parent == runner.data_dir / "logs"
        and logged.read_text() == "Apply complete! Resources: 1 destroyed.\n"
    )
    first = sorted(logged.parent.glob("*-apply.log"))[0]
    assert "ClientException: Cannot delete, found existing JobQueue relationship" in first.read_text()


def test_a_verbose_apply_prints_every_line_terraform_prints(stand_in: StandIn, tmp_path: Path) -> None:
    stand_in.fail_applies(0)
    lines: list[str] = []
    runner = _runner(tmp_path, lines, [])
    runner.verbose = True

    runner.apply()

    assert lines == ["Apply complete! Resources: 1 destroyed."]
