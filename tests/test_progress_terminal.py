"""What a person sees on a terminal, read off a pseudo-terminal by a terminal emulator (pyte),
against the local stack: a push's bytes moving up to its layers' sizes, an array's bar reaching
its total; and that the same commands print plain lines, without a control character, when
their output is not a terminal.

The push tests work in a project root of their own (`release_project`: emulator accounts rel-a
and rel-b), so that the repository and the local account are untouched.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid

import pytest
from conftest import in_terminal, project_env

pytestmark = [pytest.mark.stack, pytest.mark.docker, pytest.mark.terraform]

BIG = 100 * 1024 * 1024  # bytes of random content: its layer cannot compress below 100 MB
MEGABYTES = re.compile(r"(?P<sent>[0-9.]+)/(?P<size>[0-9.]+) MB")


def _build_push(image: str) -> list[str]:
    where = ["--image", image, "--account", "rel-a"]
    return [sys.executable, "-m", "batchform", "build", *where, "push", *where]


def test_pushing_a_100_mb_image_shows_its_bytes_move_up_to_the_layers_size(
    local_stack, release_project
) -> None:
    context = release_project / "images" / "big"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\nCOPY blob /blob\n")
    with (context / "blob").open("wb") as blob:
        for _ in range(BIG // (1 << 20)):
            blob.write(os.urandom(1 << 20))

    shown = in_terminal(_build_push("big"), project_env(release_project), timeout=600)

    assert shown.code == 0, shown.screen
    totals = [  # the line of big's build 1 on its way to rel-a: bytes sent of the layers' size
        (float(found["sent"]), float(found["size"]))
        for frame in shown.frames
        for line in frame.splitlines()
        if line.startswith("big:1 to rel-a") and (found := MEGABYTES.search(line))
    ]
    assert any(sent < size for sent, size in totals), totals[:5]  # the bytes moved
    assert any(sent == size >= BIG / 1e6 for sent, size in totals), totals[-5:]  # up to the whole layer
    # The build's steps: FROM, COPY, then the labels batchform gives every image.
    assert any(
        re.search(r"^big: step 2/\d+ COPY blob /blob .* 2/\d+ steps", frame, re.MULTILINE)
        for frame in shown.frames
    )
    assert "big: build 1 in every target registry (layers uploaded: rel-a: 1)" in shown.screen


def test_off_a_terminal_build_and_push_print_their_plain_lines_and_no_control_character(
    local_stack, release_project
) -> None:
    # Content of its own: a layer an earlier run pushed to the same registry would not be sent again.
    (release_project / "images" / "alpha" / "build.txt").write_text(f"alpha {uuid.uuid4()}\n")
    done = subprocess.run(
        _build_push("alpha"), env=project_env(release_project), capture_output=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    for output in (done.stdout, done.stderr):
        assert not re.search(rb"[\x00-\x08\x0b-\x1f\x7f]", output), output
    assert done.stdout.decode().splitlines() == [
        "alpha:1 pushed to rel-a (1 layers uploaded)",
        "alpha: build 1 in every target registry (layers uploaded: rel-a: 1)",
    ]
    assert done.stderr.decode().splitlines() == ["alpha: building build 1", "alpha: build 1"]


@pytest.mark.usefixtures("demo_run")
def test_waiting_on_an_array_shows_one_bar_of_its_children_that_reaches_its_total() -> None:
    argv = [sys.executable, "-m", "batchform", "submit", "hello", "--account", "local"]
    # Children that take a while: a job over before its first poll would have nothing to show in place.
    argv += ["--array-size", "3", "--command", "sh -c 'sleep 5'", "--wait", "--token", uuid.uuid4().hex]
    shown = in_terminal(argv, timeout=300)

    assert shown.code == 0, shown.screen
    live = [
        line
        for frame in shown.frames
        for line in frame.splitlines()
        if " after " in line and "done (" in line
    ]
    assert live, shown.screen  # the line drawn in place: status, time, and the children's bar
    for frame in shown.frames:  # one line per job, never one per change
        assert sum(" after " in line and "done (" in line for line in frame.splitlines()) <= 1, frame
    final = [line for line in shown.screen.splitlines() if line.strip()]
    assert final[-1].endswith(": [##########] 3/3 done (3 succeeded, 0 failed, 0 running, 0 pending)"), final
    assert re.search(r": SUCCEEDED after [0-9.]+ s$", final[-2]), final
