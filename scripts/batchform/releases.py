"""What each account runs: one YAML source per account, rendered to terraform variables.

`terraform/accounts/<account>.yaml` is the source of truth, written for people: the account's
images and the build each runs, its jobs, sizing and settings. `render` turns it, through a
jinja2 template whose every value is escaped, into `terraform/accounts/<account>.tfvars`,
which the root configuration reads and which is committed so that a review shows the real
change. `bump` changes one build in the source (only that number's characters: comments and
layout stay) and re-renders, under a per-account lock and with atomic writes, after checking
everything it can refuse. `promote` copies a build between registries and bumps it.
`matrix` shows, per image and account, the declared, deployed and newest builds.
"""

from __future__ import annotations

import contextlib
import datetime
import difflib
import json
import math
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml

from .accounts import Account, Accounts
from .errors import ComponentMissing, ConfigError, UserError
from .images import discover
from .registry import Registry
from .secretnames import PLAIN_VARIABLE_REFUSAL, REFERENCE_HINT, is_secret_reference, looks_like_secret
from .settings import PACKAGE_DIR, Paths, file_lock, paths, write_atomic

Echo = Callable[[str], None]

# Top-level settings of a source, in the order they are rendered (images and jobs follow).
SETTINGS = (
    "compute",
    "queue",
    "kms",
    "data_bucket",
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
}
IMAGE_KEYS, JOB_KEYS = set(IMAGE_TYPES), set(JOB_TYPES)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")  # used with fullmatch: no trailing newline slips in
SECRET_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # a container environment name; fullmatch
# Words that mean something at the start of an HCL expression: such keys are always quoted.
HCL_KEYWORDS = {"for", "in", "if", "else", "endif", "endfor", "null", "true", "false"}
BUILD_TEXT = re.compile(r"[1-9][0-9]{0,17}")  # used with fullmatch
# A key ARN, never an alias: an alias gives terraform a perpetual diff. Used with fullmatch.
KMS_KEY_ARN = re.compile(r"arn:aws[-a-z]*:kms:[a-z]{2}(-gov)?-[a-z]+-[0-9]:[0-9]{12}:key/[A-Za-z0-9-]+")
# Batch: "limited to 255 alphanumeric characters"; in a fair-share policy it may end in `*` (a prefix).
SHARE_IDENTIFIER = re.compile(r"[A-Za-z0-9_]{1,255}")  # used with fullmatch
QUEUE_KEYS = {"fair_share"}
FAIR_SHARE_KEYS = {"compute_reservation", "share_decay_seconds", "shares"}
KMS_KEYS = {"ecr", "logs", "data_bucket", "secrets"}
DATA_BUCKET_KEYS = {"fan_out_expiry_days", "force_destroy"}
# HCL string escapes: the JSON ones HCL shares, and \uNNNN for every other control character.
HCL_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


# ---- HCL values ----------------------------------------------------------------------------------


def hcl(value: Any) -> str:
    """`value` as an HCL literal. Strings are quoted and `${`/`%{` escaped, so nothing is interpolated."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{value!r} is not a number terraform accepts")
        return json.dumps(value)
    if isinstance(value, (datetime.date, datetime.time)):
        value = value.isoformat()  # YAML reads 2024-01-01 as a date; terraform wants the text
    if isinstance(value, str):
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):  # a YAML "\ud800": no UTF-8 file can hold it
            raise ConfigError(f"{value!r} is not valid Unicode text (it holds a surrogate code point)")
        escaped = "".join(
            HCL_ESCAPES.get(ch) or (f"\\u{ord(ch):04x}" if ord(ch) < 0x20 or ord(ch) == 0x7F else ch)
            for ch in value
        )
        return '"' + escaped.replace("${", "$${").replace("%{", "%%{") + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(hcl(item) for item in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        lines = [f"{_hcl_key(str(key))} = {hcl(item)}" for key, item in value.items()]
        return "{\n" + "\n".join(lines) + "\n}"
    raise ConfigError(f"cannot write a {type(value).__name__} as a terraform value")


def _hcl_key(key: str) -> str:
    return key if IDENTIFIER.fullmatch(key) and key not in HCL_KEYWORDS else hcl(key)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(  # noqa: S701 - HCL, not HTML: values are escaped by the hcl filter
        loader=jinja2.FileSystemLoader(PACKAGE_DIR / "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["hcl"] = hcl
    return env


def terraform_fmt(text: str) -> str:
    """The canonical layout terraform itself gives the file (aligned `=`), so fmt -check agrees."""
    binary = shutil.which("terraform")
    if binary is None:
        raise ComponentMissing("terraform is needed to render variable files (it lays them out)")
    result = subprocess.run(  # noqa: S603 - fixed argument list
        [binary, "fmt", "-no-color", "-"], input=text, capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        errors = [line.strip("│ ").strip() for line in result.stderr.splitlines() if "Error:" in line]
        raise UserError(f"terraform fmt refused the rendered variables: {(errors or ['unknown error'])[0]}")
    return result.stdout


# ---- sources -------------------------------------------------------------------------------------


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
        _check_secrets(where, entry.get("environment") or {}, entry.get("secrets") or {})
    return data


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
    "queue": _check_queue,
    "kms": _check_kms,
    "data_bucket": _check_data_bucket,
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


def _load_yaml(path: Path, text: str) -> dict[str, Any]:
    try:
        return validate_source(path.name, yaml.safe_load(text))
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


@contextlib.contextmanager
def account_lock(p: Paths, account: str) -> Iterator[None]:
    """One writer of an account's release files at a time, across processes."""
    with file_lock(p.home / "locks" / f"release-{account}.lock"):
        yield


