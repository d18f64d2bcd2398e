"""AWS Batch's limits on what a job is given: its resources, its attempts, its timeout; and on
the calls that read jobs back.

One table for every caller that checks them before AWS does: an account's source at render
(the job definition) and a submit's overrides (the job). Each check returns what is wrong, in
words that follow the field's name and value, or None; the caller names the field its own way.
"""

from __future__ import annotations

from typing import Any

MIN_TIMEOUT = 60  # attemptDurationSeconds
# Tags of a job; and with propagateTags, the job's and its definition's together ("over 50, the job
# is moved to the FAILED state").
MAX_TAGS = 50
DESCRIBE_BATCH = 100  # DescribeJobs takes at most 100 ids per call
MIN_ATTEMPTS, MAX_ATTEMPTS = 1, 10  # retryStrategy.attempts
MAX_EXIT_CONDITIONS = 5  # retryStrategy.evaluateOnExit
EXIT_ACTIONS = ("RETRY", "EXIT")
MIN_MEMORY = 512  # MiB; what the job-definitions module accepts
COMPUTE_TYPES = ("FARGATE", "FARGATE_SPOT", "EC2", "SPOT")
FARGATE_TYPES = ("FARGATE", "FARGATE_SPOT")
# Fargate's vCPU sizes and the memory (MiB) each takes.
FARGATE_MEMORY: dict[float, tuple[int, ...]] = {
    0.25: (512, 1024, 2048),
    0.5: tuple(range(1024, 4097, 1024)),
    1: tuple(range(2048, 8193, 1024)),
    2: tuple(range(4096, 16385, 1024)),
    4: tuple(range(8192, 30721, 1024)),
    8: tuple(range(16384, 61441, 4096)),
    16: tuple(range(32768, 122881, 8192)),
}
# A task's scratch storage on Fargate (20 GiB without it), and GPUs (EC2 only).
MIN_EPHEMERAL_GIB, MAX_EPHEMERAL_GIB = 21, 200
MAX_GPUS = 64  # more than any instance type offers
# A job queue: its compute environments (all Fargate or all EC2), priority, and the status
# reasons it may cancel a job stuck RUNNABLE for, after 600 s to a day.
MAX_QUEUE_ENVIRONMENTS = 3
MIN_QUEUE_PRIORITY, MAX_QUEUE_PRIORITY = 0, 1000
TIME_LIMIT_REASONS = (
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
    "MISCONFIGURATION:EC2_INSTANCE_CONFIGURATION_UNSUPPORTED",
)
MIN_TIME_LIMIT, MAX_TIME_LIMIT = 600, 86400
# CloudWatch Logs' retention periods, in days.
LOG_RETENTION_DAYS = (
    *(1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731),
    *(1096, 1827, 2192, 2557, 2922, 3288, 3653),
)


def is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def one_of(values: Any) -> str:
    """`1, 2 or 3`."""
    shown = [f"{value:g}" if isinstance(value, float) else str(value) for value in values]
    return f"{', '.join(shown[:-1])} or {shown[-1]}"


def vcpus_problem(vcpus: Any, compute_type: str) -> str | None:
    if compute_type in FARGATE_TYPES:
        if isinstance(vcpus, bool) or vcpus not in FARGATE_MEMORY:
            return f"must be one of {one_of(FARGATE_MEMORY)} on Fargate, got {vcpus!r}"
        return None
    if not is_whole(vcpus) or vcpus < 1:
        return f"must be a whole number on EC2 (at least 1), got {vcpus!r}"
    return None


def memory_problem(memory: Any, vcpus: Any, compute_type: str) -> str | None:
    if not is_whole(memory) or memory < MIN_MEMORY:
        return f"must be a whole number of MiB, at least {MIN_MEMORY}, got {memory!r}"
    sizes = FARGATE_MEMORY.get(vcpus, ()) if compute_type in FARGATE_TYPES else ()
    if sizes and memory not in sizes:
        allowed = (
            one_of(sizes)
            if len(sizes) < 4
            else f"{sizes[0]} to {sizes[-1]} in steps of {sizes[1] - sizes[0]}"
        )
        return f"{memory} MiB is no Fargate size; {vcpus:g} vCPU: {allowed} MiB"
    return None


def attempts_problem(attempts: int) -> str | None:
    """Of a whole number (the callers have checked its type)."""
    return (
        None if MIN_ATTEMPTS <= attempts <= MAX_ATTEMPTS else f"must be from {MIN_ATTEMPTS} to {MAX_ATTEMPTS}"
    )


def timeout_problem(seconds: int) -> str | None:
    """Of a whole number (the callers have checked its type)."""
    return None if seconds >= MIN_TIMEOUT else f"must be at least {MIN_TIMEOUT} seconds"


def ephemeral_storage_problem(gib: Any, compute_type: str) -> str | None:
    if compute_type not in FARGATE_TYPES:
        return "only for Fargate jobs (an EC2 job has its instance's storage)"
    if not is_whole(gib) or not MIN_EPHEMERAL_GIB <= gib <= MAX_EPHEMERAL_GIB:
        return f"must be a whole number of GiB from {MIN_EPHEMERAL_GIB} to {MAX_EPHEMERAL_GIB}, got {gib!r}"
    return None


def gpus_problem(gpus: Any, compute_type: str | None) -> str | None:
    """Of a count of GPUs; `compute_type` None: where the job runs is not known."""
    if compute_type in FARGATE_TYPES:
        return "GPUs are for EC2 compute, and Fargate has none"
    if not is_whole(gpus) or not 1 <= gpus <= MAX_GPUS:
        return f"must be a whole number from 1 to {MAX_GPUS}, got {gpus!r}"
    return None
