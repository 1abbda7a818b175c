"""Typed errors of the registry, the index and the inputs they read."""

from model.errors import LanternGuardError


class UnknownDesign(LanternGuardError):
    """No registered design has the given id."""


class DuplicateDesign(LanternGuardError):
    """A design with that id is already registered (and the caller asked for a new one)."""


class InvalidInput(LanternGuardError):
    """A request, manifest or argument is malformed; nothing was changed."""


class IndexNotReady(LanternGuardError):
    """The vector index cannot be searched (nothing registered yet, or it could not be loaded)."""
