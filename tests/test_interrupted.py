"""Commands killed (SIGKILL) part-way leave whole files and no duplicate job; running them again
completes the work once.

The tests of a command measure one complete run, then kill runs at delays spread over that
time, so that kills land in every phase (starting up, talking to AWS or the registry, writing
files), and at the moments that leave the most behind, which a delay seldom hits.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from batchform.settings import write_atomic
from conftest import project_releases, push_manifest_only, release_source
from test_concurrency import SUBMIT_PROGRAM, PrivateQueue, private_queue, python  # noqa: F401 - a fixture

pytestmark = pytest.mark.stack


def killed(
    command: list[str], after: float = 600, when: Callable[[], bool] | None = None, **popen: Any
) -> bool:
    """Start `command`; SIGKILL it and its children `after` seconds, or as soon as `when()` is true.

    True when it was killed, False when it had ended first.
    """
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, **popen
    )
    try:
        deadline = time.monotonic() + after
        while process.poll() is None and time.monotonic() < deadline and not (when and when()):
            time.sleep(0 if when else 0.001)  # watching for `when`, only yield: the kill must follow at once
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    return process.returncode == -signal.SIGKILL


def delays(duration: float, count: int) -> list[float]:
    """`count` delays spread evenly over a run of `duration` seconds."""
    return [duration * (index + 0.5) / count for index in range(count)]


# ---- atomic files ---------------------------------------------------------------------------

# A writer that stops for good after writing its temporary file, before renaming it: the moment
# a kill leaves the most behind.
STUCK_WRITER = """
import os, sys, time
from pathlib import Path
from batchform import settings

def stuck(_source, _target):
    print("written", flush=True)
    time.sleep(600)

os.replace = stuck
settings.write_atomic(Path(sys.argv[1]), sys.argv[2])
"""


def test_a_killed_writer_leaves_the_old_file_and_its_temporary_file_goes_with_the_next_write(
    tmp_path: Path, tally: Counter
) -> None:
    path = tmp_path / "state.json"
    write_atomic(path, "old\n")

    def stuck_writer() -> subprocess.Popen[str]:
        writer = subprocess.Popen(
            [sys.executable, "-c", STUCK_WRITER, str(path), "new\n"], stdout=subprocess.PIPE, text=True
        )
        if writer.stdout.readline() != "written\n":
            writer.kill()
            writer.wait()
            pytest.fail("the writer did not get as far as its temporary file")
        return writer

    def temporaries() -> list[str]:
        return sorted(p.name for p in tmp_path.iterdir() if p.name != path.name)

    dead = stuck_writer()
    dead.kill()
    dead.wait()
    tally["faults injected"] += 1
    assert path.read_text() == "old\n"
    [left_behind] = temporaries()

    running = stuck_writer()
    try:
        [its_own] = [name for name in temporaries() if name != left_behind]
        write_atomic(path, "newer\n")
        assert path.read_text() == "newer\n"
        # The dead writer's file is gone; a running writer's is its own business.
        assert temporaries() == [its_own]
    finally:
        running.kill()
        running.wait()
    tally["faults injected"] += 1
    write_atomic(path, "newest\n")
    assert (path.read_text(), temporaries()) == ("newest\n", [])


# ---- bump -----------------------------------------------------------------------------------


def _accounts_files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "terraform" / "accounts").iterdir())}


def _restore(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (root / "terraform" / "accounts" / name).write_bytes(data)


@pytest.fixture
def bump_project(local_stack, release_project: Path) -> tuple[Path, list[str], dict[str, str]]:  # noqa: ANN001
    """A release project declaring alpha build 1 for rel-a, with build 7 in rel-a's registry; the
    command that bumps it to 7, and the environment to run it in."""
    releases = project_releases(release_project)
    (release_project / "terraform" / "accounts" / "rel-a.yaml").write_text(release_source({"alpha": 1}))
    releases.render()
    push_manifest_only(releases.accounts.get("rel-a"), "alpha", 7)
    env = dict(
        os.environ,
        BATCHFORM_ROOT=str(release_project),
        BATCHFORM_CONFIG=str(release_project / "batchform.yaml"),
        BATCHFORM_HOME=str(release_project / ".batchform"),
    )
    command = [sys.executable, "-m", "batchform", "bump", "alpha", "7", "--account", "rel-a"]
    return release_project, command, env


def _declared(root: Path) -> int:
    return project_releases(root).load("rel-a")["images"]["alpha"]["build"]


@pytest.mark.terraform
def test_a_bump_killed_at_any_moment_leaves_whole_files_and_the_rerun_completes_it(
    bump_project: tuple[Path, list[str], dict[str, str]], tally: Counter
) -> None:
    root, command, env = bump_project
    old = _accounts_files(root)
    subprocess.run(command, cwd=root, env=env, check=True, capture_output=True, timeout=120)
    new = _accounts_files(root)
    _restore(root, old)
    # Measured on the second run: the first one fills caches the later ones find full.
    started = time.time()
    subprocess.run(command, cwd=root, env=env, check=True, capture_output=True, timeout=120)
    duration = time.time() - started
    assert set(new) == set(old) and all(new[name] != old[name] for name in old)

    accounts = root / "terraform" / "accounts"
    source = accounts / "rel-a.yaml"

    def source_replaced() -> bool:
        return source.stat().st_ino != original

    def variables_being_written() -> bool:
        return any(name.startswith(".rel-a.tfvars.") for name in os.listdir(accounts))

    # Spread over the whole run; then as the source is replaced (before the variables are, when
    # the kill is quick enough), and as the variables' temporary file appears (it is left behind).
    kills = [(f"after {delay:.3f} s", {"after": delay}) for delay in delays(duration, 8)]
    kills += [("as the source was replaced", {"when": source_replaced})] * 2
    kills += [("as the variables were being written", {"when": variables_being_written})] * 2
    for moment, how in kills:
        _restore(root, old)
        original = source.stat().st_ino
        if killed(command, cwd=root, env=env, **how):
            tally["faults injected"] += 1
        files = {name: data for name, data in _accounts_files(root).items() if not name.startswith(".")}
        assert set(files) == set(old), f"killed {moment}"
        for name, data in files.items():
            assert data in (old[name], new[name]), f"{name} is neither old nor new, killed {moment}"
        assert _declared(root) in (1, 7)  # the source parses

        rerun = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr
        # Complete, and nothing else: no temporary file of the killed run is left.
        assert _accounts_files(root) == new, f"killed {moment}"
        assert project_releases(root).stale() == []

    check = subprocess.run(
        [sys.executable, "-m", "batchform", "render", "--check"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert _declared(root) == 7


@pytest.mark.terraform
def test_a_bump_rerun_after_the_source_was_written_but_not_the_variables_renders_them(
    bump_project: tuple[Path, list[str], dict[str, str]],
) -> None:
    """A kill between the bump's two writes leaves the new source beside the old variables."""
    root, command, env = bump_project
    old = _accounts_files(root)
    subprocess.run(command, cwd=root, env=env, check=True, capture_output=True, timeout=120)
    new = _accounts_files(root)
    _restore(root, {"rel-a.yaml": new["rel-a.yaml"], "rel-a.tfvars": old["rel-a.tfvars"]})
    assert project_releases(root).stale() != []

    rerun = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert _accounts_files(root) == new
    assert project_releases(root).stale() == []


