"""Run the benchmarks: the project against the reference ways, in one run, on a private local stack.

    python bench/run.py [--quick] [--only NAME ...]

For each benchmark one line `name: ours X, reference Y, ratio Z` (ratio = ours / reference),
then indented details. `--quick` uses small sizes: it proves the benchmarks work (CI runs it
once) and asserts nothing about time. Each benchmark also runs alone: `python bench/NAME.py`.

From Python (the `invoke bench` task): `bench.run.run(quick, only, echo)` returns the results;
`bench.run.main(argv)` also prints them and returns an exit code.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import fanout, follow, images, logs, plan, submit, ui
from bench.stack import Echo, PrivateStack, Result, echo_line

Benchmark = Callable[[PrivateStack, bool, Echo], Result]

BENCHMARKS: dict[str, Benchmark] = {
    "submit": submit.bench,
    "fanout": fanout.bench,
    "follow": follow.bench,
    "logs": logs.bench,
    "images": images.bench,
    "plan": plan.bench,
    "ui": ui.bench,
}


class BenchmarkFailed(Exception):
    """One or more benchmarks raised; the others' results are in `results`."""

    def __init__(self, failed: list[str], results: list[Result]):
        super().__init__(f"benchmark(s) failed: {', '.join(failed)}")
        self.failed, self.results = failed, results


def run(quick: bool = False, only: list[str] | None = None, echo: Echo = echo_line) -> list[Result]:
    """Run the chosen benchmarks (default: all) on one private stack; their results, in order.

    Each result is echoed as soon as it is measured. Raises ValueError for an unknown name and
    BenchmarkFailed when a benchmark raised (after running the others).
    """
    names = list(dict.fromkeys(only or BENCHMARKS))
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        raise ValueError(f"unknown benchmark(s) {', '.join(unknown)} (known: {', '.join(BENCHMARKS)})")
    results: list[Result] = []
    failed: list[str] = []
    with PrivateStack(echo) as stack:
        for name in names:
            started = time.monotonic()
            try:
                result = BENCHMARKS[name](stack, quick, echo)
            except Exception:  # noqa: BLE001 - reported; the other benchmarks still run
                failed.append(name)
                echo(f"# {name} failed:")
                for line in traceback.format_exc().rstrip().splitlines():
                    echo(f"#   {line}")
                continue
            results.append(result)
            for line in result.lines():
                echo(line)
            echo(f"# {name} took {time.monotonic() - started:.0f} s")
    if failed:
        raise BenchmarkFailed(failed, results)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: proves it works, in little time")
    parser.add_argument(
        "--only",
        action="append",
        choices=list(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        run(args.quick, args.only, echo_line)
    except BenchmarkFailed as exc:
        echo_line(f"error: {exc}")
        return 1
    echo_line(f"# all done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
