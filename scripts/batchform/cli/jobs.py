"""Tasks over jobs: `submit`, `jobs.follow`, `jobs.logs`, `jobs.list`, `jobs.cancel`."""

from __future__ import annotations

import json
from typing import Any

from invoke import Context, Exit, task

from ..accounts import Account
from .common import echo, err, one_account, seconds, user_errors

DETACH_WINDOW = 3.0  # a second Ctrl-C within this many seconds stops the job instead of detaching


def _attend(
    target: Account, job_ids: list[str], follow_logs: bool, runnable_timeout: float | None, live: bool = True
) -> dict:
    """Follow jobs to their end. Ctrl-C once detaches; twice within a few seconds stops the jobs.

    On a terminal (unless `live` is off) each job's line, an array's bar of its children by
    status, is updated in place; its end is printed as it is anywhere else."""
    from .live import task_lines

    with task_lines(enabled=None if live else False) as show:
        return _attend_shown(target, job_ids, follow_logs, runnable_timeout, show)


def _attend_shown(
    target: Account, job_ids: list[str], follow_logs: bool, runnable_timeout: float | None, show: Any
) -> dict:
    import signal
    import time

    from .. import jobs
    from ..follow import JobWatcher, LogFollower

    watcher = JobWatcher(target, echo=echo, progress=show)
    followers = [LogFollower(target, job_id, echo=lambda line: echo(f"  | {line}")) for job_id in job_ids]
    pressed: list[float] = []
    stopped: list[bool] = []

    def interrupt(_signum: int, _frame: Any) -> None:
        now = time.monotonic()
        if pressed and now - pressed[-1] <= DETACH_WINDOW:
            if not stopped:
                stopped.append(True)
                for job_id in job_ids:
                    echo(jobs.stop_job(target, job_id, "stopped from the command line (Ctrl-C twice)"))
            return
        pressed.append(now)
        echo(f"detaching (Ctrl-C again within {DETACH_WINDOW:.0f} s stops the job); to follow again:")
        for job_id in job_ids:
            echo(f"  invoke jobs.follow {job_id} --account {target.name}")
        watcher.stop()
        for follower in followers:
            follower.stop()

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        if follow_logs and len(job_ids) == 1:
            # One DescribeJobs per poll serves both: status lines and new log lines interleave.
            follower, job_id = followers[0], job_ids[0]
            outcomes = watcher.wait(
                job_ids,
                runnable_timeout=runnable_timeout,
                on_poll=lambda described: follower.read_available(described.get(job_id)),
            )
            if not pressed:
                follower.follow()  # the job is over: drain what is left
        else:
            outcomes = watcher.wait(job_ids, runnable_timeout=runnable_timeout)
        # Detached by a first Ctrl-C: the second may still come, and must find us here to stop the job.
        while pressed and not stopped and time.monotonic() - pressed[-1] <= DETACH_WINDOW:
            time.sleep(0.1)
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise Exit(code=130)
    return outcomes


def _report(outcomes: dict, as_json: bool, submitted: list | None = None) -> None:
    from dataclasses import asdict

    if as_json:
        echo(
            json.dumps(
                {
                    "submitted": [asdict(r) for r in submitted or []],
                    "outcomes": {job_id: asdict(o) for job_id, o in outcomes.items()},
                },
                indent=2,
            )
        )
    failed = [o for o in outcomes.values() if not o.succeeded]
    for outcome in failed:
        code = f", exit code {outcome.exit_code}" if outcome.exit_code is not None else ""
        reason = outcome.reason or "no reason given"
        err(f"job {outcome.name} ({outcome.job_id}) {outcome.status}: {reason}{code}")
        for child, reason, child_code in outcome.failed_children:
            err(
                f"  child {child}: {reason or 'no reason given'}"
                + (f", exit code {child_code}" if child_code is not None else "")
            )
    if failed:
        raise Exit(code=1)


