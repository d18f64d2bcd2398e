"""The package's shape: the product apart from the local stack and the development tooling.

Read from the source (every import, deferred ones included), so no test run can miss one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "scripts" / "batchform"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _imports() -> dict[str, set[str]]:
    """Each batchform module and the batchform modules it imports."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if _is_package(path) else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    stem = ".".join([*base, node.module] if node.module else base)
                else:
                    stem = node.module or ""
                # `from x import y` names the module x.y when y is one, else x.
                targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in modules else stem for a in node.names]
            else:
                continue
            found.update(t for t in targets if t in modules and t != name)
        graph[name] = found
    return graph


def _part(module: str) -> str:
    if module.startswith("batchform.localstack"):
        return "local stack"
    if module.startswith("batchform.devtools"):
        return "development tooling"
    if module.startswith("batchform.cli") or module == "batchform.__main__":
        return "command line"
    return "product"


# Which parts each part may import: the product stands alone; the command line is the shell over all.
ALLOWED = {
    "product": {"product"},
    "local stack": {"product", "local stack"},
    "development tooling": {"product", "local stack", "development tooling"},
    "command line": {"product", "local stack", "development tooling", "command line"},
}


def test_the_package_is_read_whole():
    graph = _imports()
    assert {"batchform.jobs", "batchform.localstack.emulator", "batchform.devtools.testing"} <= set(graph)
    assert "batchform.accounts" in graph["batchform.releases"]


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_each_part_imports_only_the_parts_below_it(part):
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in _imports().items()
        if _part(module) == part
        for target in targets
        if _part(target) not in ALLOWED[part]
    )
    assert not wrong, "\n".join(wrong)


def test_no_module_imports_itself_through_others():
    graph = _imports()
    cycles: set[tuple[str, ...]] = set()

    def visit(module: str, trail: list[str]) -> None:
        for target in graph[module]:
            if target in trail:
                cycle = trail[trail.index(target) :]
                first = cycle.index(min(cycle))
                cycles.add(tuple(cycle[first:] + cycle[:first]))
            elif target not in done:
                visit(target, [*trail, target])
        done.add(module)

    done: set[str] = set()
    for module in sorted(graph):
        visit(module, [module])
    assert not cycles, "\n".join(" -> ".join([*c, c[0]]) for c in sorted(cycles))


# A module does one job; one that grows past this many lines is split along its seams.
MAX_LINES = 500


def test_no_module_is_over_five_hundred_lines():
    sizes = {
        str(path.relative_to(PACKAGE.parent)): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert sizes, "no module found"
    over = sorted(f"{name}: {lines} lines" for name, lines in sizes.items() if lines > MAX_LINES)
    assert not over, "\n".join(over)
