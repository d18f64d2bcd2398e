"""What terraform is doing, read from its output line by line: the plan's changes by module, the
resource an apply is working on and for how long, and the summary a person reads.

terraform's human output (`-no-color`) is parsed rather than its `-json` stream so that the full
log a run keeps stays the text terraform users know; the lines read here are those terraform
has printed the same way since 0.15: `# ADDRESS will be created`, `ADDRESS: Creating...`,
`ADDRESS: Still creating... [10s elapsed]`, `ADDRESS: Creation complete after 31s`, `Plan: ...`.
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

PLANNED = re.compile(
    r"^\s*# (?P<address>\S.*?) (?P<what>will be created|will be updated in-place|must be replaced|"
    r"will be destroyed|will be replaced, as requested)"
)
ACTIONS = {
    "will be created": "create",
    "will be updated in-place": "update",
    "must be replaced": "replace",
    "will be replaced, as requested": "replace",
    "will be destroyed": "destroy",
}
SYMBOLS = {"create": "+", "update": "~", "replace": "-/+", "destroy": "-"}
WORKING = re.compile(
    r"^(?P<address>\S.*?): (?P<verb>Creating|Modifying|Destroying|Still creating|Still modifying|"
    r"Still destroying|Creation complete|Modifications complete|Destruction complete)"
)
STARTS = {"Creating": "creating", "Modifying": "modifying", "Destroying": "destroying"}
DONE = {
    "Creation complete": "created",
    "Modifications complete": "modified",
    "Destruction complete": "destroyed",
}
SUMMARY = re.compile(r"^(Plan: .*|No changes\..*|Apply complete!.*|Destroy complete!.*)$")
ERROR = re.compile(r"^[│╷ ]*Error: (?P<message>.*)$")
SHOWN_PER_MODULE = 5  # a module's changes beyond this many are counted, not listed

Progress = Callable[[str], None]


def module_of(address: str) -> str:
    """The top-level module a resource is in (`job_queues` for module.job_queues["x"].aws_...),
    or `(root)` for one of the root configuration."""
    if not address.startswith("module."):
        return "(root)"
    name = address[len("module.") :]
    return re.split(r"[.\[]", name, maxsplit=1)[0]


@dataclass
class TerraformReport:
    """Fed terraform's lines as they come; says what it planned, what it is doing and how it ended.

    `progress`, when given, is called with one line each time the resource being worked on
    changes or its elapsed time grows: what a terminal shows in place while an apply runs.
    """

    progress: Progress | None = None
    clock: Callable[[], float] = time.monotonic
    planned: dict[str, str] = field(default_factory=dict)  # address => create/update/replace/destroy
    working: dict[str, tuple[str, float]] = field(default_factory=dict)  # address => (verb, since)
    done: Counter = field(default_factory=Counter)  # created/modified/destroyed => count
    summary: str = ""
    errors: list[str] = field(default_factory=list)
    started: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def feed(self, line: str) -> None:
        text = line.rstrip()
        if found := PLANNED.match(text):
            self.planned[found["address"]] = ACTIONS[found["what"]]
        elif found := WORKING.match(text):
            self._working(found["address"], found["verb"])
        elif SUMMARY.match(text.strip()):
            self.summary = text.strip()
        elif found := ERROR.match(text):
            self.errors.append(found["message"].strip())

    def _working(self, address: str, verb: str) -> None:
        if verb in STARTS:
            self.working[address] = (STARTS[verb], self.clock())
        elif verb in DONE:
            self.working.pop(address, None)
            self.done[DONE[verb]] += 1
        if self.progress:
            self.progress(self.now())

    def now(self) -> str:
        """One line: how far the apply is and the resource it has worked on longest."""
        total = len(self.planned)
        finished = sum(self.done.values())
        head = f"{finished}/{total} resources" if total else f"{finished} resources"
        if not self.working:
            return f"{head} done"
        address, (verb, since) = min(self.working.items(), key=lambda item: item[1][1])
        others = f" (+{len(self.working) - 1} more)" if len(self.working) > 1 else ""
        return f"{head} done; {verb} {address}, {self.clock() - since:.0f} s{others}"

    def by_module(self, resources: bool = True) -> list[str]:
        """The planned changes, grouped by top-level module: a line per module, then (`resources`)
        its resources."""
        groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for address, action in self.planned.items():
            groups[module_of(address)].append((address, action))
        lines = []
        for module in sorted(groups):
            changes = groups[module]
            counts = Counter(action for _, action in changes)
            said = ", ".join(
                f"{counts[a]} to {a}" for a in ("create", "update", "replace", "destroy") if counts[a]
            )
            lines.append(f"  {module}: {said}")
            if not resources:
                continue
            for address, action in sorted(changes)[:SHOWN_PER_MODULE]:
                lines.append(f"    {SYMBOLS[action]} {address}")
            if len(changes) > SHOWN_PER_MODULE:
                lines.append(f"    ... and {len(changes) - SHOWN_PER_MODULE} more")
        return lines

    def lines(self, what: str) -> list[str]:
        """What a person reads once terraform `what` (plan, apply, destroy) has ended."""
        if what == "plan":
            return [self.summary or "no plan summary", *self.by_module()]
        took = self.clock() - self.started
        ended = self.summary or f"terraform {what} ended"
        # What was planned is already reviewed: a line per module keeps it to one screen.
        return [f"{ended} ({_duration(took)})", *self.by_module(resources=False)]


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"
