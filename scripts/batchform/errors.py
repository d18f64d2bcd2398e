"""Errors that reach the user as one line.

A `UserError` means the input was wrong or the world is not as the command needs it; the
command line prints its message alone (no traceback) and exits non-zero. Anything else
is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A problem the user can fix; `str()` is the whole one-line message."""

    exit_code = 2


class ConfigError(UserError):
    """A configuration file or value is invalid; the message names the field."""


class ComponentMissing(UserError):
    """A component the command needs (docker engine, registry binary, ...) is not available."""

    exit_code = 3
