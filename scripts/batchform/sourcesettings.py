"""The top-level settings of an account's source, checked key by key: its compute environments
and queues, keys, data bucket, tables, notifications and log retention; and the checks every part
of a source is made with. Every refusal is one line naming the file and the key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from . import batchlimits as limits
from .errors import ConfigError

# A key ARN, never an alias: an alias gives terraform a perpetual diff. Used with fullmatch.
KMS_KEY_ARN = re.compile(r"arn:aws[-a-z]*:kms:[a-z]{2}(-gov)?-[a-z]+-[0-9]:[0-9]{12}:key/[A-Za-z0-9-]+")
# Batch: "limited to 255 alphanumeric characters"; in a fair-share policy it may end in `*` (a prefix).
SHARE_IDENTIFIER = re.compile(r"[A-Za-z0-9_]{1,255}")  # used with fullmatch
QUEUE_KEYS = {"fair_share", "compute_environments", "priority", "time_limits"}
# Names of further compute environments and queues (the first ones are `main` and `default`).
EXTRA_NAME = re.compile(r"[a-z][a-z0-9_-]{0,49}")  # used with fullmatch
FAIR_SHARE_KEYS = {"compute_reservation", "share_decay_seconds", "shares"}
# A key each for these (by key ARN), and `secrets`: the keys of the jobs' secrets, a list.
KMS_SINGLE_KEYS = ("ecr", "logs", "data_bucket", "notifications")
KMS_KEYS = {*KMS_SINGLE_KEYS, "secrets"}
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
COMPUTE_DEFAULTS = {"type": "FARGATE", "max_vcpus": 16, "min_vcpus": 0}
# Who is told of a job's state change, and of which: the statuses a final state can have, and a
# subscriber of each protocol batchform offers, as SNS takes its endpoint. All used with fullmatch.
NOTIFICATION_STATUSES = ("FAILED", "SUCCEEDED")
NOTIFICATION_DEFAULT_STATUSES = ["FAILED"]
NOTIFICATION_ENDPOINTS = {
    "email": (re.compile(r"[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"), "an email address"),
    "https": (
        re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s]*)?"),
        "an https:// URL (SNS posts there, and it must confirm the subscription)",
    ),
    # A FIFO queue takes messages only from a FIFO topic, and the topic is a standard one.
    "sqs": (
        re.compile(r"arn:aws[a-z-]*:sqs:[a-z]{2}(-gov)?-[a-z]+-[0-9]:[0-9]{12}:[A-Za-z0-9_-]{1,80}"),
        "an SQS queue ARN (arn:aws:sqs:<region>:<12 digits>:<name>), not a FIFO queue",
    ),
}
MAX_SUBSCRIBERS = 100


def check_mapping(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be a mapping")
    return value


def check_type(where: str, value: Any, kind: str) -> None:
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


def shown_key(key: Any) -> str:
    """A key as a message names it: itself, or its repr when it would break the message's line."""
    return key if isinstance(key, str) and key.isprintable() else repr(key)


def _check_tables(where: str, tables: dict[str, Any]) -> None:
    for key, entry in tables.items():
        place = f"{where}.{shown_key(key)}"
        if not isinstance(key, str) or not TABLE_KEY.fullmatch(key):
            raise ConfigError(
                f"{place}: table keys are 1-64 lowercase letters, digits, - and _, starting with a letter"
            )
        # `operations:` with nothing under it is a table with every default.
        entry = tables[key] = check_mapping(place, entry if entry is not None else {})
        check_known(place, entry, set(TABLE_TYPES))
        for name, value in entry.items():
            check_type(f"{place}.{name}", value, TABLE_TYPES[name])
            if TABLE_TYPES[name] == "text" and not 1 <= len(value) <= 255:
                raise ConfigError(f"{place}.{name}: must be 1-255 characters, got {value!r}")


def _check_compute(where: str, compute: dict[str, Any]) -> None:
    check_known(where, compute, COMPUTE_KEYS)
    compute = {**COMPUTE_DEFAULTS, **compute}
    if compute["type"] not in limits.COMPUTE_TYPES:
        raise ConfigError(
            f"{where}.type: must be {limits.one_of(limits.COMPUTE_TYPES)}, got {compute['type']!r}"
        )
    check_whole(f"{where}.max_vcpus", compute["max_vcpus"], 1, 10_000_000)
    check_whole(f"{where}.min_vcpus", compute["min_vcpus"], 0, compute["max_vcpus"], " (max_vcpus)")


