"""Typed domain errors shared by every layer; the api maps them to HTTP answers and exit codes."""


class LanternGuardError(Exception):
    """Base of every error a person is meant to read: the message says what is wrong."""


class InvalidImage(LanternGuardError):
    """An input is not a decodable image, is truncated, empty or too large to decode safely."""


class UnknownBackbone(LanternGuardError):
    """The configured backbone name is not one this build can load offline."""


class UnsupportedRuntime(LanternGuardError):
    """The configured runtime cannot run the trunk here (package missing, export failed, precision)."""
