"""Errors that reach the user as one line.

A `UserError` means the input was wrong or the world is not as the command needs it; the
command line prints its message alone (no traceback) and exits non-zero. Anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class UserError(Exception):
    """A problem the user can fix; `str()` is the whole one-line message."""

    exit_code = 2


class ConfigError(UserError):
    """A configuration file or value is invalid; the message names the field."""


class FieldError(UserError):
    """A request's field holds a value it must not: the message names fields, not flags.

    `detail` is the whole message, naming each field as a `{field}` placeholder, e.g.
    `"{depends_on} {text}: {kind} needs {array_size}"`. The values it quotes (`text`, `kind`)
    are given as keywords: they are put in as they are, never read as placeholders, so what
    the user typed cannot pose as a field. `field` is the field (or fields) the error is
    about; `fields` also holds the others the message names.

    `str()` names each field as the domain does (`array_size`); `render(names)` by the
    caller's names (the command line passes its flags), a field it has no name for as itself.
    """

    def __init__(self, field: str | Sequence[str], detail: str, /, **values: object) -> None:
        about = (field,) if isinstance(field, str) else tuple(field)
        named = [name for name in _PLACEHOLDER.findall(detail) if name not in values]
        self.fields: tuple[str, ...] = tuple(dict.fromkeys([*about, *named]))
        self.field = about[0]
        self.detail = detail
        self.values = values
        super().__init__(self.render({}))

    def render(self, names: Mapping[str, str]) -> str:
        """The message with each field named by `names` (the domain's own name when absent)."""

        def put(match: re.Match[str]) -> str:
            key = match[1]
            if key in self.values:
                return str(self.values[key])
            return names.get(key, key) if key in self.fields else match[0]

        # One pass: text put in for a placeholder is not searched for placeholders again.
        return _PLACEHOLDER.sub(put, self.detail)


class ComponentMissing(UserError):
    """A component the command needs (docker engine, registry binary, ...) is not available."""

    exit_code = 3
