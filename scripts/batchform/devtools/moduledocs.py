"""Generate and check the Inputs/Outputs tables of the Terraform modules' READMEs.

Each module README carries a generated section between two markers::

    <!-- BEGIN_TF_DOCS -->
    ## Inputs
    ...
    ## Outputs
    ...
    <!-- END_TF_DOCS -->

The section is rendered from the module's ``variables.tf`` and ``outputs.tf`` (parsed with
python-hcl2), so the tables cannot drift from the code::

    python -m batchform.devtools.moduledocs modules/*            # rewrite stale READMEs
    python -m batchform.devtools.moduledocs --check modules/*    # exit 1 naming each stale README
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hcl2

__all__ = [
    "BEGIN_MARKER",
    "END_MARKER",
    "check_readme",
    "main",
    "render_tables",
    "update_readme",
]

BEGIN_MARKER = "<!-- BEGIN_TF_DOCS -->"
END_MARKER = "<!-- END_TF_DOCS -->"

_MARKERS_RE = re.compile(re.escape(BEGIN_MARKER) + r".*?" + re.escape(END_MARKER), re.DOTALL)
_INDENT = "  "


def _load_hcl(path: Path) -> dict[str, Any]:
    """Parse an HCL file into python-hcl2's dictionary form with plain (unquoted) strings.

    python-hcl2 >= 8 keeps string quotes unless asked otherwise; older versions strip them
    and do not know ``SerializationOptions``.
    """
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8")
    try:
        from hcl2.utils import SerializationOptions
    except ImportError:  # python-hcl2 < 8
        return hcl2.loads(text)
    options = SerializationOptions(
        with_comments=False, explicit_blocks=False, strip_string_quotes=True, preserve_heredocs=False
    )
    return hcl2.loads(text, serialization_options=options)


_HEREDOC_RE = re.compile(r"\A<<(-?)([A-Za-z_][A-Za-z0-9_]*)\n(.*?)\n?[ \t]*\2\s*\Z", re.DOTALL)


def _heredoc_text(value: str) -> str:
    """Return the text of a heredoc kept verbatim by the parser (``<<EOT``/``<<-EOT``), else ``value``."""
    match = _HEREDOC_RE.match(value)
    if match is None:
        return value
    body = match.group(3)
    if match.group(1):  # <<- strips the common leading white space
        body = textwrap.dedent(body)
    return body


def _blocks(parsed: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    """Return ``(label, body)`` for every ``kind`` block (``variable`` or ``output``), sorted by label."""
    found: list[tuple[str, dict[str, Any]]] = []
    for entry in parsed.get(kind, []):
        for label, body in entry.items():
            found.append((label.strip('"'), body))
    return sorted(found, key=lambda item: item[0])


def _unwrap(expr: str) -> str:
    """Strip python-hcl2's ``${...}`` wrapper from an expression."""
    if expr.startswith("${") and expr.endswith("}"):
        return expr[2:-1]
    return expr


def _split_top_level(body: str) -> list[str]:
    """Split ``body`` on commas that are not nested in brackets or strings."""
    parts: list[str] = []
    depth = 0
    in_string = False
    escaped = False
    current: list[str] = []
    for char in body:
        if in_string:
            current.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    tail = "".join(current).strip()
    if tail:
        parts.append(tail)
    return parts


