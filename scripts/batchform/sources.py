"""An account's YAML source: what it may say, checked key by key, and the one edit `bump` makes.

Every refusal is one line naming the file and the key. `set_build` changes only the characters
of one build number, so comments and layout stay as people wrote them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from . import batchlimits as limits
from . import schedules
from .errors import ConfigError
from .hcl import IDENTIFIER, hcl
from .jobs.requests import SCHEDULE_TAG, TOKEN_TAG
from .secretnames import PLAIN_VARIABLE_REFUSAL, REFERENCE_HINT, is_secret_reference, looks_like_secret
from .sourcesettings import (
    SETTING_CHECKS,
    SHARE_IDENTIFIER,
    all_queues,
    check_known,
    check_mapping,
    check_queue_environments,
    check_type,
    check_whole,
    queue_compute_type,
    shown_key,
)

# Top-level settings of a source, in the order they are rendered (images and jobs follow).
SETTINGS = (
    "compute",
    "compute_environments",
    "queue",
    "queues",
    "kms",
    "data_bucket",
    "tables",
    "notifications",
    "log_retention_days",
    "force_delete_repositories",
    "tags",
)
# The type each key takes: "text", "whole", "number", "flag", "texts" (a list of text),
# "text map" (text => text), "map", "list of maps".
SETTING_TYPES = {
    "compute": "map",
    "compute_environments": "map",
    "queue": "map",
    "queues": "map",
    "kms": "map",
    "data_bucket": "map",
    "tables": "map",
    "notifications": "map",
    "log_retention_days": "whole",
    "force_delete_repositories": "flag",
    "tags": "text map",
}
IMAGE_TYPES = {"build": "whole", "keep_builds": "whole", "pull_account_ids": "texts"}
JOB_TYPES = {
    "image": "text",
    "owner": "text",
    "queue": "text",
    "share_identifier": "text",
    "scheduling_priority": "whole",
    "command": "texts",
    "vcpus": "number",
    "memory": "whole",
    "environment": "text map",
    "secrets": "text map",
    "retry_attempts": "whole",
    "timeout_seconds": "whole",
    "parameters": "text map",
    "tags": "text map",
    "evaluate_on_exit": "list of maps",
    "policy_statements": "list of maps",
    "reads": "texts",
    "writes": "texts",
    "tables": "texts",
    "ephemeral_storage": "whole",
    "gpus": "whole",
    "efs_volumes": "map",
    "schedule": "map",
}
# What a job may never be given, and why (the modules have no way to give it either).
REFUSED_JOB_KEYS = {
    "privileged": "containers never run privileged: they would hold their host",
    "host_network": "jobs never share their host's network",
    "network_mode": "jobs never share their host's network",
}
EFS_TYPES = {
    "file_system_id": "text",
    "access_point_id": "text",
    "container_path": "text",
    "read_only": "flag",
}
EFS_PATTERNS = {
    "file_system_id": (re.compile(r"fs-[0-9a-f]{8,40}"), "an EFS file system id, fs-<hex>"),
    "access_point_id": (re.compile(r"fsap-[0-9a-f]{8,40}"), "an EFS access point id, fsap-<hex>"),
    "container_path": (re.compile(r"/[^\s]+"), "an absolute path in the container other than /"),
}
# A job's schedule: an EventBridge Scheduler expression in a time zone (UTC unless said), on
# unless `enabled: false` (an account turning off a schedule its shared declaration has).
SCHEDULE_TYPES = {"expression": "text", "timezone": "text", "enabled": "flag"}
# EventBridge Scheduler: a schedule's name is 1-64 letters, digits, `-`, `_` and `.`; the
# root names a job's `batchform-<account>-<job>`.
MAX_SCHEDULE_NAME = 64
# The tags batchform gives a job definition besides the job's and the account's (terraform/main.tf
# and providers.tf), and those a schedule's runs carry (the batch-job-schedules module's).
DEFINITION_TAGS = ("batchform:image", "batchform:account", "managed-by")
OWNER_TAG = "batchform:owner"
SCHEDULE_RUN_TAGS = (SCHEDULE_TAG, TOKEN_TAG)
IMAGE_KEYS, JOB_KEYS = set(IMAGE_TYPES), set(JOB_TYPES)
SECRET_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # a container environment name; fullmatch
BUILD_TEXT = re.compile(r"[1-9][0-9]{0,17}")  # used with fullmatch
# A key prefix a job reads or writes: in the account's data bucket, or in another by ARN; never a
# wildcard, always ending in `/` (terraform/variables.tf holds the same rule).
DATA_PREFIX = re.compile(r"(arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/)?([A-Za-z0-9!_.'()-]+/)+")
# What terraform/variables.tf gives a job or the compute environment that does not say.
JOB_DEFAULTS = {"vcpus": 1, "memory": 2048}
MAX_KEEP_BUILDS = 1000


def _check_build(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"{where}: must be a positive whole number (a build number such as 42), got {value!r}"
        )
    return value


def _check_renderable(where: str, value: Any) -> None:
    """Refuse, naming the field, a value the template cannot write as HCL (NaN, a set, bytes, ...)."""
    try:
        hcl(value)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def validate_source(name: str, data: Any) -> dict[str, Any]:
    """Refuse what the template would drop or terraform misread, naming the field."""
    data = check_mapping(name, data if data is not None else {})
    for key in data:
        if key not in (*SETTINGS, "images", "jobs"):
            known = ", ".join((*SETTINGS, "images", "jobs"))
            raise ConfigError(f"{name}: {shown_key(key)}: unknown key (known: {known})")
        if key in SETTING_TYPES:
            check_type(f"{name}: {key}", data[key], SETTING_TYPES[key])
            _check_renderable(f"{name}: {key}", data[key])
        if key in SETTING_CHECKS:
            SETTING_CHECKS[key](f"{name}: {key}", data[key])
    check_queue_environments(name, data)
    images = check_mapping(f"{name}: images", data.get("images") or {})
    for image, entry in images.items():
        where = f"{name}: images.{shown_key(image)}"
        if not IDENTIFIER.fullmatch(str(image)):
            raise ConfigError(f"{where}: image names are letters, digits, - and _")
        entry = check_mapping(where, entry)
        for key in entry:
            if key not in IMAGE_KEYS:
                raise ConfigError(
                    f"{where}.{shown_key(key)}: unknown key (known: {', '.join(sorted(IMAGE_KEYS))})"
                )
        if "build" not in entry:
            raise ConfigError(f"{where}.build: required (the build number this account runs, such as 42)")
        _check_build(f"{where}.build", entry.get("build"))
        for key, value in entry.items():
            check_type(f"{where}.{key}", value, IMAGE_TYPES[key])
            _check_renderable(f"{where}.{key}", value)
        if entry.get("keep_builds") is not None:
            check_whole(f"{where}.keep_builds", entry["keep_builds"], 1, MAX_KEEP_BUILDS)
    jobs = check_mapping(f"{name}: jobs", data.get("jobs") or {})
    for job, entry in jobs.items():
        where = f"{name}: jobs.{shown_key(job)}"
        if not IDENTIFIER.fullmatch(str(job)):
            raise ConfigError(f"{where}: job names are letters, digits, - and _")
        entry = check_mapping(where, entry)
        for key in entry:
            if key in REFUSED_JOB_KEYS:
                raise ConfigError(f"{where}.{key}: not allowed: {REFUSED_JOB_KEYS[key]}")
            if key not in JOB_KEYS:
                raise ConfigError(
                    f"{where}.{shown_key(key)}: unknown key (known: {', '.join(sorted(JOB_KEYS))})"
                )
            check_type(f"{where}.{key}", entry[key], JOB_TYPES[key])
            _check_renderable(f"{where}.{key}", entry[key])
        if entry.get("image") not in images:
            raise ConfigError(f"{where}.image: must name one of this account's images ({', '.join(images)})")
        queues = all_queues(data)
        queue = entry.get("queue", "default")
        if queue not in queues:
            raise ConfigError(f"{where}.queue: must name one of this account's queues ({', '.join(queues)})")
        share = entry.get("share_identifier")
        if share is not None and not SHARE_IDENTIFIER.fullmatch(share):
            raise ConfigError(f"{where}.share_identifier: must be 1-255 letters, digits and underscores")
        if share is not None and not queues[queue].get("fair_share"):
            raise ConfigError(
                f"{where}.share_identifier: needs a fair_share policy on queue {queue} (a job queue "
                "without one refuses a share identifier)"
            )
        if entry.get("scheduling_priority") is not None:
            check_whole(f"{where}.scheduling_priority", entry["scheduling_priority"], 1, 9999)
        _check_job_limits(where, entry, queue_compute_type(data, queue))
        _check_job_data(where, entry, data.get("tables") or {})
        if "schedule" in entry:
            _check_schedule(
                name, where, str(job), entry, bool(queues[queue].get("fair_share")), data.get("tags") or {}
            )
        _check_secrets(where, entry.get("environment") or {}, entry.get("secrets") or {})
    return data


def _check_job_limits(where: str, job: dict[str, Any], compute_type: str) -> None:
    """What AWS Batch (and the job-definitions module) refuses in a job definition."""
    vcpus, memory = (job.get(key, default) for key, default in JOB_DEFAULTS.items())
    problems = {
        "vcpus": limits.vcpus_problem(vcpus, compute_type),
        "memory": limits.memory_problem(memory, vcpus, compute_type),
    }
    for key, problem in problems.items():
        if problem:
            raise ConfigError(f"{where}.{key}: {problem}")
    for key, check in (
        ("retry_attempts", limits.attempts_problem),
        ("timeout_seconds", limits.timeout_problem),
    ):
        if key in job and (problem := check(job[key])):
            raise ConfigError(f"{where}.{key}: {problem}, got {job[key]!r}")
    for key, check in (
        ("ephemeral_storage", limits.ephemeral_storage_problem),
        ("gpus", limits.gpus_problem),
    ):
        if key in job and (problem := check(job[key], compute_type)):
            raise ConfigError(f"{where}.{key}: {problem}")
    for name, volume in (job.get("efs_volumes") or {}).items():
        place = f"{where}.efs_volumes.{shown_key(name)}"
        if not IDENTIFIER.fullmatch(str(name)):
            raise ConfigError(f"{place}: volume names are letters, digits, - and _")
        volume = check_mapping(place, volume)
        check_known(place, volume, set(EFS_TYPES))
        for key in ("file_system_id", "container_path"):
            if key not in volume:
                raise ConfigError(f"{place}.{key}: required")
        for key, value in volume.items():
            check_type(f"{place}.{key}", value, EFS_TYPES[key])
            pattern, what = EFS_PATTERNS.get(key, (None, ""))
            if pattern and (not pattern.fullmatch(value) or value == "/"):
                raise ConfigError(f"{place}.{key}: must be {what}, got {value!r}")
    conditions = job.get("evaluate_on_exit") or []
    if len(conditions) > limits.MAX_EXIT_CONDITIONS:
        raise ConfigError(
            f"{where}.evaluate_on_exit: at most {limits.MAX_EXIT_CONDITIONS} conditions, "
            f"got {len(conditions)}"
        )
    for index, condition in enumerate(conditions):
        if condition.get("action") not in limits.EXIT_ACTIONS:
            raise ConfigError(
                f"{where}.evaluate_on_exit[{index}].action: must be {limits.one_of(limits.EXIT_ACTIONS)}, "
                f"got {condition.get('action')!r}"
            )


def _check_schedule(
    source: str, where: str, job: str, entry: dict[str, Any], fair_share: bool, account_tags: dict[str, Any]
) -> None:
    """A job's schedule: what EventBridge Scheduler takes, a share where the queue needs one, and
    no more tags on its runs than Batch propagates (no submit is there to refuse them)."""
    place = f"{where}.schedule"
    schedule = entry["schedule"]
    check_known(place, schedule, set(SCHEDULE_TYPES))
    if "expression" not in schedule:
        raise ConfigError(f"{place}.expression: required, such as cron(0 3 * * ? *) or rate(1 day)")
    for key, value in schedule.items():
        check_type(f"{place}.{key}", value, SCHEDULE_TYPES[key])
    if problem := schedules.expression_problem(schedule["expression"]):
        raise ConfigError(f"{place}.expression: {problem}")
    if problem := schedules.timezone_problem(schedule.get("timezone", schedules.DEFAULT_TIMEZONE)):
        raise ConfigError(f"{place}.timezone: {problem}")
    if fair_share and entry.get("share_identifier") is None:
        raise ConfigError(
            f"{place}: the job's queue has a fair-share policy, so every job sent there needs a share: "
            f"give {where.partition(': ')[2]}.share_identifier"
        )
    tags = {*(entry.get("tags") or {}), *account_tags, *DEFINITION_TAGS, *SCHEDULE_RUN_TAGS}
    tags |= {OWNER_TAG} if entry.get("owner") else set()
    if len(tags) > limits.MAX_TAGS:
        raise ConfigError(
            f"{place}: its runs would carry {len(tags)} tags (the job's and the account's tags, and "
            f"{len(tags) - len({*(entry.get('tags') or {}), *account_tags})} of batchform's), more than the "
            f"{limits.MAX_TAGS} AWS Batch propagates before failing the job: give the job fewer tags"
        )
    account = source.removesuffix(".yaml")
    schedule_name = f"batchform-{account}-{job}"
    if not account.startswith("_") and len(schedule_name) > MAX_SCHEDULE_NAME:
        raise ConfigError(
            f"{place}: its schedule would be named {schedule_name}, {len(schedule_name)} characters, "
            f"more than the {MAX_SCHEDULE_NAME} EventBridge Scheduler takes: give the job a shorter name"
        )


def _check_job_data(where: str, job: dict[str, Any], tables: dict[str, Any]) -> None:
    """What a job reads, writes and keeps: prefixes its role can be scoped to, tables the account has."""
    for key in ("reads", "writes"):
        for index, prefix in enumerate(job.get(key) or []):
            if not DATA_PREFIX.fullmatch(prefix):
                raise ConfigError(
                    f"{where}.{key}[{index}]: must be a key prefix ending in / (inputs/), or one in "
                    "another bucket by ARN (arn:aws:s3:::bucket/prefix/), without * or empty segments, "
                    f"got {prefix!r}"
                )
    for index, table in enumerate(job.get("tables") or []):
        if table not in tables:
            known = ", ".join(tables) or "none declared"
            raise ConfigError(f"{where}.tables[{index}]: must name one of this account's tables ({known})")


def _check_secrets(where: str, environment: dict[str, str], secrets: dict[str, str]) -> None:
    """Secrets only by reference: refuse a plain variable named like a secret, and a reference
    that is not an SSM parameter or Secrets Manager ARN (the execution role may read exactly those)."""

    def shown(variable: str) -> str:  # one line, whatever the name holds
        return variable if variable.isprintable() else repr(variable)

    for variable in environment:
        if looks_like_secret(variable):
            raise ConfigError(f"{where}.environment.{shown(variable)}: {PLAIN_VARIABLE_REFUSAL}")
    for variable, reference in secrets.items():
        field = f"{where}.secrets.{shown(variable)}"
        if not SECRET_VARIABLE.fullmatch(variable) or variable.startswith("AWS_BATCH"):
            raise ConfigError(
                f"{field}: names are letters, digits and _, not starting with a digit or AWS_BATCH"
            )
        if not is_secret_reference(reference):
            # The value is not repeated: it may be the secret itself, put here by mistake.
            raise ConfigError(f"{field}: {REFERENCE_HINT}")
        if variable in environment:
            raise ConfigError(f"{field}: also in environment; a variable is one or the other")


def parse_source(path: Path, text: str) -> Any:
    """The YAML of the source at `path` (its text given), unchecked; a syntax error names its line."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path.name}{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None


def set_build(text: str, image: str, build: int) -> str:
    """The source text with images.<image>.build set to `build`; everything else byte for byte."""
    root = yaml.compose(text)
    node = _child(_child(root, "images"), image)
    if isinstance(node, yaml.MappingNode):
        node = _child(node, "build")
    if not isinstance(node, yaml.ScalarNode) or node is None:
        raise ConfigError(f"images.{image}.build: not a plain number in the source")
    return text[: node.start_mark.index] + str(build) + text[node.end_mark.index :]


def _child(node: Any, key: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return value_node
    raise ConfigError(f"{key}: not found in the source")
