"""What each account runs: one YAML source per account, rendered to terraform variables.

`terraform/accounts/<account>.yaml` is the source of truth, written for people: the account's
images and the build each runs, its jobs, sizing and settings (what it may say: `sources`).
`render` turns it, through a jinja2 template whose every value is escaped (`hcl`), into
`terraform/accounts/<account>.tfvars`,
which the root configuration reads and which is committed so that a review shows the real
change. `bump` changes one build in the source (only that number's characters: comments and
layout stay) and re-renders, under a per-account lock and with atomic writes, after checking
everything it can refuse. `promote` copies a build between registries and bumps it.
`matrix` shows, per image and account, the declared, deployed and newest builds.
"""

from __future__ import annotations

import contextlib
import difflib
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from .accounts import Account, Accounts
from .errors import ComponentMissing, ConfigError, UserError
from .hcl import hcl
from .images import discover
from .imagespec import build_push_command
from .registry import Registry
from .settings import PACKAGE_DIR, Paths, file_lock, paths, write_atomic
from .sourcemerge import SHARED_SOURCE, Explained, Origins, blame, check_shared, explain, merge
from .sources import BUILD_TEXT, SETTINGS, parse_source, set_build, validate_source

Echo = Callable[[str], None]


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
    # What brings the cell in sync, in the order to run it: push, bump, apply.
    commands: list[str] = field(default_factory=list)

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
        for path in sorted(self.dir.glob("[!_]*.yaml")):  # `_shared.yaml` is no account's
            account = self.accounts.get(path.stem) if path.stem in self.accounts.names else None
            if account is None:
                raise ConfigError(
                    f"{path.relative_to(self.paths.root)}: no account {path.stem} in batchform.yaml"
                )
            names.append(account.name)
        return names

    @property
    def shared(self) -> Path:
        return self.dir / SHARED_SOURCE

    def load(self, account: str, text: str | None = None) -> dict[str, Any]:
        """The account's effective source (its own file, `text` if given, on the shared declarations)."""
        return self.load_explained(account, text)[0]

    def load_explained(self, account: str, text: str | None = None) -> tuple[dict[str, Any], Origins]:
        path = self.source(account)
        if text is None and not path.exists():
            raise UserError(f"account {account} has no {path.relative_to(self.paths.root)}")
        text = path.read_text() if text is None else text
        # Without shared declarations the account's file is the whole source: the same merge.
        shared = (
            check_shared(parse_source(self.shared, self.shared.read_text())) if self.shared.exists() else {}
        )
        own = parse_source(path, text)
        if not isinstance(own, dict | None):
            raise ConfigError(f"{path.name}: must be a mapping")
        merged, origins = merge(shared, own or {}, path.name)
        try:
            return validate_source(path.name, merged), origins
        except ConfigError as exc:
            raise blame(exc, origins) from None

    def explain(self, account: str) -> dict[str, list[Explained]]:
        """Each job's effective declaration in the account, with the file of each value."""
        return explain(*self.load_explained(account))

    def render_text(self, account: str, data: dict[str, Any] | None = None) -> str:
        data = self.load(account) if data is None else data
        template = _environment().get_template("account.tfvars.j2")
        sources = [self.source(account).name] + ([SHARED_SOURCE] if self.shared.exists() else [])
        text = template.render(
            source=" and ".join(sources),
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
                f"push one: {build_push_command(image, account.name)}"
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
            else f"push it: {build_push_command(image, account.name)}"
        )
        return f"build {build} of {image} is not in account {account.name}'s registry; {fix}"

    def _write_bump(self, account: Account, image: str, number: int) -> BumpResult:
        source, target = self.source(account.name), self.rendered(account.name)
        with account_lock(self.paths, account.name):
            # Read again under the lock: another bump may have landed since the checks.
            before = source.read_text()
            old = self.load(account.name, before)["images"][image]["build"]
            after = set_build(before, image, number)
            data = self.load(account.name, after)
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
                cell.commands = _reconciling(cell)
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


def _reconciling(cell: ReleaseCell) -> list[str]:
    """The commands that bring a cell in sync: push a declared build the registry lacks, bump to
    a newer build, apply what is declared but not deployed."""
    if cell.declared is None:
        # Deployed but no longer declared: applying removes its job definition.
        return [f"invoke tf.apply --account {cell.account}"]
    commands = []
    if cell.declared in cell.missing:
        commands.append(build_push_command(cell.image, cell.account))
    elif cell.newest is not None and cell.newest > cell.declared:
        commands.append(f"invoke bump {cell.image} --account {cell.account}")
    if commands or cell.deployed != [cell.declared]:
        commands.append(f"invoke tf.apply --account {cell.account}")
    return commands


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
