"""Legal status of a registered design on a date, and the verdict it allows.

A photo can only be a `match` of a design that is in force on the inspection date (and covers the
shipment's destination, when both the design's territories and the destination are known): a
look-alike of an expired, not yet valid or withdrawn design, or of one registered elsewhere, is at
most `review`, so that an inspector never acts on a right that does not hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from enum import StrEnum

from index.matching.verdict import Thresholds, Verdict
from index.store.registry import DesignRecord

_RANK = {Verdict.NO_MATCH: 0, Verdict.REVIEW: 1, Verdict.MATCH: 2}


class LegalStatus(StrEnum):
    """Whether a design's registration holds on a date."""

    IN_FORCE = "in_force"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    WITHDRAWN = "withdrawn"


def today() -> date:
    """Return today's date in UTC (the date inspections are recorded under)."""
    return datetime.now(UTC).date()


def day_of(timestamp: str) -> date:
    """Return the date of an ISO 8601 timestamp or date (as stored: `2026-12-01T21:40:00+00:00`)."""
    return date.fromisoformat(timestamp[:10])


def legal_status(design: DesignRecord, on: date) -> LegalStatus:
    """Return the status of a design's registration on `on` (validity bounds are inclusive)."""
    if design.withdrawn_at is not None and day_of(design.withdrawn_at) <= on:
        return LegalStatus.WITHDRAWN
    if design.valid_from is not None and on < day_of(design.valid_from):
        return LegalStatus.NOT_YET_VALID
    if design.valid_until is not None and on > day_of(design.valid_until):
        return LegalStatus.EXPIRED
    return LegalStatus.IN_FORCE


def territories_of(design: DesignRecord) -> list[str]:
    """Return the ISO 3166 alpha-2 codes a design's registration covers (empty: not given)."""
    return [code for code in (design.territories or "").split(",") if code]


def covers(design: DesignRecord, destination: str | None) -> bool | None:
    """Return whether the design covers the destination; None when either is not known."""
    territories = territories_of(design)
    if not territories or not destination:
        return None
    return destination.upper() in territories


def enforceable(design: DesignRecord, on: date, destination: str | None) -> bool:
    """Return whether a look-alike of this design may be called a `match` on `on` for `destination`."""
    return legal_status(design, on) is LegalStatus.IN_FORCE and covers(design, destination) is not False


def design_verdict(
    design: DesignRecord, score: float, thresholds: Thresholds, on: date, destination: str | None
) -> Verdict:
    """Return the verdict of one design's score, capped at `review` when the design is not enforceable."""
    verdict = thresholds.verdict(score)
    if verdict is Verdict.MATCH and not enforceable(design, on, destination):
        return Verdict.REVIEW
    return verdict


def legal_verdict(
    matches: Iterable[tuple[DesignRecord, float]], thresholds: Thresholds, on: date, destination: str | None
) -> Verdict:
    """Return the verdict of a photo's matches: the best per-design verdict, each capped at `review`
    when its design is not enforceable on `on` for `destination`."""
    best = Verdict.NO_MATCH
    for design, score in matches:
        verdict = design_verdict(design, score, thresholds, on, destination)
        if _RANK[verdict] > _RANK[best]:
            best = verdict
    return best