def _check_log_retention(where: str, days: Any) -> None:
    if days not in limits.LOG_RETENTION_DAYS or isinstance(days, bool):
        raise ConfigError(
            f"{where}: must be one CloudWatch Logs accepts "
            f"({limits.one_of(limits.LOG_RETENTION_DAYS)}), got {days!r}"
        )


def check_known(where: str, data: dict[str, Any], known: set[str]) -> None:
    for key in data:
        if key not in known:
            raise ConfigError(f"{where}.{shown_key(key)}: unknown key (known: {', '.join(sorted(known))})")


def check_whole(where: str, value: Any, low: int, high: int, what: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}: must be a whole number from {low} to {high}{what}, got {value!r}")


def all_compute_environments(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every compute environment of a source, `main` first, each with terraform's defaults."""
    extra = data.get("compute_environments") or {}
    return {
        name: {**COMPUTE_DEFAULTS, **(entry or {})}
        for name, entry in {"main": data.get("compute") or {}, **extra}.items()
    }


def all_queues(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every queue of a source, `default` first."""
    return {"default": data.get("queue") or {}, **(data.get("queues") or {})}


def queue_compute_type(data: dict[str, Any], queue: str) -> str:
    """The compute type a queue's jobs run on: its first compute environment's."""
    first = (all_queues(data)[queue].get("compute_environments") or ["main"])[0]
    return all_compute_environments(data).get(first, COMPUTE_DEFAULTS)["type"]


def _check_compute_environments(where: str, extra: dict[str, Any]) -> None:
    for name, entry in extra.items():
        if not isinstance(name, str) or not EXTRA_NAME.fullmatch(name) or name == "main":
            raise ConfigError(
                f"{where}.{shown_key(name)}: names are 1-50 lowercase letters, digits, - and _, from "
                "a letter; not main (that is compute)"
            )
        _check_compute(f"{where}.{name}", check_mapping(f"{where}.{name}", entry))


def _check_queues(where: str, extra: dict[str, Any]) -> None:
    for name, entry in extra.items():
        if not isinstance(name, str) or not EXTRA_NAME.fullmatch(name) or name == "default":
            raise ConfigError(
                f"{where}.{shown_key(name)}: names are 1-50 lowercase letters, digits, - and _, from "
                "a letter; not default (that is queue)"
            )
        entry = check_mapping(f"{where}.{name}", entry)
        if "compute_environments" not in entry:
            raise ConfigError(f"{where}.{name}.compute_environments: required (the ones it uses, in order)")
        _check_queue(f"{where}.{name}", entry)


def check_queue_environments(name: str, data: dict[str, Any]) -> None:
    """Each queue's compute environments exist and are of one kind, as Batch requires."""
    environments = all_compute_environments(data)
    for queue, entry in all_queues(data).items():
        where = f"{name}: queue" if queue == "default" else f"{name}: queues.{queue}"
        listed = entry.get("compute_environments") or ["main"]
        for index, ce in enumerate(listed):
            if ce not in environments:
                raise ConfigError(
                    f"{where}.compute_environments[{index}]: must name one of this account's compute "
                    f"environments ({', '.join(environments)})"
                )
        kinds = {environments[ce]["type"] in limits.FARGATE_TYPES for ce in listed}
        if len(kinds) > 1:
            raise ConfigError(
                f"{where}.compute_environments: all Fargate (FARGATE, FARGATE_SPOT) or all EC2 (EC2, SPOT): "
                "AWS Batch refuses a queue that mixes them"
            )


def _check_queue(where: str, queue: dict[str, Any]) -> None:
    """A queue: its compute environments, priority, time limits, and fair-share policy, within what
    Batch accepts."""
    check_known(where, queue, QUEUE_KEYS)
    listed = queue.get("compute_environments", ["main"])
    check_type(f"{where}.compute_environments", listed, "texts")
    if not 1 <= len(listed) <= limits.MAX_QUEUE_ENVIRONMENTS or len(set(listed)) != len(listed):
        raise ConfigError(
            f"{where}.compute_environments: 1 to {limits.MAX_QUEUE_ENVIRONMENTS} distinct names, "
            f"got {listed!r}"
        )
    check_whole(
        f"{where}.priority", queue.get("priority", 1), limits.MIN_QUEUE_PRIORITY, limits.MAX_QUEUE_PRIORITY
    )
    for reason, seconds in check_mapping(f"{where}.time_limits", queue.get("time_limits") or {}).items():
        if reason not in limits.TIME_LIMIT_REASONS:
            raise ConfigError(
                f"{where}.time_limits.{shown_key(reason)}: must be a reason AWS Batch acts on "
                f"({limits.one_of(limits.TIME_LIMIT_REASONS)})"
            )
        check_whole(
            f"{where}.time_limits.{reason}",
            seconds,
            limits.MIN_TIME_LIMIT,
            limits.MAX_TIME_LIMIT,
            " (seconds)",
        )
    if queue.get("fair_share") is None:
        return
    fair = check_mapping(f"{where}.fair_share", queue["fair_share"])
    check_known(f"{where}.fair_share", fair, FAIR_SHARE_KEYS)
    check_whole(f"{where}.fair_share.compute_reservation", fair.get("compute_reservation", 0), 0, 99)
    check_whole(
        f"{where}.fair_share.share_decay_seconds",
        fair.get("share_decay_seconds", 0),
        0,
        604800,
        " (one week)",
    )
    shares = check_mapping(f"{where}.fair_share.shares", fair.get("shares") or {})
    if len(shares) > 500:
        raise ConfigError(f"{where}.fair_share.shares: at most 500 share identifiers, got {len(shares)}")
    for share, weight in shares.items():
        place = f"{where}.fair_share.shares.{shown_key(share)}"
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
    check_known(where, kms, KMS_KEYS)
    arns = [(f"{where}.{key}", kms[key]) for key in KMS_SINGLE_KEYS if kms.get(key) is not None]
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
    check_known(where, bucket, DATA_BUCKET_KEYS)
    check_whole(f"{where}.fan_out_expiry_days", bucket.get("fan_out_expiry_days", 7), 1, 3650, " (days)")
    if not isinstance(bucket.get("force_destroy", False), bool):
        raise ConfigError(f"{where}.force_destroy: must be true or false, got {bucket['force_destroy']!r}")


def _check_notifications(where: str, notifications: dict[str, Any]) -> None:
    """Which job states are told (FAILED unless said) and to whom: email, https and sqs endpoints."""
    check_known(where, notifications, {"statuses", *NOTIFICATION_ENDPOINTS})
    statuses = notifications.get("statuses", NOTIFICATION_DEFAULT_STATUSES)
    check_type(f"{where}.statuses", statuses, "texts")
    if not statuses or len(set(statuses)) != len(statuses):
        raise ConfigError(f"{where}.statuses: 1 or 2 distinct statuses, got {statuses!r}")
    for index, status in enumerate(statuses):
        if status not in NOTIFICATION_STATUSES:
            raise ConfigError(
                f"{where}.statuses[{index}]: must be {limits.one_of(NOTIFICATION_STATUSES)} (a job's "
                f"final states), got {status!r}"
            )
    count = 0
    for protocol, (pattern, what) in NOTIFICATION_ENDPOINTS.items():
        endpoints = notifications.get(protocol) or []
        check_type(f"{where}.{protocol}", endpoints, "texts")
        if len(set(endpoints)) != len(endpoints):
            raise ConfigError(f"{where}.{protocol}: each endpoint once, got {endpoints!r}")
        for index, endpoint in enumerate(endpoints):
            if not pattern.fullmatch(endpoint):
                raise ConfigError(f"{where}.{protocol}[{index}]: must be {what}, got {endpoint!r}")
        count += len(endpoints)
    if count > MAX_SUBSCRIBERS:
        raise ConfigError(f"{where}: at most {MAX_SUBSCRIBERS} subscribers, got {count}")


SETTING_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "compute": _check_compute,
    "log_retention_days": _check_log_retention,
    "queue": _check_queue,
    "queues": _check_queues,
    "compute_environments": _check_compute_environments,
    "kms": _check_kms,
    "data_bucket": _check_data_bucket,
    "tables": _check_tables,
    "notifications": _check_notifications,
}
