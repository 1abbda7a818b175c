"""A verdict told in words, in the request's language: each score against the thresholds, each design's
legal status, and why the verdict is what it is; why a scan passed over, refused or failed; the words
of the evidence picture. The pages, the case file and the API say the same."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Protocol

from api.errors import plain_meaning
from api.i18n import N_
from api.i18n import gettext as _
from index.matching.evidence import EvidenceLabels
from index.matching.verdict import Thresholds
from index.service.scans import INTERRUPTED_FAILURE
from model.errors import RejectionCode


class Told(Protocol):
    """What a sentence about one match needs (MatchPublic has it)."""

    score: float
    level: str | None
    legal_status: str
    covers_destination: bool | None
    valid_from: object
    valid_until: object
    title: str | None
    registration_number: str | None
    design_id: str


def number(value: float) -> str:
    """Return a score as it is shown (two decimals)."""
    return f"{value:.2f}"


def score_text(score: float, thresholds: Thresholds | None) -> str:
    """Return e.g. "1.85 — above the match level 1.71"."""
    if thresholds is None:
        return number(score)
    values = {"score": number(score), "match": number(thresholds.match), "review": number(thresholds.review)}
    if score >= thresholds.match:
        return _("{score} — above the match level {match}", **values)
    if score >= thresholds.review:
        return _("{score} — above the review level {review}, below the match level {match}", **values)
    return _("{score} — below the review level {review}", **values)


def legal_text(status: str, valid_from: object, valid_until: object) -> str:
    """Return a design's legal status on the inspection date in words ("Expired on 2001-01-01")."""
    if status == "expired":
        return _("Expired on {date}", date=valid_until)
    if status == "not_yet_valid":
        return _("Not yet valid: valid from {date}", date=valid_from)
    if status == "withdrawn":
        return _("Withdrawn by its owner")
    return _("In force, valid until {date}", date=valid_until) if valid_until else _("In force")


def design_name(match: Told) -> str:
    """Return the name a design is shown by: its title, else its registration number, else its id."""
    return match.title or match.registration_number or match.design_id


def _about(match: Told) -> dict[str, str]:
    return {
        "name": design_name(match),
        "number": match.registration_number or "—",
        "score": number(match.score),
    }


def reason(
    verdict: str, matches: Sequence[Told], thresholds: Thresholds | None, destination: str | None
) -> str:
    """Return one sentence on why the verdict is what it is."""
    if not matches:
        return _("No registered design came close.")
    best = matches[0]
    values = {
        "name": design_name(best),
        "number": best.registration_number or "—",
        "score": number(best.score),
    }
    if thresholds is not None:
        values |= {"match": number(thresholds.match), "review": number(thresholds.review)}
    if verdict == "match":
        hit = next((m for m in matches if m.level == "match" and m.legal_status == "in_force"), best)
        values |= {
            "name": design_name(hit),
            "number": hit.registration_number or "—",
            "score": number(hit.score),
        }
        return _(
            "Design “{name}” ({number}) scores {score}, above the match level {match}, and its registration"
            " is in force on the inspection date.",
            **values,
        )
    if verdict == "no_match":
        if thresholds is None:
            return _("The closest design scores {score}.", **values)
        return _("The closest design scores {score}, below the review level {review}.", **values)
    barred = next((m for m in matches if m.level == "match"), None)
    if barred is not None:
        values |= {"name": design_name(barred), "score": number(barred.score)}
        if barred.legal_status == "expired":
            return _(
                "Design “{name}” scores {score}, above the match level, but its registration expired on"
                " {date}: it cannot be a match. Review it.",
                date=barred.valid_until,
                **values,
            )
        if barred.legal_status == "not_yet_valid":
            return _(
                "Design “{name}” scores {score}, above the match level, but its registration is valid only"
                " from {date}. Review it.",
                date=barred.valid_from,
                **values,
            )
        if barred.legal_status == "withdrawn":
            return _(
                "Design “{name}” scores {score}, above the match level, but its owner withdrew it.", **values
            )
        if barred.covers_destination is False:
            return _(
                "Design “{name}” scores {score}, above the match level, but it is not registered for"
                " {destination}. Review it.",
                destination=destination,
                **values,
            )
    return _(
        "The best design scores {score}: above the review level {review}, below the match level {match}."
        " Compare the photo with the design before acting.",
        **values,
    )


def skip_text(name: str, why: str) -> str:
    """Return why a scan passed over a file, in words (`why` is a reason code of the scan log)."""
    if why == "hidden":
        return _("a hidden or system file")
    suffix = PurePosixPath(name).suffix.lower()
    return _("not a photo ({kind} file)", kind=suffix) if suffix else _("not a photo (no file type)")


_REJECTIONS: dict[RejectionCode, str] = {
    RejectionCode.MISSING: N_("the file was not found"),
    RejectionCode.UNREADABLE: N_("the file could not be read"),
    RejectionCode.EMPTY: N_("the file is empty"),
    RejectionCode.NOT_AN_IMAGE: N_("not a photo: the file is no image that can be opened"),
    RejectionCode.UNSUPPORTED_FORMAT: N_(
        "a kind of image not taken here: use JPEG, PNG, WebP, GIF, BMP or TIFF"
    ),
    RejectionCode.DAMAGED: N_("the photo is damaged or incomplete"),
    RejectionCode.TOO_MANY_PIXELS: N_("the photo has too many pixels to open safely"),
    RejectionCode.TOO_LARGE: N_("the file is too large for a scan"),
    RejectionCode.OUTSIDE_LINK: N_("a link to a place outside the scanned folder: not followed"),
    RejectionCode.OTHER: N_("this file could not be used"),
}
"""Why a scan could not use an image, by the code the index gives it, in plain words."""


def rejection_text(code: str | None) -> str:
    """Return why a scan could not use an image, in words (`code`: a RejectionCode; None for rows
    recorded before codes were kept)."""
    try:
        known = RejectionCode(code)
    except ValueError:
        known = RejectionCode.OTHER
    return _(_REJECTIONS[known])


def failure_text(failure: str | None, message: str | None) -> str | None:
    """Return why a scan failed, in words, from its failure code (a domain error's class name,
    INTERRUPTED_FAILURE, or INTERNAL_FAILURE which gets the words of any server fault); a scan
    recorded before codes were kept keeps its message."""
    if failure == INTERRUPTED_FAILURE:
        return _("The service stopped before this scan finished. Start the scan again.")
    if failure is None:
        return message
    return plain_meaning(failure)


def evidence_labels() -> EvidenceLabels:
    """Return the words of an evidence picture in the request's language."""
    return EvidenceLabels(
        score=_("Score {score}"),
        points=_("{count} matching points"),
        mirrored=_("(mirrored)"),
        photo=_("Inspected photo"),
        design=_("Registered design"),
        breakdown=_("= appearance {appearance} + keypoints {keypoints}{points} - best other design {rival}"),
        breakdown_points=_(" ({count} points)"),
        no_match=_("verdict no_match: no agreeing points drawn"),
    )
