"""The one place where domain errors become HTTP statuses and CLI exit codes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

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
    UnknownDesign,
    UnknownRecord,
    UnsupportedMediaType,
)
from model.errors import InvalidImage, LanternGuardError, UnknownBackbone

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


def error_response(error: LanternGuardError) -> JSONResponse:
    """Return the HTTP answer to a domain error: its mapped status and `{"detail": message}`."""
    status = answer_for(error).http_status
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if isinstance(error, Overloaded):
        headers["Retry-After"] = str(error.retry_after_s)
    return JSONResponse({"detail": str(error)}, status_code=status, headers=headers)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, LanternGuardError):
        raise exc
    if answer_for(exc).http_status >= 500:
        logger.error("%s %s failed: %s", request.method, request.url.path, exc)
    return error_response(exc)


MAX_MESSAGE = 300
"""Longest message of one field error in a 422."""


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """Answer 422 with where and what is wrong, never the value that was sent.

    Why: FastAPI's default echoes each bad value (`input`), so a file part without a filename came
    back whole in the answer (up to the upload limit).
    """
    if not isinstance(exc, RequestValidationError):
        raise exc
    errors = [
        {"type": e.get("type"), "loc": e.get("loc"), "msg": str(e.get("msg", ""))[:MAX_MESSAGE]}
        for e in exc.errors()[:20]
    ]
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def install_error_handler(app: FastAPI) -> None:
    """Answer every domain error with its mapped status and `{"detail": message}`; 422s without echoes."""
    app.add_exception_handler(LanternGuardError, _domain_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
