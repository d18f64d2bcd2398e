"""Live progress on a terminal, drawn by rich; nothing at all anywhere else.

The package tells progress as events (a line of text per task, the bytes of a layer, a build's
step); this module alone turns them into a display updated in place. When standard output is
not a terminal (a CI log, a pipe, a program reading `--json`), nothing here draws anything, so
the plain lines the commands print are exactly what they were. rich respects NO_COLOR itself.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from ..imageprogress import ImageProgress

Line = Callable[[str, str], None]  # (task name, its line now)


def on_terminal() -> bool:
    """Whether progress may be drawn in place: standard output is a terminal that can move the cursor."""
    return sys.stdout.isatty() and os.environ.get("TERM", "") != "dumb"


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


@contextmanager
def task_lines(enabled: bool | None = None) -> Iterator[Line | None]:
    """A line per task, each replaced in place when the task says more; the lines printed meanwhile
    (echo) scroll above them. The lines vanish at the end: what stays is what the command printed.
    None off a terminal: there, the commands print what they always have."""
    if not (on_terminal() if enabled is None else enabled):
        yield None
        return
    from rich.live import Live
    from rich.text import Text

    lines: dict[str, str] = {}
    lock = threading.Lock()

    def render() -> Any:
        with lock:
            shown = "\n".join(f"{name}: {line}" for name, line in lines.items())
        return Text(shown, no_wrap=True, overflow="ellipsis")

    with Live(
        render(), console=_console(), refresh_per_second=4, transient=True, redirect_stdout=True
    ) as live:

        def update(name: str, line: str) -> None:
            with lock:
                lines[name] = line
            live.update(render(), refresh=True)

        yield update


class ImageBars(ImageProgress):
    """A bar per build (its steps), per layer on its way (bytes sent of its size, the rate), and a
    total per image and account. A layer the registry already has says so instead of counting."""

    def __init__(self, progress: Any):
        self.progress = progress
        self.tasks: dict[tuple[str, str], Any] = {}
        self.layers: dict[str, dict[str, tuple[int, int]]] = {}  # where => layer => (sent, size)
        self.lock = threading.Lock()

    def _task(self, key: tuple[str, str], description: str, counts_bytes: bool = True) -> Any:
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(description, total=None, counts_bytes=counts_bytes)
        return self.tasks[key]

    def step(self, image: str, number: int, steps: int, text: str) -> None:
        with self.lock:
            task = self._task((image, "build"), image, counts_bytes=False)
            shown = f"{image}: step {number}/{steps} {text[:40]}"
            self.progress.update(task, description=shown, total=steps, completed=number)

    def layer(self, where: str, layer: str, sent: int, size: int | None, note: str = "") -> None:
        with self.lock:
            known = self.layers.setdefault(where, {})
            task = self._task((where, layer), f"  {layer}")
            if note:
                whole = known.get(layer, (0, 0))[1]
                known[layer] = (whole, whole)
                self.progress.update(
                    task, description=f"  {layer} {note}", total=whole or 1, completed=whole or 1
                )
            else:
                known[layer] = (sent, size or sent)
                self.progress.update(task, total=size or None, completed=sent)
            total = self._task((where, ""), where)
            sent_all, size_all = sum(s for s, _ in known.values()), sum(z for _, z in known.values())
            self.progress.update(total, description=where, total=size_all or None, completed=sent_all)


def image_progress(enabled: bool | None = None) -> Any:
    """A context manager giving what `ImageBuilder` tells its progress to: ImageBars on a terminal,
    else the package's ImageProgress, which shows nothing."""
    if not (on_terminal() if enabled is None else enabled):
        return nullcontext(ImageProgress())
    return _image_bars()


@contextmanager
def _image_bars() -> Iterator[ImageBars]:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TransferSpeedColumn,
    )
    from rich.table import Column
    from rich.text import Text

    class Amount(ProgressColumn):
        """Bytes sent of the size and the rate for a layer or a total; steps done for a build."""

        def __init__(self) -> None:
            super().__init__(table_column=Column(no_wrap=True))
            self.sizes, self.rate = DownloadColumn(), TransferSpeedColumn()

        def render(self, task: Any) -> Any:
            if not task.fields.get("counts_bytes", True):
                return Text(f"{task.completed:.0f}/{task.total:.0f} steps" if task.total else "")
            return Text.assemble(self.sizes.render(task), " ", self.rate.render(task))

    columns = (TextColumn("{task.description}"), BarColumn(), Amount())
    with Progress(
        *columns, console=_console(), transient=True, redirect_stdout=True, redirect_stderr=True
    ) as progress:
        yield ImageBars(progress)