# ---- results -------------------------------------------------------------------------------------


@dataclass
class BumpResult:
    account: str
    image: str
    old: int
    new: int
    diff: str = ""

    @property
    def changed(self) -> bool:
        return self.old != self.new


@dataclass
class ReleaseCell:
    image: str
    account: str
    declared: int | None
    deployed: list[int] = field(default_factory=list)
    newest: int | None = None
    notes: list[str] = field(default_factory=list)
    # Builds the account declares or runs that its registry no longer has (an ECR lifecycle rule
    # or a manual delete): the next job start of such a build fails with CannotPullContainerError.
    missing: list[int] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        return not self.notes

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "in_sync": self.in_sync}


# ---- the workflows -------------------------------------------------------------------------------


class Releases:
    """Render, bump, promote and show the releases of the declared accounts."""

    def __init__(self, accounts: Accounts | None = None, p: Paths | None = None, echo: Echo | None = None):
        self.accounts = accounts or Accounts()
        self.paths = p or paths()
        self.echo = echo or print
        self.dir = self.paths.terraform_dir / "accounts"

    def source(self, account: str) -> Path:
        return self.dir / f"{account}.yaml"

    def rendered(self, account: str) -> Path:
        return self.dir / f"{account}.tfvars"

    def account_names(self) -> list[str]:
        """Accounts with a source, each checked to be declared in batchform.yaml."""
        names = []
        for path in sorted(self.dir.glob("*.yaml")):
            account = self.accounts.get(path.stem) if path.stem in self.accounts.names else None
            if account is None:
                raise ConfigError(
                    f"{path.relative_to(self.paths.root)}: no account {path.stem} in batchform.yaml"
                )
            names.append(account.name)
        return names

    def load(self, account: str) -> dict[str, Any]:
        path = self.source(account)
        if not path.exists():
            raise UserError(f"account {account} has no {path.relative_to(self.paths.root)}")
        return _load_yaml(path, path.read_text())

    def render_text(self, account: str, data: dict[str, Any] | None = None) -> str:
        data = self.load(account) if data is None else data
        template = _environment().get_template("account.tfvars.j2")
        text = template.render(
            source=self.source(account).name,
            account=account,
            settings=[(key, data[key]) for key in SETTINGS if key in data],
            images=data.get("images") or {},
            jobs=data.get("jobs") or {},
        )
        return terraform_fmt(text)

    def render(self, names: Iterable[str] | None = None) -> list[Path]:
        """Write every stale rendered file; returns those written."""
        written = []
        for account in names or self.account_names():
            with account_lock(self.paths, account):
                text = self.render_text(account)
                target = self.rendered(account)
                if not target.exists() or target.read_text() != text:
                    write_atomic(target, text)
                    written.append(target)
        return written

    def stale(self, names: Iterable[str] | None = None) -> list[str]:
        """One line per rendered file that is missing, stale or hand-edited."""
        problems = []
        for account in names or self.account_names():
            target = self.rendered(account)
            relative = target.relative_to(self.paths.root)
            if not target.exists():
                problems.append(f"{relative}: missing; run invoke render")
            elif target.read_text() != self.render_text(account):
                problems.append(
                    f"{relative}: differs from what {self.source(account).name} renders "
                    "(stale, or edited by hand); run invoke render"
                )
        return problems

    def ensure_rendered(self, account: str) -> None:
        """Refuse to plan or apply variables that are not what the account's source says."""
        if self.source(account).exists():
            problems = self.stale([account])
            if problems:
                raise UserError(problems[0])

    # ---- bump --------------------------------------------------------------------------------

    def bump(
        self,
        image: str,
        build: str | int | None,
        names: list[str] | str | None,
        allow_downgrade: bool = False,
    ) -> list[BumpResult]:
        """Set the build of an image for accounts; every refusal is decided before any file changes."""
        wanted = self._parse_build(build)
        discover([image], self.paths)  # an image that is not under images/ is unknown
        targets = self.accounts.select(names)
        plans: list[tuple[Account, int, int]] = []
        for account in targets:
            declared = self._declared(account, image)
            number = wanted if wanted is not None else self._newest(account, image)
            if wanted is not None and number not in Registry(account).builds(image):
                raise UserError(self._missing_build(account, image, number))
            if number < declared and not allow_downgrade:
                raise UserError(
                    f"{image} {declared} -> {number} in account {account.name} goes backwards; "
                    "add --allow-downgrade if that is what you want"
                )
            plans.append((account, declared, number))
        return [self._write_bump(account, image, number) for account, _declared, number in plans]

    @staticmethod
    def _parse_build(build: str | int | None) -> int | None:
        if build is None:
            return None
        text = str(build).strip()
        if not BUILD_TEXT.fullmatch(text):
            raise UserError(f"build {build!r}: must be a positive whole number such as 42")
        return int(text)

    def _declared(self, account: Account, image: str) -> int:
        images = self.load(account.name).get("images") or {}
        if image not in images:
            raise UserError(
                f"image {image} is not declared for account {account.name} "
                f"(declared: {', '.join(images) or 'none'}); add it to {self.source(account.name).name}"
            )
        return images[image]["build"]

    def _newest(self, account: Account, image: str) -> int:
        builds = Registry(account).builds(image)
        if not builds:
            raise UserError(
                f"no build of {image} in account {account.name}'s registry; "
                f"push one: invoke build push --image {image} --account {account.name}"
            )
        return builds[0]

    def _missing_build(self, account: Account, image: str, build: int) -> str:
        holders = [
            other.name
            for other in self.accounts.select("all")
            if other.name != account.name and build in _quiet_builds(other, image)
        ]
        fix = (
            f"copy it: invoke promote {image} --from {holders[0]} --to {account.name} --build {build}"
            if holders
            else f"push it: invoke build push --image {image} --account {account.name}"
        )
        return f"build {build} of {image} is not in account {account.name}'s registry; {fix}"

    def _write_bump(self, account: Account, image: str, number: int) -> BumpResult:
        source, target = self.source(account.name), self.rendered(account.name)
        with account_lock(self.paths, account.name):
            # Read again under the lock: another bump may have landed since the checks.
            before = source.read_text()
            old = _load_yaml(source, before)["images"][image]["build"]
            after = set_build(before, image, number)
            data = _load_yaml(source, after)
            if data["images"][image]["build"] != number:
                raise UserError(f"{source.name}: could not set images.{image}.build")  # pragma: no cover
            rendered_before = target.read_text() if target.exists() else ""
            rendered_after = self.render_text(account.name, data)
            if after != before:
                write_atomic(source, after)
            if rendered_after != rendered_before:
                write_atomic(target, rendered_after)
        diff = self._diff(source, before, after) + self._diff(target, rendered_before, rendered_after)
        return BumpResult(account.name, image, old, number, diff)

    def _diff(self, path: Path, before: str, after: str) -> str:
        name = str(path.relative_to(self.paths.root))
        return "".join(
            difflib.unified_diff(
                before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{name}", f"b/{name}"
            )
        )

    # ---- promote -----------------------------------------------------------------------------

    def promote(
        self,
        image: str,
        source_name: str,
        target_name: str,
        build: str | int | None = None,
        allow_downgrade: bool = False,
    ) -> tuple[int, str, BumpResult]:
        """Copy a build from one account's registry to another's (same digest), then bump the target.

        The build defaults to the one the source account declares. Returns (build, digest, bump).
        """
        source, target = self.accounts.get(source_name), self.accounts.get(target_name)
        if source.name == target.name:
            raise UserError(
                f"--to {target_name}: same account as --from {source_name} "
                "(promote copies a build between two accounts)"
            )
        number = self._parse_build(build)
        discover([image], self.paths)  # an image that is not under images/ is unknown
        self._declared(target, image)  # refuse before asking any registry, or copying anything
        if number is None:
            number = (
                self._declared(source, image)
                if self.source(source.name).exists()
                else self._newest(source, image)
            )
        from_registry, to_registry = Registry(source), Registry(target)
        if number not in from_registry.builds(image):
            raise UserError(f"build {number} of {image} is not in account {source.name}'s registry")
        digest = to_registry.copy_image(from_registry, image, number, echo=self.echo)
        return number, digest, self.bump(image, number, [target.name], allow_downgrade)[0]

    # ---- what runs where ---------------------------------------------------------------------

    def matrix(self, names: list[str] | str | None = None) -> list[ReleaseCell]:
        """Per image and account: declared, deployed (from AWS) and newest (in the registry) builds."""
        accounts = (
            self.accounts.select(names) if names else [self.accounts.get(n) for n in self.account_names()]
        )
        cells = []
        for account in accounts:
            images = (
                (self.load(account.name).get("images") or {}) if self.source(account.name).exists() else {}
            )
            deployed = deployed_builds(account)
            registry = Registry(account)
            for image in sorted(set(images) | set(deployed)):
                declared = images.get(image, {}).get("build")
                builds = registry.builds(image)
                cell = ReleaseCell(
                    image,
                    account.name,
                    declared,
                    sorted(deployed.get(image, set())),
                    builds[0] if builds else None,
                )
                wanted = {*cell.deployed} | ({declared} if declared is not None else set())
                cell.missing = sorted(wanted - set(builds))
                cell.notes = _differences(cell, builds)
                cells.append(cell)
        return cells


