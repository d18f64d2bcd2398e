"""EventBridge Scheduler's rules on a schedule: its expression (cron, rate, at) and its time zone.

Checked at render, before terraform and AWS see them, and by the emulator, which refuses what
CreateSchedule refuses. Each check returns what is wrong, in words that follow the field's name,
or None; the caller names the field its own way.

* `cron(minutes hours day-of-month month day-of-week year)`: six fields; minutes 0-59, hours
  0-23, day-of-month 1-31, month 1-12 or JAN-DEC, day-of-week 1-7 or SUN-SAT, year 1970-2199;
  `,` `-` `*` `/` everywhere, `?` `L` `W` in day-of-month, `?` `L` `#` in day-of-week. "You can't
  specify the Day-of-month and Day-of-week fields in the same cron expression. If you specify a
  value or a * (asterisk) in one of the fields, you must use a ? (question mark) in the other";
* `rate(N unit)`: N a whole number of at least 1, the unit minute, hour or day, singular for 1
  and plural otherwise ("If the value is equal to 1, then the unit must be singular");
* `at(yyyy-mm-ddThh:mm:ss)`: one run, at that time of the schedule's time zone;
* the time zone: a name of the IANA time zone database (Europe/Paris, UTC).
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from typing import Any

MAX_EXPRESSION = 256  # ScheduleExpression
MAX_TIMEZONE = 50  # ScheduleExpressionTimezone
DEFAULT_TIMEZONE = "UTC"
CRON = re.compile(r"cron\((?P<fields>[^()]*)\)")
RATE = re.compile(r"rate\((?P<value>[0-9]+) (?P<unit>[a-z]+)\)")
AT = re.compile(r"at\((?P<when>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})\)")
RATE_UNITS = ("minute", "hour", "day")
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# Files of the time zone database that name no zone.
NOT_ZONES = frozenset({"Factory", "localtime", "posixrules"})


@dataclass(frozen=True)
class CronField:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # JAN..DEC or SUN..SAT, numbered from `low`
    question: bool = False  # `?`: no value (day-of-month, day-of-week)


CRON_FIELDS = (
    CronField("minutes", 0, 59),
    CronField("hours", 0, 23),
    CronField("day-of-month", 1, 31, question=True),
    CronField("month", 1, 12, MONTHS),
    CronField("day-of-week", 1, 7, WEEKDAYS, question=True),
    CronField("year", 1970, 2199),
)
_NUMBER = re.compile(r"[0-9]{1,4}")


def _value(field: CronField, text: str) -> int | None:
    """A single value of a field, as a number in its range, or None."""
    if text.upper() in field.names:
        return field.low + field.names.index(text.upper())
    if _NUMBER.fullmatch(text) and field.low <= int(text) <= field.high:
        return int(text)
    return None


def _item_problem(field: CronField, item: str) -> str | None:
    """One comma-separated part of a field: a value, a range, either with /increment, or `*`."""
    special = _special_problem(field, item)
    if special is not False:
        return special
    base, slash, step = item.partition("/")
    if slash and not (_NUMBER.fullmatch(step) and int(step) >= 1):
        return f"{item!r}: the increment after / must be a whole number of at least 1"
    if base == "*":
        return None
    start, dash, end = base.partition("-")
    for part in (start, end) if dash else (start,):
        if _value(field, part) is None:
            return f"{part!r} is no {field.name} value ({_range(field)})"
    return None


def _special_problem(field: CronField, item: str) -> str | None | bool:
    """`L`, `nW` (day-of-month), `L`, `nL`, `n#k` (day-of-week): None when it is one, a problem
    when it is one written wrong, False when the item is none of them."""
    if field.name == "day-of-month":
        if item == "L":
            return None
        if item.endswith("W"):
            found = _value(field, item[:-1])
            return None if found is not None else f"{item!r}: W follows a day 1-31 (15W)"
    if field.name == "day-of-week":
        if item == "L":
            return None
        if item.endswith("L"):
            found = _value(field, item[:-1])
            return None if found is not None else f"{item!r}: L follows a day of the week (6L)"
        if "#" in item:
            day, _, nth = item.partition("#")
            if _value(field, day) is None or nth not in ("1", "2", "3", "4", "5"):
                return f"{item!r}: # takes a day of the week and its week of the month, 1-5 (3#2)"
            return None
    if any(ch in item for ch in "LW#?"):
        return f"{item!r}: {field.name} takes no {''.join(ch for ch in 'LW#?' if ch in item)}"
    return False


def _range(field: CronField) -> str:
    named = f" or {field.names[0]}-{field.names[-1]}" if field.names else ""
    return f"{field.low}-{field.high}{named}"


def cron_problem(fields_text: str) -> str | None:
    """What is wrong with the inside of `cron(...)`, or None."""
    fields = fields_text.split(" ")
    if len(fields) != len(CRON_FIELDS) or "" in fields:
        names = " ".join(field.name for field in CRON_FIELDS)
        return f"cron takes 6 fields, one space apart ({names}), got {len(fields_text.split())}"
    for field, text in zip(CRON_FIELDS, fields, strict=True):
        if text == "?":
            if not field.question:
                return f"{field.name} cannot be ? (only day-of-month or day-of-week can)"
            continue
        for item in text.split(","):
            if problem := _item_problem(field, item):
                return f"{field.name} {problem}"
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        return (
            "exactly one of day-of-month and day-of-week must be ?: EventBridge Scheduler takes a value "
            f"or * in one and ? in the other (got {day_of_month} and {day_of_week})"
        )
    return None


def rate_problem(value: str, unit: str) -> str | None:
    number = int(value)
    if number < 1 or value.startswith("0"):
        return f"the rate must be a whole number of at least 1, got {value}"
    singular = unit.removesuffix("s")
    if singular not in RATE_UNITS:
        return f"the unit must be minute(s), hour(s) or day(s), got {unit}"
    wanted = singular if number == 1 else f"{singular}s"
    if unit != wanted:
        return f"the unit is singular for 1 and plural otherwise: rate({value} {wanted})"
    return None


def expression_problem(expression: Any) -> str | None:
    """What EventBridge Scheduler would refuse of a schedule expression, or None."""
    if not isinstance(expression, str):
        return f"must be text such as cron(0 3 * * ? *) or rate(1 day), got {expression!r}"
    if not 1 <= len(expression) <= MAX_EXPRESSION:
        return f"must be 1-{MAX_EXPRESSION} characters, got {len(expression)}"
    if found := CRON.fullmatch(expression):
        problem = cron_problem(found["fields"])
    elif found := RATE.fullmatch(expression):
        problem = rate_problem(found["value"], found["unit"])
    elif found := AT.fullmatch(expression):
        try:
            datetime.fromisoformat(found["when"])
            problem = None
        except ValueError:
            problem = f"at({found['when']}) is no date and time"
    else:
        return (
            "must be cron(minutes hours day-of-month month day-of-week year), rate(N minute|minutes|"
            f"hour|hours|day|days) or at(yyyy-mm-ddThh:mm:ss), got {expression!r}"
        )
    return None if problem is None else f"{expression}: {problem}"


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - NOT_ZONES


def timezone_problem(name: Any) -> str | None:
    """What EventBridge Scheduler would refuse of a time zone, or None."""
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_TIMEZONE or name not in _zones():
        return f"must be a time zone of the IANA database such as Europe/Paris or UTC, got {name!r}"
    return None
