"""Every typed error of the index layer (registry, index, service records, home); api maps them."""

from model.errors import LanternGuardError


class UnknownDesign(LanternGuardError):
    """No registered design has the given id."""


class DuplicateDesign(LanternGuardError):
    """A design with that id is already registered (and the caller asked for a new one)."""


class InvalidInput(LanternGuardError):
    """A request, manifest or argument is malformed; nothing was changed."""


class IndexNotReady(LanternGuardError):
    """The vector index cannot be searched (nothing registered yet, or it could not be loaded)."""


class NotAuthenticated(LanternGuardError):
    """The request carries no API key, or one that is unknown or revoked."""


class Forbidden(LanternGuardError):
    """The key is valid but its role, or its firm, may not do this."""


class UnknownRecord(LanternGuardError):
    """No inspection, scan, key, firm or reference image has the given id."""


class Conflict(LanternGuardError):
    """The request contradicts the stored state (a withdrawn design, a duplicate registration number)."""


class InvalidDesignData(InvalidInput):
    """Registration data breaks a rule: dates in order, a registration number, plain text (also in
    firm names and key labels); see index/store/validation.py."""


class PayloadTooLarge(InvalidInput):
    """An upload, or an archive's content, is over the configured size limit."""


class UnsupportedMediaType(InvalidInput):
    """An upload declares a content type that this endpoint does not take."""


class ServiceStarting(IndexNotReady):
    """The model and index are still loading; the service answers once they are ready."""


class Overloaded(LanternGuardError):
    """The service is serving as many requests as it may at once; retry after `retry_after_s` seconds."""

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimited(Overloaded):
    """One client sent too much: failed keys, or uploads at once; retry after `retry_after_s` seconds."""


class RequestTimeout(InvalidInput):
    """A request body arrived too slowly; the request was dropped."""


class Inconsistent(LanternGuardError):
    """The home holds inconsistencies that could not be repaired (see the check's report)."""


class HomeInUse(Conflict):
    """Another process (a running service, a maintenance job) holds the home."""


class BackupError(InvalidInput):
    """A backup cannot be written there, or a folder is not an intact backup."""


class CorruptDerivedData(Inconsistent):
    """A derived file (index checkpoint, whitening, local features) does not match its recorded sha256.

    Derived data is rebuilt from the registry when this is found; it reaches a caller only when the
    rebuild itself is impossible.
    """


class ScoreOutOfRange(Inconsistent):
    """A similarity score lies outside the range it can take: the index or its vectors are damaged.

    Raised instead of answering a verdict; `lanternguard check` finds and rebuilds what is damaged.
    """