@task(
    iterable=["env", "param", "tag", "depends_on"],
    help={
        "account": "account name or alias",
        "env": "NAME=VALUE added to the container's environment (repeatable)",
        "param": "NAME=VALUE job definition parameter (repeatable)",
        "command": "command to run instead of the definition's (one string, split like a shell)",
        "array_size": "run an array job of this many children (2-10000)",
        "depends_on": "JOB_ID, JOB_ID:N_TO_N or SEQUENTIAL (repeatable, at most 20)",
        "each": "one child per line (or JSON array item) of FILE; a child's item is BATCHFORM_ITEMS[index]",
        "name": "job name (default <job>-<UTC timestamp>)",
        "tag": "KEY=VALUE tag of the job (repeatable)",
        "timeout": "attempt timeout in seconds (at least 60)",
        "retries": "attempts (1-10)",
        "share": "share identifier, for a queue with a fair-share policy (default: the job's declared share)",
        "priority": "scheduling priority within the share (0-9999; fair-share queues only)",
        "queue": "another of the account's queues than the job's own (see tf.output: queues)",
        "vcpus": "vCPUs instead of the job definition's (Fargate: 0.25, 0.5, 1, 2, 4, 8 or 16; EC2: whole)",
        "memory": "memory in MiB instead of the job definition's (Fargate: a size its vCPUs take)",
        "gpus": "GPUs (EC2 compute only)",
        "token": "idempotency token (default: derived from the job, account and overrides)",
        "wait": "wait for the end, printing each status change; the exit code mirrors the outcome",
        "follow": "like --wait, and print the job's log lines as they arrive",
        "runnable_timeout": "with --wait/--follow: terminate a job stuck in RUNNABLE this many seconds",
        "json": "print what was submitted (and, with --wait, the outcome) as JSON",
    },
)
@user_errors
def submit(
    c: Context,
    job: str,
    account: str | None = None,
    env: list[str] | None = None,
    param: list[str] | None = None,
    command: str | None = None,
    array_size: int | None = None,
    depends_on: list[str] | None = None,
    each: str | None = None,
    name: str | None = None,
    tag: list[str] | None = None,
    timeout: int | None = None,
    retries: int | None = None,
    share: str | None = None,
    priority: int | None = None,
    queue: str | None = None,
    vcpus: str | None = None,
    memory: int | None = None,
    gpus: int | None = None,
    token: str | None = None,
    wait: bool = False,
    follow: bool = False,
    runnable_timeout: float | None = None,
    json_: bool = False,
) -> None:
    """Submit a job declared in the account's variables; --wait or --follow it to the end."""
    import shlex

    from .. import jobs
    from .values import load_items, parse_depends_on, parse_env, parse_pairs

    target = one_account(account)
    limit = seconds("--runnable-timeout", runnable_timeout)
    request = jobs.SubmitRequest(
        job=job,
        name=name,
        env=parse_env(env or []),
        params=parse_pairs(param or [], "--param"),
        command=shlex.split(command) if command is not None else None,
        array_size=array_size,
        depends_on=parse_depends_on(depends_on or []),
        tags=parse_pairs(tag or [], "--tag"),
        timeout=timeout,
        retries=retries,
        items=load_items(each) if each else None,
        share=share,
        priority=priority,
        queue=queue,
        vcpus=vcpus,
        memory=memory,
        gpus=gpus,
    )
    jobs.validate(request)
    results = jobs.Submitter(target).submit(
        jobs.deployed_job(target, job, request.queue), request, token=token
    )
    if not json_ or not (wait or follow):
        for r in results:
            verb = "reattached to" if r.reattached else "submitted"
            size = f" (array of {r.array_size})" if r.array_size else ""
            line = f"{verb} {job} as {r.job_id}{size} in account {target.name}"
            echo(json.dumps(asdict_(r)) if json_ else line)
    if wait or follow:
        outcomes = _attend(target, [r.job_id for r in results], follow, limit, live=not json_)
        _report(outcomes, json_, results)


def asdict_(value: Any) -> dict:
    from dataclasses import asdict

    return asdict(value)


@task(
    help={
        "account": "account name or alias",
        "logs": "print the log lines as they arrive (default)",
        "runnable_timeout": "terminate the job if it stays in RUNNABLE this many seconds",
        "json": "print the outcome as JSON",
    }
)
@user_errors
def jobs_follow(
    c: Context,
    job_id: str,
    account: str | None = None,
    logs: bool = True,
    runnable_timeout: float | None = None,
    json_: bool = False,
) -> None:
    """Follow a submitted job to its end (status and log lines); the exit code mirrors the outcome."""
    from .. import jobs

    jobs.check_job_id(job_id)
    target = one_account(account)
    limit = seconds("--runnable-timeout", runnable_timeout)
    _report(_attend(target, [job_id], logs, limit, live=not json_), json_)


@task(help={"account": "account name or alias", "follow": "keep printing new lines until the job ends"})
@user_errors
def jobs_logs(c: Context, job_id: str, account: str | None = None, follow: bool = False) -> None:
    """Print a job's log lines (every attempt); --follow keeps printing until the job ends."""
    import tempfile
    from pathlib import Path

    from .. import jobs
    from ..follow import LogFollower

    jobs.check_job_id(job_id)  # it names the position file of --follow: no path separators get there
    target = one_account(account)
    if follow:
        LogFollower(target, job_id, echo=echo).follow()
        return
    # A one-off read keeps no position: a fresh, throwaway state directory.
    with tempfile.TemporaryDirectory(prefix="batchform-logs-") as scratch:
        LogFollower(target, job_id, echo=echo, state_dir=Path(scratch)).read_available()  # prints as it reads


@task(
    iterable=["status"],
    help={
        "account": "account name or alias",
        "status": "only jobs in this status (repeatable; default: every status)",
        "json": "print JSON",
    },
)
@user_errors
def jobs_list(
    c: Context, account: str | None = None, status: list[str] | None = None, json_: bool = False
) -> None:
    """List the jobs of the account's queues, newest first, with the schedule that started each."""
    from .. import jobs

    target = one_account(account)
    found = jobs.list_jobs(target, status or None)
    if json_:
        echo(json.dumps(found, indent=2))
        return
    for line in jobs.listing_lines(found):
        echo(line)
    if not found:
        echo(f"no jobs in account {target.name}")


@task(help={"account": "account name or alias", "reason": "reason recorded on the job"})
@user_errors
def jobs_cancel(
    c: Context, job_id: str, account: str | None = None, reason: str = "cancelled from the command line"
) -> None:
    """Stop a job in whatever state it is (started or not), then say what it was and is now."""
    from .. import jobs

    jobs.check_job_id(job_id)
    echo(jobs.stop_job(one_account(account), job_id, reason))
