"""HCL literals: the one writer of a value into a terraform file, escaped so that no input adds HCL.

Strings are quoted with HCL's escapes (the JSON ones it shares, \\uNNNN for every other control
character) and template sequences (`${`, `%{`) doubled, so nothing is interpolated; a map key
that is not a plain identifier, or is a word HCL gives a meaning, is quoted too.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from typing import Any

from .errors import ConfigError

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")  # used with fullmatch: no trailing newline slips in
# Words that mean something at the start of an HCL expression: such keys are always quoted.
HCL_KEYWORDS = {"for", "in", "if", "else", "endif", "endfor", "null", "true", "false"}
# HCL string escapes: the JSON ones HCL shares, and \uNNNN for every other control character.
HCL_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def hcl(value: Any) -> str:
    """`value` as an HCL literal. Strings are quoted and `${`/`%{` escaped, so nothing is interpolated."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{value!r} is not a number terraform accepts")
        return json.dumps(value)
    if isinstance(value, (datetime.date, datetime.time)):
        value = value.isoformat()  # YAML reads 2024-01-01 as a date; terraform wants the text
    if isinstance(value, str):
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):  # a YAML "\ud800": no UTF-8 file can hold it
            raise ConfigError(f"{value!r} is not valid Unicode text (it holds a surrogate code point)")
        escaped = "".join(
            HCL_ESCAPES.get(ch) or (f"\\u{ord(ch):04x}" if ord(ch) < 0x20 or ord(ch) == 0x7F else ch)
            for ch in value
        )
        return '"' + escaped.replace("${", "$${").replace("%{", "%%{") + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(hcl(item) for item in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        lines = [f"{_hcl_key(str(key))} = {hcl(item)}" for key, item in value.items()]
        return "{\n" + "\n".join(lines) + "\n}"
    raise ConfigError(f"cannot write a {type(value).__name__} as a terraform value")


def _hcl_key(key: str) -> str:
    return key if IDENTIFIER.fullmatch(key) and key not in HCL_KEYWORDS else hcl(key)
