"""What is deployed and whether it can run jobs: the registry and its declared builds, the compute
environments and queues (VALID and ENABLED), the job definitions terraform wrote (the ACTIVE ones),
and jobs waiting in RUNNABLE, each with the likeliest reason and what to type."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..batchlimits import DESCRIBE_BATCH, FARGATE_TYPES, memory_problem, vcpus_problem
from ..imagespec import build_push_command
from ..registry import Registry
from .findings import FAIL, OK, WARN, Finding
from .subject import Subject, error_code

STUCK_AFTER = 300  # seconds in RUNNABLE before a job is reported


def registry(subject: Subject) -> list[Finding]:
    """Login works, every declared image has its repository, every declared build is in it."""
    account, reg = subject.account, Registry(subject.account)
    try:
        host = account.registry
        reg.credentials()  # the login every push makes
        pages = account.client("ecr").get_paginator("describe_repositories").paginate()
        repositories = {r["repositoryName"] for page in pages for r in page["repositories"]}
    except (ClientError, BotoCoreError) as exc:
        return [
            Finding(
                "registry",
                FAIL,
                f"no registry login ({error_code(exc)})",
                "give the deployer ecr:GetAuthorizationToken and ecr:DescribeRepositories",
            )
        ]
    findings = [Finding("registry", OK, f"login works: {host}")]
    images = subject.source.get("images") or {}
    for image, declared in sorted(images.items()):
        if image not in repositories:
            findings.append(
                _on(
                    image,
                    FAIL,
                    f"repository {image} does not exist",
                    f"invoke tf.apply --account {account.name}",
                )
            )
            continue
        build = (declared or {}).get("build")
        if build is None:
            findings.append(_on(image, OK, f"repository {image} exists; no build declared"))
        elif int(build) in reg.build_digests(image):
            findings.append(_on(image, OK, f"build {build}, as declared, is in the registry"))
        else:
            findings.append(
                _on(
                    image,
                    FAIL,
                    f"build {build} is declared but not in {account.name}'s registry: no job can pull it",
                    f"{build_push_command(image, account.name)}, or invoke promote "
                    f"{image} --build {build} --from <account> --to {account.name}",
                )
            )
    return findings


def _on(image: str, status: str, found: str, fix: str = "") -> Finding:
    return Finding("image", status, found, fix, image)


def _describe(batch: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    return [item for page in batch.get_paginator(operation).paginate(**kwargs) for item in page[key]]


def _ready(kind: str, item: dict[str, Any], name: str, account: str) -> Finding:
    status, state = item.get("status"), item.get("state")
    if status == "VALID" and state == "ENABLED":
        return Finding(kind, OK, f"{status} and {state}", subject=name)
    reason = item.get("statusReason") or "no reason given"
    return Finding(
        kind,
        FAIL,
        f"{status} and {state}: {reason}",
        f"mend what the reason names, then invoke tf.apply --account {account}",
        subject=name,
    )


def environments_and_queues(subject: Subject) -> tuple[list[Finding], dict[str, list[dict[str, Any]]]]:
    """Findings, and each queue's compute environments (for the RUNNABLE reasons)."""
    account, outputs = subject.account, subject.outputs or {}
    batch = account.client("batch")
    queue_arns = outputs.get("job_queue_arns") or {}
    queues = _describe(batch, "describe_job_queues", "jobQueues", jobQueues=list(queue_arns.values()))
    by_arn = {q["jobQueueArn"]: q for q in queues}
    findings: list[Finding] = []
    wanted_ces: list[str] = sorted(
        {ce["computeEnvironment"] for q in queues for ce in q.get("computeEnvironmentOrder") or []}
    )
    ces = _describe(
        batch, "describe_compute_environments", "computeEnvironments", computeEnvironments=wanted_ces
    )
    ce_by_arn = {ce["computeEnvironmentArn"]: ce for ce in ces}
    for ce in sorted(ces, key=lambda c: c["computeEnvironmentName"]):
        findings.append(_ready("environment", ce, ce["computeEnvironmentName"], account.name))
    offered: dict[str, list[dict[str, Any]]] = {}
    for name, arn in sorted(queue_arns.items()):
        queue = by_arn.get(arn)
        if queue is None:
            findings.append(
                Finding("queue", FAIL, "not found", f"invoke tf.apply --account {account.name}", name)
            )
            continue
        findings.append(_ready("queue", queue, name, account.name))
        order = sorted(queue.get("computeEnvironmentOrder") or [], key=lambda ce: ce.get("order", 0))
        offered[arn] = [
            ce_by_arn[o["computeEnvironment"]] for o in order if o["computeEnvironment"] in ce_by_arn
        ]
    return findings, offered


