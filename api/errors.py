"""The one place where domain errors become HTTP statuses and CLI exit codes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api import i18n
from api.i18n import N_
from api.schemas import ErrorPublic
from index.errors import (
    Conflict,
    DuplicateDesign,
    Forbidden,
    Inconsistent,
    IndexNotReady,
    InvalidDesignData,
    InvalidInput,
    NotAuthenticated,
    Overloaded,
    PayloadTooLarge,
    RateLimited,
    RequestTimeout,
    ScoreOutOfRange,
    ServiceStarting,
    UnknownDesign,
    UnknownRecord,
    UnsupportedMediaType,
)
from model.errors import InvalidImage, LanternGuardError, UnknownBackbone, UnsupportedRuntime

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErrorAnswer:
    """How one kind of error is reported."""

    http_status: int
    exit_code: int


EXIT_OK = 0
EXIT_USAGE = 2

_ANSWERS: dict[type[LanternGuardError], ErrorAnswer] = {
    InvalidInput: ErrorAnswer(http_status=400, exit_code=3),
    InvalidImage: ErrorAnswer(http_status=422, exit_code=4),
    InvalidDesignData: ErrorAnswer(http_status=422, exit_code=3),
    UnknownDesign: ErrorAnswer(http_status=404, exit_code=5),
    DuplicateDesign: ErrorAnswer(http_status=409, exit_code=6),
    IndexNotReady: ErrorAnswer(http_status=503, exit_code=7),
    UnknownBackbone: ErrorAnswer(http_status=500, exit_code=8),
    UnsupportedRuntime: ErrorAnswer(http_status=500, exit_code=8),
    NotAuthenticated: ErrorAnswer(http_status=401, exit_code=9),
    Forbidden: ErrorAnswer(http_status=403, exit_code=10),
    UnknownRecord: ErrorAnswer(http_status=404, exit_code=5),
    Conflict: ErrorAnswer(http_status=409, exit_code=6),
    PayloadTooLarge: ErrorAnswer(http_status=413, exit_code=3),
    UnsupportedMediaType: ErrorAnswer(http_status=415, exit_code=3),
    Inconsistent: ErrorAnswer(http_status=500, exit_code=11),
    Overloaded: ErrorAnswer(http_status=503, exit_code=12),
    RateLimited: ErrorAnswer(http_status=429, exit_code=12),
    RequestTimeout: ErrorAnswer(http_status=408, exit_code=3),
    ScoreOutOfRange: ErrorAnswer(http_status=500, exit_code=11),
}
_FALLBACK = ErrorAnswer(http_status=500, exit_code=1)

_PLAIN: dict[type[LanternGuardError], str] = {
    NotAuthenticated: N_(
        "Your access key is missing, unknown or no longer valid. Paste a valid key at the top of the page."
    ),
    Forbidden: N_("Your access key does not allow this. Sign in with the key of the right person or firm."),
    InvalidImage: N_("This file is not a photo that can be read. Send a JPEG, PNG or WebP photo."),
    PayloadTooLarge: N_("The file is too large."),
    UnsupportedMediaType: N_("This kind of file is not taken here. Send a photo (JPEG, PNG or WebP)."),
    InvalidInput: N_("Something in the form is not right. Check the fields and try again."),
    UnknownDesign: N_("This design is not registered."),
    UnknownRecord: N_("This record was not found."),
    DuplicateDesign: N_("This is already registered."),
    Conflict: N_("This clashes with what is already registered."),
    ServiceStarting: N_("The service is still starting. Try again in a moment."),
    IndexNotReady: N_("No design can be searched yet: designs must be registered first."),
    Overloaded: N_("The service is busy. Try again in a few seconds."),
    RateLimited: N_("Too many tries in a short time. Wait a minute and try again."),
    RequestTimeout: N_("Sending took too long. Try again, on a better connection if you can."),
}
"""What each kind of error means, in plain words a person can act on (translated in api/locales)."""
_PLAIN_FALLBACK = N_("Something went wrong on the server. Try again, or tell the administrator.")
_DEVELOPER_WORDS = ("Authorization", "Bearer", "of role", "LANTERNGUARD_")
"""Words of a detail meant for programmers (headers, roles, settings): people get the plain meaning."""


def answer_for(error: LanternGuardError) -> ErrorAnswer:
    """Return the HTTP status and exit code for a domain error (the nearest mapped base class)."""
    return answer_for_class(type(error))


def answer_for_class(kind: type[LanternGuardError]) -> ErrorAnswer:
    """Return the HTTP status and exit code for a kind of domain error."""
    for cls in kind.__mro__:
        if cls in _ANSWERS:
            return _ANSWERS[cls]
    return _FALLBACK


def error_responses(*errors: type[LanternGuardError]) -> dict[int | str, dict[str, Any]]:
    """Return the OpenAPI `responses` of a route that may raise these errors (statuses from the map)."""
    found: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        status = answer_for_class(error).http_status
        summary = (error.__doc__ or error.__name__).strip()
        if status in found:
            found[status]["description"] += " / " + summary
        else:
            found[status] = {"model": ErrorPublic, "description": summary}
    return found


def plain_message(error: LanternGuardError) -> str:
    """Return what a person is told of an error, in the request's language (api/i18n.py).

    The detail itself when it is plain and a translation exists (or the language is English), else
    the plain meaning of its kind of error.
    """
    detail = str(error)
    translated = i18n.gettext(detail)
    developer = any(word in detail for word in _DEVELOPER_WORDS)
    if not developer and (translated != detail or i18n.current() == i18n.DEFAULT):
        return translated
    for cls in type(error).__mro__:
        if cls in _PLAIN:
            return i18n.gettext(_PLAIN[cls])
    return i18n.gettext(_PLAIN_FALLBACK)


def _domain_errors(kind: type[LanternGuardError]) -> list[type[LanternGuardError]]:
    return [kind, *(found for sub in kind.__subclasses__() for found in _domain_errors(sub))]


def plain_meaning(name: str) -> str:
    """Return, in the request's language, what a kind of domain error means, by its class name (as
    a scan stores why it failed); the server-side fallback for a name that is none of ours."""
    kind = next((k for k in _domain_errors(LanternGuardError) if k.__name__ == name), None)
    for cls in kind.__mro__ if kind is not None else ():
        if cls in _PLAIN:
            return i18n.gettext(_PLAIN[cls])
    return i18n.gettext(_PLAIN_FALLBACK)


def error_response(error: LanternGuardError) -> JSONResponse:
    """Return the HTTP answer to a domain error: its mapped status, `{"detail": message}` for
    programs and `message` in plain words, in the request's language, for people."""
    status = answer_for(error).http_status
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if isinstance(error, Overloaded):
        headers["Retry-After"] = str(error.retry_after_s)
    body = {"detail": str(error), "message": plain_message(error)}
    return JSONResponse(body, status_code=status, headers=headers)


