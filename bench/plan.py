"""`tf.plan` of several accounts with separate state: one after another against in parallel.

ours       the cli's way (`_for_accounts`): a ThreadPoolExecutor of min(4, K) workers, each running
           TerraformRunner(account).plan() for one account
reference  the same plans one after another

The K accounts are declared for the private stack only (distinct account ids, reached by
assuming a role, each with its own S3 state in the emulator and its own terraform data
directory under a throwaway BATCHFORM_HOME). Their workload is one FARGATE compute
environment, one image and one job. In the full run each account is applied first (not
measured), so the plans measured have no changes; the quick run applies nothing and plans one
account from empty (every resource to create), which is still a full plan of the same
configuration, through the same pool.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batchform.settings import Paths, paths
from batchform.terraform import PlanResult, TerraformRunner

from bench.stack import (
    Echo,
    PrivateStack,
    Result,
    children_cpu_seconds,
    number,
    process_cpu_seconds,
    standalone,
    timed,
)

FULL_ACCOUNTS, QUICK_ACCOUNTS = 3, 1
FULL_ROUNDS, QUICK_ROUNDS = 3, 1
WORKLOAD = {
    "compute": {"type": "FARGATE", "max_vcpus": 4},
    "force_delete_repositories": True,
    "images": {"hello": {"build": 1}},
    "jobs": {"hello": {"image": "hello", "vcpus": 0.25, "memory": 512}},
}


def _runners(stack: PrivateStack, count: int) -> list[TerraformRunner]:
    declared = {f"bench-{chr(ord('a') + i)}": f"5678901234{i:02d}" for i in range(count)}
    accounts = stack.accounts(declared)
    home = Paths(root=paths().root, home=stack.scratch("home"))
    quiet: Echo = lambda _line: None  # noqa: E731
    return [TerraformRunner(accounts.get(name), echo=quiet, p=home) for name in declared]


@dataclass
class Sample:
    seconds: float
    terraform_cpu: float  # terraform and its provider plugins, user + system
    emulator_cpu: float
    results: list[PlanResult]


def _plan_all(stack: PrivateStack, runners: list[TerraformRunner], var_file: Path, parallel: bool) -> Sample:
    def plan(runner: TerraformRunner) -> PlanResult:
        return runner.plan(extra_var_files=[var_file], capture=True)

    terraform_cpu, emulator_cpu = children_cpu_seconds(), process_cpu_seconds(stack.emulator_pid)
    with timed() as elapsed:
        if parallel:
            with ThreadPoolExecutor(max_workers=min(4, len(runners))) as pool:
                results = list(pool.map(plan, runners))
        else:
            results = [plan(runner) for runner in runners]
    return Sample(
        elapsed(),
        children_cpu_seconds() - terraform_cpu,
        process_cpu_seconds(stack.emulator_pid) - emulator_cpu,
        results,
    )


def _seconds(samples: list[Sample]) -> str:
    return ", ".join(number(x.seconds) for x in samples) + " s"


def bench(stack: PrivateStack, quick: bool, echo: Echo) -> Result:
    if shutil.which("terraform") is None:
        raise RuntimeError("terraform is not installed")
    count = QUICK_ACCOUNTS if quick else FULL_ACCOUNTS
    rounds = QUICK_ROUNDS if quick else FULL_ROUNDS
    apply = not quick
    state = "applied first, no changes" if apply else "nothing applied, from empty"
    echo(f"# plan: {count} accounts, {state}")
    var_file = stack.scratch("plan") / "workload.tfvars.json"
    var_file.write_text(json.dumps(WORKLOAD))
    runners = _runners(stack, count)
    with timed() as setup:
        with ThreadPoolExecutor(max_workers=len(runners)) as pool:
            if apply:
                list(pool.map(lambda r: r.apply(extra_var_files=[var_file]), runners))
            else:
                list(pool.map(lambda r: r.init(), runners))
    serial: list[Sample] = []
    parallel: list[Sample] = []
    for i in range(rounds):
        # Alternate which goes first, so that neither always meets a warmer or a busier machine.
        for is_parallel in (False, True) if i % 2 == 0 else (True, False):
            (parallel if is_parallel else serial).append(_plan_all(stack, runners, var_file, is_parallel))
    best_serial = min(serial, key=lambda x: x.seconds)
    best_parallel = min(parallel, key=lambda x: x.seconds)
    results = [r for sample in serial + parallel for r in sample.results]
    summaries = sorted({r.summary or ("changes" if r.changes else "no changes") for r in results})
    cpu = best_serial.terraform_cpu + best_serial.emulator_cpu
    details = [
        f"{count} accounts ({'applied' if apply else 'init only'} in {number(setup())} s, not measured); "
        f"plans say: {'; '.join(summaries)}",
        f"ours: ThreadPoolExecutor(max_workers={min(4, count)}) over TerraformRunner.plan(), as "
        "tf.plan --account ... does; reference: the same plans one after another",
        f"best of {rounds}: serial {number(best_serial.seconds)} s ({number(best_serial.seconds / count)} s "
        f"per account), parallel {number(best_parallel.seconds)} s; every sample: serial {_seconds(serial)}, "
        f"parallel {_seconds(parallel)}",
        f"CPU per plan: terraform + provider {number(best_serial.terraform_cpu / count)} s, emulator "
        f"{number(best_serial.emulator_cpu / count)} s; the serial plans kept "
        f"{number(cpu / best_serial.seconds)} of {os.cpu_count()} cores busy",
    ]
    if apply and any(r.changes for r in results):
        details.append("unexpected: a plan after apply had changes")
    return Result("plan", best_parallel.seconds, best_serial.seconds, "s", "lower", details)


def main(argv: list[str] | None = None) -> int:
    return standalone("plan", bench, argv)


if __name__ == "__main__":
    sys.exit(main())
