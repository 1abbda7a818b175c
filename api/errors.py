"""The one place where domain errors become HTTP statuses and CLI exit codes."""

from __future__ import annotations

from dataclasses import dataclass

from index.errors import DuplicateDesign, IndexNotReady, InvalidInput, UnknownDesign
from model.errors import InvalidImage, LanternGuardError, UnknownBackbone


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
    UnknownDesign: ErrorAnswer(http_status=404, exit_code=5),
    DuplicateDesign: ErrorAnswer(http_status=409, exit_code=6),
    IndexNotReady: ErrorAnswer(http_status=503, exit_code=7),
    UnknownBackbone: ErrorAnswer(http_status=500, exit_code=8),
}
_FALLBACK = ErrorAnswer(http_status=500, exit_code=1)


def answer_for(error: LanternGuardError) -> ErrorAnswer:
    """Return the HTTP status and exit code for a domain error (the nearest mapped base class)."""
    for cls in type(error).__mro__:
        if cls in _ANSWERS:
            return _ANSWERS[cls]
    return _FALLBACK
