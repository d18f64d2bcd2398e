"""What every task shares: output, one-line errors, the accounts a task is given, flag values."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from invoke import Exit

from .. import errors
from ..accounts import Account, Accounts


def echo(message: str) -> None:
    print(message, flush=True)


def err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Report a UserError as one line on stderr and exit with its code; change nothing else.

    A FieldError is reported by the flags that set its fields, as the user typed them.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except errors.UserError as exc:
            # Messages quote what services answered, which may hold line breaks: one line anyway.
            from .values import message as flag_message  # only on an error: it imports the jobs package

            message = " ".join(part.strip() for part in flag_message(exc).splitlines() if part.strip())
            raise Exit(f"error: {message}", code=exc.exit_code) from None

    return wrapper


def select_accounts(names: list[str] | None) -> list[Account]:
    return Accounts().select(names or None)


ACCOUNT_HELP = "account name or alias (repeatable; 'all' for every account; default: the default account)"


def one_account(account: str | None) -> Account:
    return select_accounts([account] if account is not None else None)[0]


def seconds(flag: str, value: str | float | None) -> float | None:
    """A number of seconds given on the command line (invoke hands it over as text), or None."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise errors.UserError(f"{flag} {str(value)!r}: must be a positive number of seconds")
    return seconds


def for_accounts(
    names: list[str] | None,
    action: Callable[[Account, Callable[[str], None]], Any],
    out: Callable[[str], None] = echo,
) -> list[Any]:
    """Run action per account: one account streams plainly, several run in parallel with a prefix.

    `out` takes the lines (standard error where standard output is for JSON)."""
    accounts = select_accounts(names)
    if len(accounts) == 1:
        return [action(accounts[0], out)]

    def run(account: Account) -> Any:
        return action(account, lambda line: out(f"[{account.name}] {line}"))

    with ThreadPoolExecutor(max_workers=min(4, len(accounts))) as pool:
        return list(pool.map(run, accounts))


def _check_rendered(names: list[str] | None) -> None:
    from ..releases import Releases

    releases = Releases()
    for target in select_accounts(names):
        releases.ensure_rendered(target.name)
