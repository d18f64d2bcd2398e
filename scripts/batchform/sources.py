"""An account's YAML source: what it may say, checked key by key, and the one edit `bump` makes.

Every refusal is one line naming the file and the key. `set_build` changes only the characters
of one build number, so comments and layout stay as people wrote them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from . import batchlimits as limits
from .errors import ConfigError
from .hcl import IDENTIFIER, hcl
from .secretnames import PLAIN_VARIABLE_REFUSAL, REFERENCE_HINT, is_secret_reference, looks_like_secret

# Top-level settings of a source, in the order they are rendered (images and jobs follow).
SETTINGS = (
    "compute",
    "queue",
    "kms",
    "data_bucket",
    "tables",
    "log_retention_days",
    "force_delete_repositories",
    "tags",
)
# The type each key takes: "text", "whole", "number", "flag", "texts" (a list of text),
# "text map" (text => text), "map", "list of maps".
SETTING_TYPES = {
    "compute": "map",
    "queue": "map",
    "kms": "map",
    "data_bucket": "map",
    "tables": "map",
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
}
IMAGE_KEYS, JOB_KEYS = set(IMAGE_TYPES), set(JOB_TYPES)
SECRET_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # a container environment name; fullmatch
BUILD_TEXT = re.compile(r"[1-9][0-9]{0,17}")  # used with fullmatch
# A key ARN, never an alias: an alias gives terraform a perpetual diff. Used with fullmatch.
KMS_KEY_ARN = re.compile(r"arn:aws[-a-z]*:kms:[a-z]{2}(-gov)?-[a-z]+-[0-9]:[0-9]{12}:key/[A-Za-z0-9-]+")
# Batch: "limited to 255 alphanumeric characters"; in a fair-share policy it may end in `*` (a prefix).
SHARE_IDENTIFIER = re.compile(r"[A-Za-z0-9_]{1,255}")  # used with fullmatch
QUEUE_KEYS = {"fair_share"}
FAIR_SHARE_KEYS = {"compute_reservation", "share_decay_seconds", "shares"}
KMS_KEYS = {"ecr", "logs", "data_bucket", "secrets"}
DATA_BUCKET_KEYS = {"fan_out_expiry_days", "force_destroy"}
COMPUTE_KEYS = {"type", "max_vcpus", "min_vcpus", "instance_types", "allocation_strategy"}
TABLE_TYPES = {
    "hash_key": "text",
    "range_key": "text",
    "ttl_attribute": "text",
    "deletion_protection": "flag",
}
# A table's key names the table (batchform-<account>-<key>) and its jobs' <KEY>_TABLE variable.
TABLE_KEY = re.compile(r"[a-z][a-z0-9_-]{0,63}")  # used with fullmatch
# A key prefix a job reads or writes: in the account's data bucket, or in another by ARN; never a
# wildcard, always ending in `/` (terraform/variables.tf holds the same rule).
DATA_PREFIX = re.compile(r"(arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/)?([A-Za-z0-9!_.'()-]+/)+")
# What terraform/variables.tf gives a job or the compute environment that does not say.
JOB_DEFAULTS = {"vcpus": 1, "memory": 2048}
COMPUTE_DEFAULTS = {"type": "FARGATE", "max_vcpus": 16, "min_vcpus": 0}
MAX_KEEP_BUILDS = 1000


def _check_mapping(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be a mapping")
    return value


def _check_build(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"{where}: must be a positive whole number (a build number such as 42), got {value!r}"
        )
    return value


def _check_type(where: str, value: Any, kind: str) -> None:
    def text(v: Any) -> bool:
        return isinstance(v, str)

    checks = {
        "text": text,
        "whole": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "flag": lambda v: isinstance(v, bool),
        "texts": lambda v: isinstance(v, list) and all(text(i) for i in v),
        "text map": lambda v: isinstance(v, dict) and all(text(k) and text(i) for k, i in v.items()),
        "map": lambda v: isinstance(v, dict),
        "list of maps": lambda v: isinstance(v, list) and all(isinstance(i, dict) for i in v),
    }
    if not checks[kind](value):
        hint = (
            " (quote numbers and dates that are meant as text)"
            if kind in ("text", "texts", "text map")
            else ""
        )
        raise ConfigError(f"{where}: must be {_KIND_NAMES[kind]}, got {value!r}{hint}")


_KIND_NAMES = {
    "text": "text",
    "whole": "a whole number",
    "number": "a number",
    "flag": "true or false",
    "texts": "a list of text",
    "text map": "a mapping of text to text",
    "map": "a mapping",
    "list of maps": "a list of mappings",
}


def _shown(key: Any) -> str:
    """A key as a message names it: itself, or its repr when it would break the message's line."""
    return key if isinstance(key, str) and key.isprintable() else repr(key)


