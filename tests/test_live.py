"""The command line's live display, read off a pseudo-terminal by a terminal emulator (pyte):
lines updated in place, bars of bytes, nothing at all off a terminal, no color under NO_COLOR."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

from conftest import REPO, in_terminal

PROGRAM = textwrap.dedent(
    """
    import time
    from batchform.cli.live import image_progress, task_lines

    with task_lines() as show:
        for n in range(1, 6):
            if show:
                show("apply local", f"{n}/5 resources done")
            time.sleep(0.15)
        print("Apply complete! Resources: 5 added, 0 changed, 0 destroyed.")
    with image_progress() as progress:
        progress.step("big", 2, 2, "COPY blob /blob")
        for sent in range(0, 50_000_001, 10_000_000):
            progress.layer("big:1 to dev", "abc123", sent, 50_000_000)
            time.sleep(0.15)
        progress.layer("big:1 to dev", "def456", 0, None, "already in the registry")
        time.sleep(0.15)
    print("big:1 pushed to dev (1 layers uploaded)")
    """
)


def test_on_a_terminal_a_tasks_line_is_replaced_in_place_and_bars_count_bytes_to_the_size() -> None:
    shown = in_terminal([sys.executable, "-c", PROGRAM], timeout=60)
    assert shown.code == 0, shown.screen
    for frame in shown.frames:
        assert sum("resources done" in line for line in frame.splitlines()) <= 1, frame  # in place
    seen = {
        m.group(0) for frame in shown.frames for m in re.finditer(r"apply local: \d/5 resources done", frame)
    }
    assert "apply local: 5/5 resources done" in seen and len(seen) >= 3
    totals = {
        m.group(1)
        for frame in shown.frames
        for m in re.finditer(r"big:1 to dev .*?([0-9.]+/50\.0 MB)", frame)
    }
    assert "50.0/50.0 MB" in totals and len(totals) >= 3  # the bytes moved, up to the size
    assert any("def456 already in the registry" in frame for frame in shown.frames)
    lines = [line for line in shown.screen.splitlines() if line.strip()]
    assert lines == [  # what stays once the work is done: the printed lines, the display gone
        "Apply complete! Resources: 5 added, 0 changed, 0 destroyed.",
        "big:1 pushed to dev (1 layers uploaded)",
    ]


def test_off_a_terminal_nothing_is_drawn_and_only_the_printed_lines_remain() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=REPO, capture_output=True, timeout=60, check=True
    )
    assert done.stdout.decode().splitlines() == [
        "Apply complete! Resources: 5 added, 0 changed, 0 destroyed.",
        "big:1 pushed to dev (1 layers uploaded)",
    ]
    assert done.stderr == b""
    assert not re.search(rb"[\x00-\x08\x0b-\x1f\x7f]", done.stdout)


COLOR = re.compile(rb"\x1b\[(?:[0-9;]*;)?(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


def test_no_color_draws_in_place_without_a_color() -> None:
    import os

    colored = in_terminal([sys.executable, "-c", PROGRAM], timeout=60)
    assert COLOR.search(colored.raw)  # the bars are colored on a terminal of the usual kind
    plain = in_terminal([sys.executable, "-c", PROGRAM], env={**os.environ, "NO_COLOR": "1"}, timeout=60)
    assert plain.code == 0 and not COLOR.search(plain.raw)
    assert any("50.0/50.0 MB" in frame for frame in plain.frames)  # drawn all the same


def test_a_screen_drawn_and_erased_in_one_write_is_still_a_frame_of_the_terminal() -> None:
    # rich's last refresh and its clearing can reach the terminal together on a loaded machine.
    drawn_then_erased = r"import sys; sys.stdout.write('\r\x1b[2Kbig:1 to dev 50/50 MB\r\n\r\x1b[1A\x1b[2K')"
    shown = in_terminal([sys.executable, "-c", drawn_then_erased], timeout=60)
    assert shown.code == 0
    assert "big:1 to dev" not in shown.screen
    assert any(frame.startswith("big:1 to dev 50/50 MB") for frame in shown.frames), shown.frames
