"""Images and jobs declared once in `_shared.yaml`; each account's source names what it runs and
says only what differs. Maps merge by key, lists and scalars replace, and every refusal names the
file that holds the refused value."""

from __future__ import annotations

from pathlib import Path

import pytest
from batchform.errors import ConfigError
from conftest import project_releases

SHARED = """\
tags: {team: batch-platform, cost-centre: "42"}
tables:
  operations: {}
images:
  alpha: {keep_builds: 10}
  beta: {}
jobs:
  crunch:
    image: alpha
    vcpus: 1
    memory: 2048
    environment: {MODE: full, LEVEL: "3"}
    command: [crunch, --all]
    reads: [inputs/]
  report:
    image: beta
    vcpus: 0.5
    memory: 1024
"""

ACCOUNT = """\
compute: {type: FARGATE, max_vcpus: 4}
tags: {team: data}
images:
  alpha: {build: 7}
jobs:
  crunch:
    memory: 4096
    environment: {MODE: fast}
    command: [crunch]
"""


def write(root: Path, name: str, text: str) -> None:
    (root / "terraform" / "accounts" / name).write_text(text)


@pytest.fixture
def releases(release_project: Path):  # noqa: ANN201
    write(release_project, "_shared.yaml", SHARED)
    write(release_project, "rel-a.yaml", ACCOUNT)
    return project_releases(release_project)


def test_an_account_runs_exactly_the_images_and_jobs_it_names_merged_on_their_declarations(releases) -> None:  # noqa: ANN001
    source = releases.load("rel-a")
    assert source["images"] == {"alpha": {"keep_builds": 10, "build": 7}}
    assert source["jobs"] == {
        "crunch": {
            "image": "alpha",
            "vcpus": 1,
            "memory": 4096,  # a scalar: the account's
            "environment": {"MODE": "fast", "LEVEL": "3"},  # a mapping: merged key by key
            "command": ["crunch"],  # a list: the account's, whole
            "reads": ["inputs/"],
        }
    }
    assert source["tags"] == {"team": "data", "cost-centre": "42"}
    assert source["tables"] == {"operations": {}}  # shared settings are every account's start


def test_explain_names_the_file_of_every_value_and_the_defaults(releases) -> None:  # noqa: ANN001
    rows = {row.key: (row.value, row.source) for row in releases.explain("rel-a")["crunch"]}
    assert rows == {
        "build": (7, "rel-a.yaml"),
        "command": (["crunch"], "rel-a.yaml"),
        "environment.LEVEL": ("3", "_shared.yaml"),
        "environment.MODE": ("fast", "rel-a.yaml"),
        "image": ("alpha", "_shared.yaml"),
        "memory": (4096, "rel-a.yaml"),
        "reads": (["inputs/"], "_shared.yaml"),
        "vcpus": (1, "_shared.yaml"),
    }
    write(releases.dir.parents[1], "rel-a.yaml", ACCOUNT.replace("    memory: 4096\n", ""))
    # Once the account says nothing of it, the value is the shared declaration's.
    memory = [(r.value, r.source) for r in releases.explain("rel-a")["crunch"] if r.key == "memory"]
    assert memory == [(2048, "_shared.yaml")]


def test_a_job_declared_only_in_the_account_still_works(releases) -> None:  # noqa: ANN001
    write(
        releases.dir.parents[1],
        "rel-a.yaml",
        ACCOUNT + "  local-only:\n    image: alpha\n    vcpus: 0.25\n    memory: 512\n",
    )
    assert releases.load("rel-a")["jobs"]["local-only"]["memory"] == 512


