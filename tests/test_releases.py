"""Bump, promote and the releases matrix against real registries, the emulator and terraform.

Each test works in a project root of its own (`release_project`) with two private emulator
accounts, rel-a and rel-b, so that the repository's files and the local account are never
touched. Builds are real images (tiny, FROM scratch) pushed through the local stack's registry.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from batchform.errors import UserError
from batchform.images import ImageBuilder, discover
from batchform.registry import Registry
from batchform.settings import Paths
from batchform.terraform import TerraformRunner, cli_config_file
from conftest import dashboard, project_env, project_releases, push_manifest_only, release_source, screenshot

pytestmark = [pytest.mark.stack, pytest.mark.docker, pytest.mark.terraform]  # rendering runs terraform fmt


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "terraform" / "accounts").iterdir())
    }


def _write_source(root: Path, account: str, images: dict[str, int]) -> None:
    (root / "terraform" / "accounts" / f"{account}.yaml").write_text(release_source(images))


def _push(root: Path, releases, account_names: list[str], image: str, content: str) -> int:  # noqa: ANN001
    """Build `image` with new content and push it to the accounts: returns its build number."""
    (root / "images" / image / "build.txt").write_text(content)
    accounts = [releases.accounts.get(name) for name in account_names]
    builder = ImageBuilder(accounts, echo=lambda _line: None)
    spec = discover([image], releases.paths)[0]
    return builder.push(builder.build(spec)).build


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = project_env(root)
    return subprocess.run(
        [sys.executable, "-m", "batchform", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_a_build_missing_from_the_registry_is_refused_with_the_command_that_puts_it_there(
    local_stack, release_project
) -> None:
    releases = project_releases(release_project)
    _write_source(release_project, "rel-a", {"alpha": 1})
    _write_source(release_project, "rel-b", {"alpha": 1})
    releases.render()
    pushed = _push(release_project, releases, ["rel-a"], "alpha", "only in rel-a")
    before = _snapshot(release_project)

    with pytest.raises(UserError) as refused:
        releases.bump("alpha", str(pushed), ["rel-b"])
    assert f"invoke promote alpha --from rel-a --to rel-b --build {pushed}" in str(refused.value)
    with pytest.raises(UserError) as refused:
        releases.bump("alpha", str(pushed + 5), ["rel-a"])
    pushing = "invoke build --image alpha --account rel-a push --image alpha --account rel-a"
    assert pushing in str(refused.value)
    assert "\n" not in str(refused.value)
    assert _snapshot(release_project) == before


def test_bump_takes_the_newest_build_by_default_and_refuses_to_go_back_without_allow_downgrade(
    local_stack, release_project
) -> None:
    releases = project_releases(release_project)
    _write_source(release_project, "rel-a", {"alpha": 1, "beta": 1})
    releases.render()
    first = _push(release_project, releases, ["rel-a"], "alpha", "first")
    second = _push(release_project, releases, ["rel-a"], "alpha", "second")

    [result] = releases.bump("alpha", None, ["rel-a"])
    assert (result.old, result.new) == (1, second)
    assert (
        f"-    build: 1  # bumped by invoke bump\n+    build: {second}  # bumped by invoke bump"
        in result.diff
    )
    assert "images.beta" not in result.diff and releases.load("rel-a")["images"]["beta"]["build"] == 1

    before = _snapshot(release_project)
    with pytest.raises(UserError, match="goes backwards"):
        releases.bump("alpha", str(first), ["rel-a"])
    assert _snapshot(release_project) == before

    [result] = releases.bump("alpha", str(first), ["rel-a"], allow_downgrade=True)
    assert result.new == first and releases.stale() == []


def test_twenty_bumps_of_one_account_at_once_all_land(local_stack, release_project) -> None:
    images = [f"img{i:02d}" for i in range(20)]
    for image in images:
        (release_project / "images" / image).mkdir()
        (release_project / "images" / image / "Dockerfile").write_text("FROM scratch\n")
    releases = project_releases(release_project)
    _write_source(release_project, "rel-a", dict.fromkeys(images, 1))
    releases.render()
    account = releases.accounts.get("rel-a")
    for image in images:
        push_manifest_only(account, image, 7)

    env = dict(
        os.environ,
        BATCHFORM_ROOT=str(release_project),
        BATCHFORM_CONFIG=str(release_project / "batchform.yaml"),
        BATCHFORM_HOME=str(release_project / ".batchform"),
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "batchform", "bump", image, "7", "--account", "rel-a"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for image in images
    ]
    outcomes = [(p.wait(timeout=300), p.stderr.read()) for p in processes]
    assert [code for code, _ in outcomes] == [0] * 20, outcomes
    declared = releases.load("rel-a")["images"]
    assert {image: declared[image]["build"] for image in images} == dict.fromkeys(images, 7)
    assert releases.stale() == []


def test_promote_copies_the_build_with_the_same_digest_then_bumps_the_target(
    local_stack, release_project
) -> None:
    releases = project_releases(release_project)
    _write_source(release_project, "rel-b", {"alpha": 1})
    _push(release_project, releases, ["rel-a"], "alpha", "an older build")
    built = _push(release_project, releases, ["rel-a"], "alpha", "promote me")
    assert built > 1
    _write_source(release_project, "rel-a", {"alpha": built})
    releases.render()

    result = _cli(release_project, "promote", "alpha", "--from", "rel-a", "--to", "b")
    assert result.returncode == 0, result.stderr
    assert f"alpha: 1 -> {built} in account rel-b" in result.stdout
    source, target = (Registry(releases.accounts.get(name)) for name in ("rel-a", "rel-b"))
    assert target.builds("alpha") == [built]
    assert target.manifest("alpha", built)[0] == source.manifest("alpha", built)[0]
    assert releases.load("rel-b")["images"]["alpha"]["build"] == built

    again = _cli(release_project, "promote", "alpha", "--from", "rel-a", "--to", "rel-b")
    assert again.returncode == 0 and "already at build" in again.stdout


@pytest.fixture
def tf_cli_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Take providers from the offline mirror, as batchform's own terraform runs do."""
    rc = cli_config_file()
    if rc is not None:
        monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(rc))


