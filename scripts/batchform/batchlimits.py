"""AWS Batch's limits on what a job is given: its resources, its attempts, its timeout.

One table for every caller that checks them before AWS does: an account's source at render
(the job definition) and a submit's overrides (the job). Each check returns what is wrong, in
words that follow the field's name, or None; the caller names the field its own way.
"""

from __future__ import annotations

from typing import Any

MIN_TIMEOUT = 60  # attemptDurationSeconds
MIN_ATTEMPTS, MAX_ATTEMPTS = 1, 10  # retryStrategy.attempts
MAX_EXIT_CONDITIONS = 5  # retryStrategy.evaluateOnExit
EXIT_ACTIONS = ("RETRY", "EXIT")
MIN_MEMORY = 512  # MiB; what the job-definitions module accepts
COMPUTE_TYPES = ("FARGATE", "FARGATE_SPOT", "EC2", "SPOT")
FARGATE_TYPES = ("FARGATE", "FARGATE_SPOT")
# Fargate's vCPU and memory (MiB) pairs: each vCPU size takes memory from `low` to `high` in `step`s.
FARGATE_MEMORY: dict[float, tuple[int, int, int]] = {
    0.25: (512, 2048, 512),  # 512, 1024, 2048: 1536 is not one, checked below
    0.5: (1024, 4096, 1024),
    1: (2048, 8192, 1024),
    2: (4096, 16384, 1024),
    4: (8192, 30720, 1024),
    8: (16384, 61440, 4096),
    16: (32768, 122880, 8192),
}
# CloudWatch Logs' retention periods, in days.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557)
LOG_RETENTION_DAYS += (2922, 3288, 3653)


def is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def fargate_memories(vcpus: float) -> list[int]:
    low, high, step = FARGATE_MEMORY[vcpus]
    return [memory for memory in range(low, high + 1, step) if not (vcpus == 0.25 and memory == 1536)]


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
    if compute_type in FARGATE_TYPES and vcpus in FARGATE_MEMORY and memory not in fargate_memories(vcpus):
        low, high, step = FARGATE_MEMORY[vcpus]
        allowed = one_of(fargate_memories(vcpus)) if vcpus == 0.25 else f"{low} to {high} in steps of {step}"
        return f"{memory} MiB is no Fargate size; {vcpus:g} vCPU: {allowed} MiB"
    return None


def attempts_problem(attempts: Any) -> str | None:
    if not is_whole(attempts) or not MIN_ATTEMPTS <= attempts <= MAX_ATTEMPTS:
        return f"must be a whole number from {MIN_ATTEMPTS} to {MAX_ATTEMPTS}, got {attempts!r}"
    return None


def timeout_problem(seconds: Any) -> str | None:
    if not is_whole(seconds) or seconds < MIN_TIMEOUT:
        return f"must be a whole number of seconds, at least {MIN_TIMEOUT}, got {seconds!r}"
    return None