def _matching_brace(text: str, start: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``start`` (strings are skipped)."""
    depth = 0
    in_string = False
    escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"unbalanced braces in type expression: {text!r}")


def format_type(expr: str, level: int = 0) -> str:
    """Lay out a one-line HCL type expression the way ``terraform fmt`` would.

    Object attribute lists (``{a = x, b = y}``) are broken onto indented lines with aligned
    ``=`` signs; everything else stays on one line, so ``map(string)`` is unchanged.
    """
    out: list[str] = []
    index = 0
    while index < len(expr):
        char = expr[index]
        if char == "{":
            end = _matching_brace(expr, index)
            inner = expr[index + 1 : end].strip()
            if not inner:
                out.append("{}")
            else:
                attributes = []
                for item in _split_top_level(inner):
                    name, _, value = item.partition("=")
                    attributes.append((name.strip(), value.strip()))
                width = max(len(name) for name, _ in attributes)
                pad = _INDENT * (level + 1)
                lines = [
                    f"{pad}{key.ljust(width)} = {format_type(value, level + 1)}" for key, value in attributes
                ]
                out.append("{\n" + "\n".join(lines) + "\n" + _INDENT * level + "}")
            index = end + 1
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _hcl_literal(value: Any) -> str:
    """Render a default value (as parsed by python-hcl2) back to HCL literal syntax."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        if value.startswith("${") and value.endswith("}"):
            return _unwrap(value)
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_hcl_literal(item) for item in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = ", ".join(f"{key} = {_hcl_literal(item)}" for key, item in value.items())
        return "{ " + items + " }"
    return str(value)


def _code_cell(text: str) -> str:
    """A table cell holding code: inline backticks, or ``<pre>`` when it spans several lines."""
    if "\n" in text:
        return "<pre>" + html.escape(text, quote=False).replace("\n", "<br/>") + "</pre>"
    return "`" + text.replace("|", "\\|") + "`"


def _text_cell(text: str) -> str:
    """A table cell holding prose: one line, pipes escaped, ``<``/``>`` escaped outside code spans."""
    pieces = _heredoc_text(text).strip().split("`")
    for position in range(0, len(pieces), 2):  # even positions are outside backticks
        pieces[position] = html.escape(pieces[position], quote=False)
    joined = "`".join(pieces)
    joined = re.sub(r"\s*\n\s*", " ", joined)
    return joined.replace("|", "\\|")


def _render_inputs(variables: list[tuple[str, dict[str, Any]]]) -> list[str]:
    lines = [
        "## Inputs",
        "",
        "| Name | Description | Type | Default | Required |",
        "|------|-------------|------|---------|:--------:|",
    ]
    required_first = sorted(variables, key=lambda item: ("default" in item[1], item[0]))
    for name, body in required_first:
        type_expr = format_type(_unwrap(str(body.get("type", "any"))))
        has_default = "default" in body
        default = _code_cell(_hcl_literal(body["default"])) if has_default else "n/a"
        lines.append(
            f'| <a name="input_{name}"></a> [{name}](#input_{name}) '
            f"| {_text_cell(str(body.get('description', '')))} "
            f"| {_code_cell(type_expr)} "
            f"| {default} "
            f"| {'no' if has_default else 'yes'} |"
        )
    if not variables:
        lines.append("| _none_ | | | | |")
    return lines


def _render_outputs(outputs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    lines = ["## Outputs", "", "| Name | Description |", "|------|-------------|"]
    for name, body in outputs:
        lines.append(
            f'| <a name="output_{name}"></a> [{name}](#output_{name}) '
            f"| {_text_cell(str(body.get('description', '')))} |"
        )
    if not outputs:
        lines.append("| _none_ | |")
    return lines


def render_tables(module_dir: str | Path) -> str:
    """Render the Markdown Inputs and Outputs tables of the module in ``module_dir``.

    Required inputs come first, then optional ones, each group sorted by name.
    """
    module = Path(module_dir)
    variables = _blocks(_load_hcl(module / "variables.tf"), "variable")
    outputs = _blocks(_load_hcl(module / "outputs.tf"), "output")
    return "\n".join([*_render_inputs(variables), "", *_render_outputs(outputs)]) + "\n"


def _generated_section(module_dir: Path) -> str:
    return f"{BEGIN_MARKER}\n{render_tables(module_dir)}{END_MARKER}"


def _readme(module_dir: Path) -> Path:
    return module_dir / "README.md"


def update_readme(module_dir: str | Path) -> bool:
    """Rewrite the generated section of the module's README.md; return whether the file changed.

    Only the text between the markers is replaced. Raises ``ValueError`` when the README
    or its markers are missing.
    """
    module = Path(module_dir)
    readme = _readme(module)
    if not readme.is_file():
        raise ValueError(f"{readme}: README.md not found")
    current = readme.read_text(encoding="utf-8")
    if not _MARKERS_RE.search(current):
        raise ValueError(f"{readme}: markers {BEGIN_MARKER} / {END_MARKER} not found")
    section = _generated_section(module)
    updated = _MARKERS_RE.sub(lambda _match: section, current, count=1)
    if updated == current:
        return False
    readme.write_text(updated, encoding="utf-8")
    return True


def check_readme(module_dir: str | Path) -> list[str]:
    """Return the problems with the module's README.md tables (an empty list when in sync)."""
    module = Path(module_dir)
    readme = _readme(module)
    if not readme.is_file():
        return [f"{readme}: README.md not found"]
    current = readme.read_text(encoding="utf-8")
    match = _MARKERS_RE.search(current)
    if match is None:
        return [f"{readme}: markers {BEGIN_MARKER} / {END_MARKER} not found"]
    if match.group(0) != _generated_section(module):
        return [
            f"{readme}: Inputs/Outputs tables are stale; "
            f"run `python -m batchform.devtools.moduledocs {module}`"
        ]
    return []


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point: update (default) or ``--check`` the given module directories."""
    parser = argparse.ArgumentParser(
        prog="python -m batchform.devtools.moduledocs",
        description="Generate or check the Inputs/Outputs tables in Terraform module READMEs.",
    )
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if any README is stale")
    parser.add_argument("modules", nargs="+", type=Path, help="module directories (containing variables.tf)")
    args = parser.parse_args(argv)

    status = 0
    for module in args.modules:
        if not (module / "variables.tf").is_file() and not (module / "outputs.tf").is_file():
            print(f"{module}: not a Terraform module (no variables.tf or outputs.tf)", file=sys.stderr)
            status = 1
            continue
        if args.check:
            for problem in check_readme(module):
                print(problem, file=sys.stderr)
                status = 1
            continue
        try:
            changed = update_readme(module)
        except ValueError as error:
            print(error, file=sys.stderr)
            status = 1
            continue
        print(f"{_readme(module)}: {'updated' if changed else 'up to date'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