def _shown_cell(page, image: str) -> dict[str, str]:  # noqa: ANN001
    """What the releases view shows in the row of `image` in rel-a."""
    row = f"#releases tr[data-image='{image}'][data-account='rel-a']"
    return {
        "class": page.get_attribute(row, "class") or "",
        **{
            key: page.inner_text(f"{row} td.{key}")
            for key in ("declared", "deployed", "newest", "notes", "commands")
        },
    }


@pytest.mark.browser
def test_the_matrix_shows_declared_ahead_of_deployed_until_apply_brings_them_in_sync(
    local_stack, terraform_binary, release_project, tf_cli_config, browser
) -> None:
    """On the command line and in the dashboard's releases view, seen in a real browser."""
    releases = project_releases(release_project)
    first = _push(release_project, releases, ["rel-a"], "alpha", "deployed first")
    beta = _push(release_project, releases, ["rel-a"], "beta", "beta")
    _write_source(release_project, "rel-a", {"alpha": first, "beta": beta})
    releases.render()
    account = releases.accounts.get("rel-a")
    runner = TerraformRunner(
        account, echo=lambda _line: None, p=Paths(release_project, release_project / ".batchform")
    )
    page = browser.new_page(viewport={"width": 1280, "height": 600})
    try:
        runner.apply()
        cells = {cell.image: cell for cell in releases.matrix()}
        assert cells["alpha"].in_sync and cells["alpha"].deployed == [first]
        with dashboard(project_env(release_project), "rel-a") as url:
            page.goto(f"{url}/releases")
            assert _shown_cell(page, "alpha")["class"] == "in-sync"

            second = _push(release_project, releases, ["rel-a"], "alpha", "deployed second")
            releases.bump("alpha", None, ["rel-a"])
            listed = _cli(release_project, "releases", "--json")
            assert listed.returncode == 2, listed.stdout  # something differs
            cells = {cell["image"]: cell for cell in json.loads(listed.stdout)}
            assert (cells["alpha"]["declared"], cells["alpha"]["deployed"], cells["alpha"]["newest"]) == (
                second,
                [first],
                second,
            )
            assert cells["alpha"]["notes"] == ["declared ahead of deployed"]
            assert cells["alpha"]["commands"] == ["invoke tf.apply --account rel-a"]
            assert cells["beta"]["in_sync"]

            page.reload()  # the matrix is read at most every 10 s; a reload after that shows the bump
            page.wait_for_selector("#releases tr.differs[data-image='alpha']", timeout=30_000)
            shown = _shown_cell(page, "alpha")
            assert (shown["declared"], shown["deployed"], shown["newest"]) == (
                str(second),
                str(first),
                str(second),
            )
            assert shown["notes"] == "declared ahead of deployed"
            assert "invoke tf.apply --account rel-a" in shown["commands"]
            assert _shown_cell(page, "beta")["class"] == "in-sync"
            screenshot(page, "releases.png")

            runner.apply()
            listed = _cli(release_project, "releases")
            assert listed.returncode == 0, listed.stdout
            assert all(cell.in_sync for cell in releases.matrix())
            assert "in sync" in listed.stdout and "*" not in listed.stdout
            page.wait_for_selector(
                "#releases tr.in-sync[data-image='alpha']", timeout=30_000
            )  # it refreshes itself
            assert _shown_cell(page, "alpha")["deployed"] == str(second)
    finally:
        page.close()
        shutil.rmtree(runner.data_dir, ignore_errors=True)