# ---- submit ---------------------------------------------------------------------------------


def test_a_submit_killed_at_any_moment_is_completed_once_by_the_rerun(
    private_queue: PrivateQueue,  # noqa: F811
    tmp_path: Path,
    tally: Counter,
) -> None:
    journal = tmp_path / "journal"
    # SubmitJob is slowed down on both sides of its request, so that some kills land after the
    # journal says `submitting`, and some after the job exists but before the journal says so.
    pause = 0.3
    started = time.time()
    measured = subprocess.run(
        python(
            SUBMIT_PROGRAM, private_queue.submit_spec(f"measure-{uuid.uuid4().hex}", journal, pause=pause)
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert measured.returncode == 0, measured.stderr
    duration = time.time() - started

    for delay in delays(duration, 6):
        token = f"killed-{uuid.uuid4().hex}"
        if killed(
            python(SUBMIT_PROGRAM, private_queue.submit_spec(token, journal, pause=pause)), after=delay
        ):
            tally["faults injected"] += 1
        before = [job["jobId"] for job in private_queue.jobs_tagged(token)]
        assert len(before) <= 1

        rerun = subprocess.run(
            python(SUBMIT_PROGRAM, private_queue.submit_spec(token, journal)),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert rerun.returncode == 0, rerun.stderr
        outcome = json.loads(rerun.stdout.strip().splitlines()[-1])
        tagged = [job["jobId"] for job in private_queue.jobs_tagged(token)]
        assert tagged == [outcome["job_id"]], (
            f"killed after {delay:.3f} s: {len(tagged)} jobs carry the token"
        )
        if before:  # the killed run's job was found, not submitted again
            assert (outcome["job_id"], outcome["reattached"]) == (before[0], True)
