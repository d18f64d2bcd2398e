"""What building and pushing an image is doing, told as it happens.

The docker engine streams a build's `Step N/M : ...` lines and, for a push, each layer's
`Pushing` bytes (`progressDetail: {current, total}`), `Layer already exists` or `Pushed`.
`ImageProgress` reads those chunks and tells `step` and `layer`; this base class shows nothing,
and a display (the command line's, on a terminal) overrides the two.
"""

from __future__ import annotations

import re
from typing import Any

BUILD_STEP = re.compile(r"^Step (?P<number>\d+)/(?P<steps>\d+) : (?P<text>.*)")
ALREADY_THERE = "already in the registry"


class ImageProgress:
    """Told what a build and a push are doing; shows nothing unless a subclass does."""

    def step(self, image: str, number: int, steps: int, text: str) -> None:
        """The build of `image` is at step `number` of `steps`."""

    def layer(self, where: str, layer: str, sent: int, size: int | None, note: str = "") -> None:
        """`where` (an image's build on its way to an account) has sent `sent` bytes of a layer of
        `size` bytes; `note` says what happened instead (`already in the registry`), or that it is done."""

    def build_chunk(self, image: str, chunk: dict[str, Any]) -> None:
        if found := BUILD_STEP.match(str(chunk.get("stream", ""))):
            self.step(image, int(found["number"]), int(found["steps"]), found["text"].strip())

    def push_chunk(self, where: str, chunk: dict[str, Any]) -> None:
        layer, status = chunk.get("id"), chunk.get("status", "")
        if not layer or not status:
            return
        detail = chunk.get("progressDetail") or {}
        if status == "Pushing" and "current" in detail:
            self.layer(where, layer, int(detail["current"]), detail.get("total"))
        elif status == "Layer already exists":
            self.layer(where, layer, 0, None, ALREADY_THERE)
        elif status == "Pushed":
            self.layer(where, layer, 0, None, "pushed")
