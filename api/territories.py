"""ISO 3166-1 alpha-2 country codes, checked against Unicode CLDR's territory list (through Babel)."""

from __future__ import annotations

from functools import cache

from babel import Locale

from index.errors import InvalidInput

NOT_ISO = frozenset(
    {"AC", "CP", "CQ", "DG", "EA", "IC", "TA", "EU", "EZ", "QO", "UN", "XA", "XB", "XK", "ZZ"}
)
"""CLDR territories with two letters that ISO 3166-1 does not assign to a country."""


@cache
def iso_codes() -> frozenset[str]:
    """Return the 249 officially assigned ISO 3166-1 alpha-2 codes."""
    names = Locale("en").territories
    return frozenset(c for c in names if len(c) == 2 and c.isalpha() and c not in NOT_ISO)


def parse_territories(text: str) -> list[str]:
    """Return the codes of a list such as `CN, fr DE` upper-cased, de-duplicated, in order.

    Raises ValueError naming the first code that is not an ISO 3166 alpha-2 country code.
    """
    codes: list[str] = []
    for raw in text.replace(",", " ").replace(";", " ").split():
        code = raw.upper()
        if code not in iso_codes():
            raise ValueError(f"{raw!r} is not a two-letter country code (ISO 3166), such as CN, FR or US")
        if code not in codes:
            codes.append(code)
    return codes


def country_code(text: str | None) -> str | None:
    """Return one country code (blank: None). Raises InvalidInput when it is not ISO 3166 alpha-2."""
    if text is None or not text.strip():
        return None
    try:
        codes = parse_territories(text)
    except ValueError as exc:
        raise InvalidInput(f"destination: {exc}") from exc
    if len(codes) != 1:
        raise InvalidInput("destination: give one two-letter country code, such as CN")
    return codes[0]