def _quiet_builds(account: Account, image: str) -> list[int]:
    """An account's builds of an image, or none when its registry cannot be reached."""
    try:
        return Registry(account).builds(image)
    except Exception:  # noqa: BLE001 - only used to suggest where a build could be copied from
        return []


def deployed_builds(account: Account) -> dict[str, set[int]]:
    """Image => builds that the account's ACTIVE job definitions (latest revision each) run."""
    batch = account.client("batch")
    latest: dict[str, dict[str, Any]] = {}
    for page in batch.get_paginator("describe_job_definitions").paginate(status="ACTIVE"):
        for definition in page["jobDefinitions"]:
            name = definition["jobDefinitionName"]
            if name not in latest or definition["revision"] > latest[name]["revision"]:
                latest[name] = definition
    found: dict[str, set[int]] = {}
    registry = account.registry
    for definition in latest.values():
        reference = (definition.get("containerProperties") or {}).get("image", "")
        repository, _, tag = reference.rpartition(":")
        if not repository.startswith(f"{registry}/") or not BUILD_TEXT.fullmatch(tag):
            continue
        found.setdefault(repository[len(registry) + 1 :], set()).add(int(tag))
    return found


def _differences(cell: ReleaseCell, builds: list[int]) -> list[str]:
    notes = []
    if cell.declared is None:
        notes.append("deployed but not declared")
    elif not cell.deployed:
        notes.append("declared, not deployed")
    elif cell.deployed != [cell.declared]:
        ahead = all(cell.declared > d for d in cell.deployed)
        notes.append("declared ahead of deployed" if ahead else "deployed differs from declared")
    notes += [
        f"deployed build {build} missing from registry: its jobs cannot start (CannotPullContainerError)"
        for build in cell.deployed
        if build not in builds
    ]
    if cell.declared is not None and cell.declared not in builds and cell.declared not in cell.deployed:
        notes.append(f"declared build {cell.declared} missing from registry")
    if cell.newest is not None and cell.declared is not None and cell.newest > cell.declared:
        notes.append("newer build in registry")
    return notes