def test_a_deployed_build_the_registry_lost_and_a_declared_build_never_pushed_are_shown_missing_exit_1(
    local_stack, release_project
) -> None:
    """AWS-FIDELITY: "ECR lifecycle "keep the last N images" counts every matching image: a build that
    an account still runs can be expired once N newer builds exist." Its next job start would fail
    with CannotPullContainerError, so `releases` marks it missing and exits 1."""
    releases = project_releases(release_project)
    account = releases.accounts.get("rel-a")
    registry = Registry(account)
    for build in (1, 2):
        push_manifest_only(account, "alpha", build)
    # What AWS holds: a job definition applied while build 1 was in the registry.
    account.client("batch").register_job_definition(
        jobDefinitionName="batchform-rel-a-alpha",
        type="container",
        platformCapabilities=["FARGATE"],
        containerProperties={
            "image": registry.reference("alpha", 1),
            "resourceRequirements": [{"type": "VCPU", "value": "0.25"}, {"type": "MEMORY", "value": "512"}],
        },
    )
    # Then build 1 leaves the registry, as a lifecycle rule or a manual delete takes it.
    digest = registry.manifest("alpha", 1)[0]
    token = registry.credentials()
    requests.delete(
        f"{registry.base_url}/v2/{registry.repository_path('alpha')}/manifests/{digest}",
        auth=(token.username, token.password),
        timeout=30,
    ).raise_for_status()
    assert registry.builds("alpha") == [2]
    _write_source(release_project, "rel-a", {"alpha": 2, "beta": 5})  # beta 5 was never pushed

    listed = _cli(release_project, "releases", "--account", "rel-a", "--json")
    assert listed.returncode == 1, listed.stdout + listed.stderr
    cells = {cell["image"]: cell for cell in json.loads(listed.stdout)}
    assert (cells["alpha"]["deployed"], cells["alpha"]["missing"]) == ([1], [1])
    assert "deployed build 1 missing from registry" in "; ".join(cells["alpha"]["notes"])
    assert (cells["beta"]["declared"], cells["beta"]["missing"]) == (5, [5])

    shown = _cli(release_project, "releases", "--account", "rel-a")
    assert shown.returncode == 1, shown.stdout + shown.stderr
    rows = {line.split()[0]: line.split() for line in shown.stdout.splitlines()}
    assert rows["alpha"][:6] == ["alpha", "rel-a", "2", "1", "missing", "2"]
    assert rows["beta"][:5] == ["beta", "rel-a", "5", "missing", "-"]