def job_definitions(subject: Subject) -> list[Finding]:
    """The revision terraform wrote of each job is its latest ACTIVE one."""
    account, outputs = subject.account, subject.outputs or {}
    batch = account.client("batch")
    findings = []
    for job, arn in sorted((outputs.get("job_definition_arns") or {}).items()):
        name, _, revision = arn.rpartition("/")[2].partition(":")
        active = _describe(
            batch, "describe_job_definitions", "jobDefinitions", jobDefinitionName=name, status="ACTIVE"
        )
        newest = max((d["revision"] for d in active), default=None)
        if newest is not None and str(newest) == revision:
            findings.append(
                Finding("definition", OK, f"{name}:{revision} is the ACTIVE revision", subject=job)
            )
        else:
            now = f"revision {newest}" if newest is not None else "no ACTIVE revision"
            findings.append(
                Finding(
                    "definition",
                    FAIL,
                    f"terraform wrote {name}:{revision}, the account has {now}",
                    f"invoke tf.apply --account {account.name}",
                    job,
                )
            )
    return findings


def _resources(job: dict[str, Any]) -> tuple[float, int]:
    """A job's vCPUs and memory (MiB), as DescribeJobs gives them."""
    container = job.get("container") or {}
    given = {r["type"]: r["value"] for r in container.get("resourceRequirements") or []}
    return float(given.get("VCPU", container.get("vcpus") or 0)), int(
        given.get("MEMORY", container.get("memory") or 0)
    )


def runnable_reason(job: dict[str, Any], environments: list[dict[str, Any]]) -> tuple[str, bool]:
    """(the likeliest reason a job stays RUNNABLE, whether it never can start as it is)."""
    vcpus, memory = _resources(job)
    usable = [ce for ce in environments if ce.get("status") == "VALID" and ce.get("state") == "ENABLED"]
    if not usable:
        return "no compute environment of its queue is VALID and ENABLED", True
    fits = []
    for ce in usable:
        resources = ce.get("computeResources") or {}
        kind = resources.get("type", "EC2")
        too_big = vcpus > float(resources.get("maxvCpus") or 0)
        if kind in FARGATE_TYPES:
            too_big = too_big or bool(vcpus_problem(vcpus, kind) or memory_problem(memory, vcpus, kind))
        if not too_big:
            fits.append(ce)
    if not fits:
        largest = max(float((ce.get("computeResources") or {}).get("maxvCpus") or 0) for ce in usable)
        return (
            f"it asks for {vcpus:g} vCPU and {memory} MiB, more than any compute environment of its queue "
            f"offers (at most {largest:g} vCPUs, Fargate's sizes where Fargate)",
            True,
        )
    if job.get("statusReason"):
        return f"AWS says: {job['statusReason']}", False
    return "waiting for capacity: compute environments at max vCPUs, or the account's vCPU quota", False


def stuck_jobs(
    subject: Subject, offered: dict[str, list[dict[str, Any]]], now: float | None = None
) -> Iterable[Finding]:
    account = subject.account
    batch = account.client("batch")
    now = time.time() if now is None else now
    names = {arn: name for name, arn in (subject.outputs or {}).get("job_queue_arns", {}).items()}
    for queue_arn, environments in sorted(offered.items()):
        summaries = _describe(batch, "list_jobs", "jobSummaryList", jobQueue=queue_arn, jobStatus="RUNNABLE")
        old = [s for s in summaries if now - s.get("createdAt", now * 1000) / 1000 >= STUCK_AFTER]
        if not old:
            yield Finding(
                "runnable",
                OK,
                f"{len(summaries)} job(s) RUNNABLE, none for long",
            )
            continue
        for start in range(0, len(old), DESCRIBE_BATCH):
            ids = [s["jobId"] for s in old[start : start + DESCRIBE_BATCH]]
            for job in batch.describe_jobs(jobs=ids)["jobs"]:
                reason, never = runnable_reason(job, environments)
                minutes = int((now - job.get("createdAt", now * 1000) / 1000) // 60)
                cancel = f"invoke jobs.cancel {job['jobId']} --account {account.name}"
                sizing = f"; then size it to fit in terraform/accounts/{account.name}.yaml" if never else ""
                yield Finding(
                    "runnable",
                    FAIL if never else WARN,
                    f"{job.get('jobName')} ({job['jobId']}) RUNNABLE for {minutes} min: {reason}",
                    f"{cancel}{sizing}",
                    names.get(queue_arn, queue_arn),
                )
