"""What goes into an image's build context, and so into its content digest."""

from __future__ import annotations

from pathlib import Path

import pytest
from batchform.imagespec import ImageSpec, content_digest, context_files


@pytest.fixture
def context(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text("FROM busybox:1.36\nCOPY run.sh /run.sh\n")
    (tmp_path / "run.sh").write_text("echo hi\n")
    (tmp_path / "example" / "inputs").mkdir(parents=True)
    (tmp_path / "example" / "cities.csv").write_text("city\nLyon\n")
    (tmp_path / "example" / "inputs" / "more.csv").write_text("city\nLille\n")
    return tmp_path


@pytest.mark.parametrize("pattern", ["example/", "example", "exam*"])
def test_a_dockerignore_pattern_naming_a_folder_leaves_out_everything_in_it(
    context: Path, pattern: str
) -> None:
    (context / ".dockerignore").write_text(f"# not the image's\n{pattern}\n")
    files = [path.relative_to(context).as_posix() for path in context_files(context)]
    assert files == [".dockerignore", "Dockerfile", "run.sh"]


def test_files_left_out_of_the_context_do_not_change_the_images_digest(context: Path) -> None:
    (context / ".dockerignore").write_text("example/\n")
    spec = ImageSpec("check", context)
    before = content_digest(spec, {})
    (context / "example" / "cities.csv").write_text("city\nNantes\n")
    assert content_digest(spec, {}) == before
    (context / "run.sh").write_text("echo changed\n")
    assert content_digest(spec, {}) != before