@pytest.mark.parametrize(
    ("shared", "account", "refusal"),
    [
        # A value from the shared file is refused there; the account's own, in the account's file.
        (
            SHARED.replace("memory: 1024", "memory: 100"),
            ACCOUNT + "  report: {}\n",
            "_shared.yaml: jobs.report.memory",
        ),
        (SHARED, ACCOUNT.replace("memory: 4096", "memory: -1"), "rel-a.yaml: jobs.crunch.memory"),
        (
            SHARED,
            ACCOUNT.replace("memory: 4096", "memory: 4096\n    colour: red"),
            "rel-a.yaml: jobs.crunch.colour",
        ),
        (
            SHARED,
            ACCOUNT + "  report: {}\n",
            "rel-a.yaml: jobs.report: runs image beta, which this account does not run",
        ),
        (SHARED, ACCOUNT + "  ghost: {}\n", "rel-a.yaml: jobs.ghost.image"),
        (
            SHARED.replace("  beta: {}", "  beta: {build: 3}"),
            ACCOUNT,
            "_shared.yaml: images.beta.build: a build is each account's own",
        ),
        (SHARED.replace("image: beta", "image: gamma"), ACCOUNT, "_shared.yaml: jobs.report.image"),
        (
            SHARED.replace("reads: [inputs/]", "reads: [inputs/*]"),
            ACCOUNT,
            "_shared.yaml: jobs.crunch.reads[0]",
        ),
        (
            SHARED,
            ACCOUNT.replace("environment: {MODE: fast}", "environment: [MODE]"),
            "rel-a.yaml: jobs.crunch.environment",
        ),
        (
            SHARED,
            ACCOUNT.replace("  alpha: {build: 7}", "  alpha: {}"),
            "rel-a.yaml: images.alpha.build: required",
        ),
        (SHARED, "jobs: [crunch]\n", "rel-a.yaml: jobs: must be a mapping"),
        (SHARED + "colour: red\n", ACCOUNT, "_shared.yaml: colour: unknown key"),
        ("images: [alpha\n", ACCOUNT, "_shared.yaml:2: invalid YAML"),
    ],
    ids=[
        "shared-value-refused-in-shared",
        "account-value-refused-in-account",
        "unknown-key-in-account",
        "job-without-its-image",
        "job-declared-nowhere",
        "build-in-shared",
        "shared-job-image-undeclared",
        "shared-wildcard-prefix",
        "account-wrong-type",
        "account-image-without-build",
        "account-jobs-not-a-mapping",
        "unknown-key-in-shared",
        "shared-invalid-yaml",
    ],
)
def test_refusals_name_the_file_that_holds_the_value_and_the_key(
    release_project: Path, shared: str, account: str, refusal: str
) -> None:
    write(release_project, "_shared.yaml", shared)
    write(release_project, "rel-a.yaml", account)
    with pytest.raises(ConfigError) as caught:
        project_releases(release_project).load("rel-a")
    assert str(caught.value).startswith(refusal), str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_shared_file_is_no_account(releases) -> None:  # noqa: ANN001
    assert releases.account_names() == ["rel-a"]


def test_a_shared_schedule_runs_in_every_account_that_names_the_job_and_one_may_turn_it_off(
    release_project: Path,
) -> None:
    schedule = '    schedule:\n      expression: "cron(0 3 * * ? *)"\n      timezone: Europe/Paris\n'
    shared = SHARED.replace("    memory: 1024\n", "    memory: 1024\n" + schedule)
    account = ACCOUNT.replace("  alpha: {build: 7}", "  alpha: {build: 7}\n  beta: {build: 2}")
    write(release_project, "_shared.yaml", shared)
    write(release_project, "rel-a.yaml", account + "  report: {}\n")
    releases = project_releases(release_project)
    assert releases.load("rel-a")["jobs"]["report"]["schedule"] == {
        "expression": "cron(0 3 * * ? *)",
        "timezone": "Europe/Paris",
    }
    write(release_project, "rel-a.yaml", account + "  report: {schedule: {enabled: false}}\n")
    rows = {row.key: row.source for row in releases.explain("rel-a")["report"]}
    assert releases.load("rel-a")["jobs"]["report"]["schedule"]["enabled"] is False
    assert (rows["schedule.expression"], rows["schedule.enabled"]) == ("_shared.yaml", "rel-a.yaml")
    # A shared expression AWS would refuse is refused in the shared file.
    write(release_project, "_shared.yaml", shared.replace("cron(0 3 * * ? *)", "cron(0 3 * * * *)"))
    with pytest.raises(ConfigError, match=r"^_shared\.yaml: jobs\.report\.schedule\.expression: "):
        releases.load("rel-a")