def _check_renderable(where: str, value: Any) -> None:
    """Refuse, naming the field, a value the template cannot write as HCL (NaN, a set, bytes, ...)."""
    try:
        hcl(value)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def validate_source(name: str, data: Any) -> dict[str, Any]:
    """Refuse what the template would drop or terraform misread, naming the field."""
    data = _check_mapping(name, data if data is not None else {})
    for key in data:
        if key not in (*SETTINGS, "images", "jobs"):
            known = ", ".join((*SETTINGS, "images", "jobs"))
            raise ConfigError(f"{name}: {_shown(key)}: unknown key (known: {known})")
        if key in SETTING_TYPES:
            _check_type(f"{name}: {key}", data[key], SETTING_TYPES[key])
            _check_renderable(f"{name}: {key}", data[key])
        if key in SETTING_CHECKS:
            SETTING_CHECKS[key](f"{name}: {key}", data[key])
    images = _check_mapping(f"{name}: images", data.get("images") or {})
    for image, entry in images.items():
        where = f"{name}: images.{_shown(image)}"
        if not IDENTIFIER.fullmatch(str(image)):
            raise ConfigError(f"{where}: image names are letters, digits, - and _")
        entry = _check_mapping(where, entry)
        for key in entry:
            if key not in IMAGE_KEYS:
                raise ConfigError(
                    f"{where}.{_shown(key)}: unknown key (known: {', '.join(sorted(IMAGE_KEYS))})"
                )
        if "build" not in entry:
            raise ConfigError(f"{where}.build: required (the build number this account runs, such as 42)")
        _check_build(f"{where}.build", entry.get("build"))
        for key, value in entry.items():
            _check_type(f"{where}.{key}", value, IMAGE_TYPES[key])
            _check_renderable(f"{where}.{key}", value)
        if entry.get("keep_builds") is not None:
            _check_whole(f"{where}.keep_builds", entry["keep_builds"], 1, MAX_KEEP_BUILDS)
    jobs = _check_mapping(f"{name}: jobs", data.get("jobs") or {})
    for job, entry in jobs.items():
        where = f"{name}: jobs.{_shown(job)}"
        if not IDENTIFIER.fullmatch(str(job)):
            raise ConfigError(f"{where}: job names are letters, digits, - and _")
        entry = _check_mapping(where, entry)
        for key in entry:
            if key not in JOB_KEYS:
                raise ConfigError(
                    f"{where}.{_shown(key)}: unknown key (known: {', '.join(sorted(JOB_KEYS))})"
                )
            _check_type(f"{where}.{key}", entry[key], JOB_TYPES[key])
            _check_renderable(f"{where}.{key}", entry[key])
        if entry.get("image") not in images:
            raise ConfigError(f"{where}.image: must name one of this account's images ({', '.join(images)})")
        share = entry.get("share_identifier")
        if share is not None and not SHARE_IDENTIFIER.fullmatch(share):
            raise ConfigError(f"{where}.share_identifier: must be 1-255 letters, digits and underscores")
        if share is not None and not (data.get("queue") or {}).get("fair_share"):
            raise ConfigError(
                f"{where}.share_identifier: needs queue.fair_share (a job queue without a fair-share "
                "policy refuses a share identifier)"
            )
        if entry.get("scheduling_priority") is not None:
            _check_whole(f"{where}.scheduling_priority", entry["scheduling_priority"], 1, 9999)
        _check_job_limits(where, entry, {**COMPUTE_DEFAULTS, **(data.get("compute") or {})}["type"])
        _check_job_data(where, entry, data.get("tables") or {})
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


def _check_tables(where: str, tables: dict[str, Any]) -> None:
    for key, entry in tables.items():
        place = f"{where}.{_shown(key)}"
        if not isinstance(key, str) or not TABLE_KEY.fullmatch(key):
            raise ConfigError(
                f"{place}: table keys are 1-64 lowercase letters, digits, - and _, starting with a letter"
            )
        # `operations:` with nothing under it is a table with every default.
        entry = tables[key] = _check_mapping(place, entry if entry is not None else {})
        _check_known(place, entry, set(TABLE_TYPES))
        for name, value in entry.items():
            _check_type(f"{place}.{name}", value, TABLE_TYPES[name])
            if TABLE_TYPES[name] == "text" and not 1 <= len(value) <= 255:
                raise ConfigError(f"{place}.{name}: must be 1-255 characters, got {value!r}")


