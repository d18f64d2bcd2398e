"""Every versions.tf admits exactly the terraform and provider versions its code works with.

A range that admits a version the code cannot run on is a failure waiting for the first
machine that has that version: terraform 1.7 cannot read a validation that refers to another
variable, nor lock S3 state with `use_lockfile`; provider 6.x renamed the compute environment's
name arguments. The requirements are read from the code itself (its own files, its tests, the
modules it calls), so a feature added later raises the minimum it needs or fails here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import hcl2
import pytest
from batchform.accounts import Accounts

ROOT = Path(__file__).resolve().parent.parent
OFFLINE_PROVIDER = (5, 100, 0)  # the provider in the machines' offline mirror

# Language features and the terraform version that introduced them, found in a directory's text.
FEATURES: list[tuple[tuple[int, int], str, re.Pattern[str]]] = [
    ((1, 1), "nullable variables", re.compile(r"^\s*nullable\s*=", re.M)),
    ((1, 3), "optional() object attributes with defaults", re.compile(r"\boptional\(")),
    ((1, 5), "strcontains()", re.compile(r"\bstrcontains\(")),
    ((1, 5), "check blocks", re.compile(r'^\s*check\s+"', re.M)),
    ((1, 5), "import blocks", re.compile(r"^\s*import\s*\{", re.M)),
    ((1, 6), "terraform test expect_failures", re.compile(r"\bexpect_failures\b")),
    ((1, 7), "terraform test mocks", re.compile(r"\b(mock_provider|override_(resource|data|module))\b")),
    ((1, 7), "removed blocks", re.compile(r"^\s*removed\s*\{", re.M)),
    ((1, 8), "provider-defined functions", re.compile(r"\bprovider::")),
    ((1, 10), "ephemeral resources and variables", re.compile(r"^\s*ephemeral\b", re.M)),
]
# Arguments that provider 6.0 renamed: code using them needs a range capped below 6.0.
PROVIDER_5_ONLY = re.compile(r"^\s*(compute_environment_name_prefix|compute_environment_name)\s*=", re.M)


@dataclass
class Needs:
    terraform: tuple[int, int] = (0, 0)
    why: str = "nothing"
    provider_5_only: bool = False

    def raise_to(self, version: tuple[int, int], why: str) -> None:
        if version > self.terraform:
            self.terraform, self.why = version, why


def version_dirs() -> list[Path]:
    files = [ROOT / "terraform" / "versions.tf", *ROOT.glob("modules/**/versions.tf")]
    return sorted(path.parent for path in files)


def _texts(directory: Path) -> list[tuple[Path, str]]:
    files = [*directory.glob("*.tf"), *directory.glob("tests/*.tftest.hcl")]
    return [(f, f.read_text()) for f in sorted(files)]


def _cross_variable_validations(path: Path, text: str) -> list[str]:
    """Variables whose validation refers to another variable (terraform 1.9 and later)."""
    found = []
    for block in hcl2.loads(text).get("variable", []):
        for quoted, body in block.items():
            name = quoted.strip('"')
            for validation in body.get("validation", []):
                others = set(re.findall(r"\bvar\.([A-Za-z0-9_]+)", validation["condition"])) - {name}
                if others:
                    found.append(f"{path.name}: variable {name} validates against {sorted(others)}")
    return found


def needs(directory: Path, seen: frozenset[Path] = frozenset()) -> Needs:
    need = Needs()
    for path, text in _texts(directory):
        for version, what, pattern in FEATURES:
            if pattern.search(text):
                need.raise_to(version, f"{what} ({path.relative_to(ROOT)})")
        if path.suffix == ".tf":
            for found in _cross_variable_validations(path, text):
                need.raise_to((1, 9), f"validation referring to another variable: {found}")
            if PROVIDER_5_ONLY.search(text):
                need.provider_5_only = True
            if re.search(r'backend\s+"s3"', text) and Accounts({}).default.state_backend.get("use_lockfile"):
                # batchform's backend file sets use_lockfile (S3-native locking), new in 1.10.
                need.raise_to((1, 10), f"the S3 backend with use_lockfile that batchform sets ({path.name})")
            # A module called from here needs what it needs, and so does every caller.
            for source in re.findall(r'^\s*source\s*=\s*"(\.[^"]*)"', text, re.M):
                called = (directory / source).resolve()
                if called not in seen and (called / "versions.tf").exists():
                    inner = needs(called, seen | {directory})
                    need.raise_to(inner.terraform, f"{inner.why}, through {source}")
                    need.provider_5_only |= inner.provider_5_only
    return need


def _constraints(directory: Path) -> tuple[str, str | None]:
    """The terraform and aws provider constraints; None for a module that calls no provider."""
    block = hcl2.loads((directory / "versions.tf").read_text())["terraform"][0]
    providers = block.get("required_providers", [{}])[0]
    provider = providers["aws"]["version"].strip('"') if "aws" in providers else None
    return block["required_version"].strip('"'), provider


def _parse(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def admits(constraint: str, version: tuple[int, ...]) -> bool:
    """Whether a terraform version constraint (`>=`, `<`, `<=`, `>`, `=`, `~>`) admits `version`."""
    for term in constraint.split(","):
        op, _, wanted = term.strip().partition(" ")
        bound = _parse(wanted.strip())
        width = max(len(bound), len(version))
        v, b = version + (0,) * (width - len(version)), bound + (0,) * (width - len(bound))
        if op == "~>":
            upper = (*bound[:-2], bound[-2] + 1) if len(bound) > 1 else (bound[0] + 1,)
            ok = v >= b and version < upper
        else:
            ok = {">=": v >= b, ">": v > b, "<": v < b, "<=": v <= b, "=": v == b}[op]
        if not ok:
            return False
    return True


def minimum(constraint: str) -> tuple[int, ...]:
    """The smallest version the constraint admits, from its `>=` term."""
    lows = [_parse(t.strip()[2:].strip()) for t in constraint.split(",") if t.strip().startswith(">=")]
    assert lows, f"{constraint!r} has no >= lower bound"
    return max(lows)


@pytest.mark.parametrize("directory", version_dirs(), ids=lambda d: str(d.relative_to(ROOT)))
def test_required_terraform_version_is_at_least_what_the_code_uses(directory: Path) -> None:
    required, _ = _constraints(directory)
    need = needs(directory)
    assert minimum(required)[:2] >= need.terraform, (
        f"{directory.relative_to(ROOT)}/versions.tf admits terraform {required}, "
        f"but needs >= {'.'.join(map(str, need.terraform))}: {need.why}"
    )


@pytest.mark.parametrize("directory", version_dirs(), ids=lambda d: str(d.relative_to(ROOT)))
def test_provider_range_admits_the_offline_provider_and_no_major_the_code_cannot_use(directory: Path) -> None:
    _, provider = _constraints(directory)
    if provider is None:
        texts = "".join(text for _, text in _texts(directory))
        assert not re.search(r'^(resource|data)\s+"aws_', texts, re.M), (
            "uses the aws provider without requiring it"
        )
        return
    assert admits(provider, OFFLINE_PROVIDER), f"{provider!r} must admit the offline provider 5.100.0"
    if needs(directory).provider_5_only:
        assert not admits(provider, (6, 0, 0)), (
            f"{directory.relative_to(ROOT)}/versions.tf admits provider 6.x ({provider}), which renamed "
            "compute_environment_name_prefix to name_prefix: cap it below 6.0"
        )


def test_the_version_reader_finds_what_it_must() -> None:
    assert admits(">= 5.100, < 7.0", (6, 3, 0)) and not admits(">= 5.100, < 6.0", (6, 0, 0))
    assert admits("~> 5.100", (5, 200, 0)) and not admits("~> 5.100", (6, 0, 0))
    assert minimum(">= 1.10") == (1, 10)
    root = needs(ROOT / "terraform")
    assert root.terraform >= (1, 10) and "use_lockfile" in root.why
    assert root.provider_5_only, "the root calls batch-environment, which uses the 5.x argument names"
