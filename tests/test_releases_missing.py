"""`releases` flags a build an account runs or declares that its registry no longer has.

AWS-FIDELITY: "ECR lifecycle "keep the last N images" counts every matching image: a build that an
account still runs can be expired once N newer builds exist. ECR lifecycle rules select by tag prefix
or pattern and count; they cannot exempt "the builds in use"." A job definition that still names such
a build cannot start a job (CannotPullContainerError), so the matrix marks it "missing" and the command
exits 1.

The registry and the deployed job definitions are stand-ins here (the stack test is in
test_releases.py): what is judged is the matrix and the command's output and exit code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from batchform import cli, releases
from batchform.accounts import Accounts
from batchform.settings import Paths
from conftest import release_source
from invoke import Context, Exit

REGISTRY = {"alpha": [7, 6, 5], "beta": [3]}  # newest first, as Registry.builds gives them
DEPLOYED = {"alpha": {4}, "beta": {3}}  # alpha 4 expired from the registry; beta 3 is there


class StandInRegistry:
    def __init__(self, account: object):
        self.account = account

    def builds(self, image: str) -> list[int]:
        return REGISTRY.get(image, [])


@pytest.fixture
def matrix_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> releases.Releases:
    (tmp_path / "terraform" / "accounts").mkdir(parents=True)
    (tmp_path / "terraform" / "accounts" / "dev.yaml").write_text(release_source({"alpha": 7, "beta": 9}))
    monkeypatch.setattr(releases, "Registry", StandInRegistry)
    monkeypatch.setattr(releases, "deployed_builds", lambda _account: DEPLOYED)
    project = releases.Releases(
        Accounts({"accounts": {"dev": {"account_id": "111111111111"}}}),
        Paths(tmp_path, tmp_path / ".batchform"),
        echo=lambda _line: None,
    )
    monkeypatch.setattr(releases, "Releases", lambda *_args, **_kwargs: project)
    return project


def test_a_deployed_build_and_a_declared_build_missing_from_the_registry_are_marked_missing(
    matrix_project: releases.Releases,
) -> None:
    cells = {cell.image: cell for cell in matrix_project.matrix()}

    assert (cells["alpha"].declared, cells["alpha"].deployed, cells["alpha"].missing) == (7, [4], [4])
    assert cells["alpha"].notes == [
        "declared ahead of deployed",
        "deployed build 4 missing from registry: its jobs cannot start (CannotPullContainerError)",
    ]
    assert (cells["beta"].declared, cells["beta"].deployed, cells["beta"].missing) == (9, [3], [9])
    assert cells["beta"].notes == ["declared ahead of deployed", "declared build 9 missing from registry"]


def test_the_releases_command_shows_missing_builds_in_both_outputs_and_exits_1(
    matrix_project: releases.Releases, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(Exit) as exited:
        cli.releases(Context(), json_=True)
    assert exited.value.code == 1
    cells = {cell["image"]: cell for cell in json.loads(capsys.readouterr().out)}
    assert (cells["alpha"]["missing"], cells["beta"]["missing"]) == ([4], [9])
    assert not cells["alpha"]["in_sync"]

    with pytest.raises(Exit) as exited:
        cli.releases(Context())
    assert exited.value.code == 1
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert lines["alpha"].split()[:6] == ["alpha", "dev", "7", "4", "missing", "7"]
    assert "! declared ahead of deployed; deployed build 4 missing from registry" in lines["alpha"]
    assert lines["beta"].split()[:6] == ["beta", "dev", "9", "missing", "3", "3"]


def test_a_matrix_whose_builds_are_all_in_the_registry_only_differs_with_exit_2(
    matrix_project: releases.Releases, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(REGISTRY, "alpha", [7, 6, 5, 4])
    monkeypatch.setitem(REGISTRY, "beta", [9, 3])
    assert [cell.missing for cell in matrix_project.matrix()] == [[], []]
    with pytest.raises(Exit) as exited:
        cli.releases(Context())
    assert exited.value.code == 2