def _check_compute(where: str, compute: dict[str, Any]) -> None:
    _check_known(where, compute, COMPUTE_KEYS)
    compute = {**COMPUTE_DEFAULTS, **compute}
    if compute["type"] not in limits.COMPUTE_TYPES:
        raise ConfigError(
            f"{where}.type: must be {limits.one_of(limits.COMPUTE_TYPES)}, got {compute['type']!r}"
        )
    _check_whole(f"{where}.max_vcpus", compute["max_vcpus"], 1, 10_000_000)
    _check_whole(f"{where}.min_vcpus", compute["min_vcpus"], 0, compute["max_vcpus"], " (max_vcpus)")


def _check_log_retention(where: str, days: Any) -> None:
    if days not in limits.LOG_RETENTION_DAYS or isinstance(days, bool):
        raise ConfigError(
            f"{where}: must be one CloudWatch Logs accepts "
            f"({limits.one_of(limits.LOG_RETENTION_DAYS)}), got {days!r}"
        )


def _check_known(where: str, data: dict[str, Any], known: set[str]) -> None:
    for key in data:
        if key not in known:
            raise ConfigError(f"{where}.{_shown(key)}: unknown key (known: {', '.join(sorted(known))})")


def _check_whole(where: str, value: Any, low: int, high: int, what: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}: must be a whole number from {low} to {high}{what}, got {value!r}")


def _check_queue(where: str, queue: dict[str, Any]) -> None:
    """The queue's fair-share policy, within what Batch accepts for a scheduling policy."""
    _check_known(where, queue, QUEUE_KEYS)
    if queue.get("fair_share") is None:
        return
    fair = _check_mapping(f"{where}.fair_share", queue["fair_share"])
    _check_known(f"{where}.fair_share", fair, FAIR_SHARE_KEYS)
    _check_whole(f"{where}.fair_share.compute_reservation", fair.get("compute_reservation", 0), 0, 99)
    _check_whole(
        f"{where}.fair_share.share_decay_seconds",
        fair.get("share_decay_seconds", 0),
        0,
        604800,
        " (one week)",
    )
    shares = _check_mapping(f"{where}.fair_share.shares", fair.get("shares") or {})
    if len(shares) > 500:
        raise ConfigError(f"{where}.fair_share.shares: at most 500 share identifiers, got {len(shares)}")
    for share, weight in shares.items():
        place = f"{where}.fair_share.shares.{_shown(share)}"
        if not isinstance(share, str) or not SHARE_IDENTIFIER.fullmatch(share.removesuffix("*")):
            raise ConfigError(
                f"{place}: 1-255 letters, digits and underscores, with a trailing * for a prefix"
            )
        if (
            isinstance(weight, bool)
            or not isinstance(weight, (int, float))
            or not 0.0001 <= weight <= 999.9999
        ):
            raise ConfigError(
                f"{place}: the weight factor must be a number from 0.0001 to 999.9999, got {weight!r}"
            )


def _check_kms(where: str, kms: dict[str, Any]) -> None:
    """Customer-managed keys by key ARN (an alias gives a perpetual diff)."""
    _check_known(where, kms, KMS_KEYS)
    arns = [
        (f"{where}.{key}", kms[key]) for key in ("ecr", "logs", "data_bucket") if kms.get(key) is not None
    ]
    secrets = kms.get("secrets") or []
    if not isinstance(secrets, list):
        raise ConfigError(f"{where}.secrets: must be a list of KMS key ARNs")
    arns += [(f"{where}.secrets[{index}]", arn) for index, arn in enumerate(secrets)]
    for place, arn in arns:
        if not isinstance(arn, str) or not KMS_KEY_ARN.fullmatch(arn):
            raise ConfigError(
                f"{place}: must be a KMS key ARN (arn:aws:kms:<region>:<12 digits>:key/<id>), not an alias"
            )


def _check_data_bucket(where: str, bucket: dict[str, Any]) -> None:
    _check_known(where, bucket, DATA_BUCKET_KEYS)
    _check_whole(f"{where}.fan_out_expiry_days", bucket.get("fan_out_expiry_days", 7), 1, 3650, " (days)")
    if not isinstance(bucket.get("force_destroy", False), bool):
        raise ConfigError(f"{where}.force_destroy: must be true or false, got {bucket['force_destroy']!r}")


SETTING_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "compute": _check_compute,
    "log_retention_days": _check_log_retention,
    "queue": _check_queue,
    "kms": _check_kms,
    "data_bucket": _check_data_bucket,
    "tables": _check_tables,
}


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


def load_source(path: Path, text: str) -> dict[str, Any]:
    """The source at `path` (its text given), parsed and checked."""
    return validate_source(path.name, parse_source(path, text))


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