_FIELD_NAMES = {
    "registration_number": N_("Registration number"),
    "title": N_("Title"),
    "locarno_class": N_("Locarno class"),
    "valid_from": N_("Valid from"),
    "valid_until": N_("Valid until"),
    "territories": N_("Territories"),
    "destination": N_("Destination country"),
    "shipment_ref": N_("Shipment reference"),
    "note": N_("Note"),
    "image": N_("Photo"),
    "images": N_("Photos"),
    "archive": N_("Zip archive"),
    "folder": N_("Server folder"),
    "from": N_("From"),
    "to": N_("To"),
}
_REASONS = {
    "missing": N_("this is needed"),
    "string_too_long": N_("this is too long"),
    "string_too_short": N_("this must not be empty"),
    "date_from_datetime_parsing": N_("give a date such as 2026-05-01"),
    "date_parsing": N_("give a date such as 2026-05-01"),
    "int_parsing": N_("give a whole number"),
    "greater_than_equal": N_("this number is too small"),
    "less_than_equal": N_("this number is too large"),
    "literal_error": N_("this value is not one of those offered"),
    "extra_forbidden": N_("this field is not taken here"),
    "value_error": N_("this value is not right"),
}
_PLAIN_REASONS = {
    "valid_until must not be before valid_from": N_("the end of validity is before its start"),
    "a Locarno class looks like 26-05 (class-subclass)": N_(
        "a Locarno class looks like 26-05 (class and subclass)"
    ),
}
"""How reasons our validators give in the words of the API's fields begin, and the same in plain words."""


def _plain_reason(said: str) -> str | None:
    """Return the plain words of each rule a validator's message names (None when none is known)."""
    parts = [part.strip() for part in said.split(";")]
    plain = [next((v for k, v in _PLAIN_REASONS.items() if part.startswith(k)), None) for part in parts]
    return "; ".join(i18n.gettext(p) for p in plain if p) if all(plain) else None


def _validation_message(error: dict[str, Any]) -> str:
    """Return one validation problem in plain words: the field, then what is wrong with it."""
    field = next((str(part) for part in reversed(error.get("loc", ())) if isinstance(part, str)), "")
    kind = str(error.get("type"))
    said = str(error.get("msg", "")).removeprefix("Value error, ")
    plain = _plain_reason(said) if kind == "value_error" else None
    if plain:
        reason = plain
    elif kind == "value_error" and i18n.current() == i18n.DEFAULT:
        reason = said
    else:
        reason = i18n.gettext(_REASONS.get(kind, _REASONS["value_error"]))
    label = _FIELD_NAMES.get(field)
    return f"{i18n.gettext(label)}: {reason}" if label else reason


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, LanternGuardError):
        raise exc
    if answer_for(exc).http_status >= 500:
        logger.error("%s %s failed: %s", request.method, request.url.path, exc)
    return error_response(exc)


MAX_MESSAGE = 300
"""Longest message of one field error in a 422."""


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """Answer 422 with where and what is wrong, never the value that was sent; `message` says it
    in plain words, in the request's language.

    Why: FastAPI's default echoes each bad value (`input`), so a file part without a filename came
    back whole in the answer (up to the upload limit).
    """
    if not isinstance(exc, RequestValidationError):
        raise exc
    errors = [
        {"type": e.get("type"), "loc": e.get("loc"), "msg": str(e.get("msg", ""))[:MAX_MESSAGE]}
        for e in exc.errors()[:20]
    ]
    message = "; ".join(dict.fromkeys(_validation_message(e) for e in errors))
    return JSONResponse({"detail": jsonable_encoder(errors), "message": message}, status_code=422)


def install_error_handler(app: FastAPI) -> None:
    """Answer every domain error with its mapped status, `{"detail": ..., "message": ...}`; 422s
    without echoes, in plain words."""
    app.add_exception_handler(LanternGuardError, _domain_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
