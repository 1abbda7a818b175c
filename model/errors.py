"""Typed domain errors shared by every layer; the api maps them to HTTP answers and exit codes."""

from enum import StrEnum


class RejectionCode(StrEnum):
    """Why an input could not be used, as a stable code beside the English message: programs and the
    api (which words it in the reader's language) go by the code, logs and the CLI print the message."""

    MISSING = "missing"
    UNREADABLE = "unreadable"
    EMPTY = "empty"
    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    DAMAGED = "damaged"
    TOO_MANY_PIXELS = "too_many_pixels"
    TOO_LARGE = "too_large"
    OUTSIDE_LINK = "outside_link"
    OTHER = "other"


class LanternGuardError(Exception):
    """Base of every error a person is meant to read: the message says what is wrong; `code` says
    why an input was refused, set where the error is raised (OTHER unless one is named)."""

    code: RejectionCode = RejectionCode.OTHER

    def __init__(self, *args: object, code: RejectionCode | None = None) -> None:
        super().__init__(*args)
        if code is not None:
            self.code = code


class InvalidImage(LanternGuardError):
    """An input is not a decodable image, is truncated, empty or too large to decode safely."""


class UnknownBackbone(LanternGuardError):
    """The configured backbone name is not one this build can load offline."""


class UnsupportedRuntime(LanternGuardError):
    """The configured runtime cannot run the trunk here (package missing, export failed, precision)."""
