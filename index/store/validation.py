"""The one set of rules for a design's registration data, for create and update, CLI and service alike."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from index.errors import InvalidDesignData

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""C0 and C1 control characters (ESC, BEL, NUL, CR ...), DEL, and the bidirectional marks and
overrides that reorder text on screen: none belongs in a name, and each can rewrite a terminal."""
TEXT_FIELDS = ("design_id", "registration_number", "title", "owner", "locarno_class")
DATE_FIELDS = ("valid_from", "valid_until")


def control_problem(label: str, value: str | None) -> str | None:
    """Return what is wrong with a text that holds a control character (None when it holds none)."""
    if value is None:
        return None
    found = CONTROL.search(value)
    if found is None:
        return None
    return f"{label} holds the control character U+{ord(found.group()):04X}: send plain text"


def refuse_control(label: str, value: str | None) -> None:
    """Raise InvalidDesignData when `value` holds a control character."""
    problem = control_problem(label, value)
    if problem:
        raise InvalidDesignData(problem)


def design_problems(values: Mapping[str, object], require_number: bool) -> list[str]:
    """Return every rule a design's registration data breaks (an empty list when it is valid).

    `values` holds the fields by name (dates as `date` or ISO strings); fields not present are not
    checked, except `registration_number` with `require_number`. Rules: no control characters in
    any text, a registration number when required (never removed), real dates, and `valid_until`
    not before `valid_from`.
    """
    problems = []
    for name in TEXT_FIELDS:
        value = values.get(name)
        problem = control_problem(name, value) if isinstance(value, str) else None
        if problem:
            problems.append(problem)
    number = values.get("registration_number")
    wanted = require_number or "registration_number" in values
    if wanted and (not isinstance(number, str) or not number.strip()):
        problems.append("registration_number is required and cannot be removed")
    dates: dict[str, date] = {}
    for name in DATE_FIELDS:
        value = values.get(name)
        if isinstance(value, date):
            dates[name] = value
        elif isinstance(value, str):
            try:
                dates[name] = date.fromisoformat(value)
            except ValueError:
                problems.append(f"{name} is not a date such as 2026-05-01: {value!r}")
    if "valid_from" in dates and "valid_until" in dates and dates["valid_until"] < dates["valid_from"]:
        problems.append(
            "valid_until must not be before valid_from"
            f" ({dates['valid_until']} is before {dates['valid_from']})"
        )
    return problems


def check_design(values: Mapping[str, object], require_number: bool) -> None:
    """Raise InvalidDesignData naming every rule `values` breaks (see design_problems)."""
    problems = design_problems(values, require_number)
    if problems:
        raise InvalidDesignData("; ".join(problems))
