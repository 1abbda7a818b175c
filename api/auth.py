"""Who is asking: the Bearer key, checked against stored hashes, and the roles each route allows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.audit_trail import KEY_STATE
from api.services import ServicesDep
from index.errors import Forbidden, NotAuthenticated
from index.service.keys import KeyRecord, Role

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="API key",
    description="An API key from `lanternguard keys create`, sent as `Authorization: Bearer KEY`.",
)


def current_key(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> KeyRecord:
    """Return the live key of the request (and note it for the audit trail).

    `api.guards.KeyGate` has already checked it before the body was read and left it in the
    request's state; an app without the gate checks it here. Raises NotAuthenticated for a
    missing, unknown or revoked key.
    """
    checked = getattr(request.state, KEY_STATE, None)
    if isinstance(checked, KeyRecord):
        return checked
    if credentials is None or not credentials.credentials.strip():
        raise NotAuthenticated("no API key: send the header `Authorization: Bearer KEY`")
    key = services.keys.authenticate(credentials.credentials.strip())
    setattr(request.state, KEY_STATE, key)
    return key


CurrentKey = Annotated[KeyRecord, Depends(current_key)]


def require(*roles: Role) -> Callable[[KeyRecord], KeyRecord]:
    """Return a dependency that lets only keys of these roles through (others: Forbidden)."""
    allowed = " or ".join(r.value for r in roles)

    def check(key: CurrentKey) -> KeyRecord:
        if key.role not in roles:
            raise Forbidden(
                f"only {allowed} keys may do this; the key sent is a key of role {key.role.value}"
            )
        return key

    return check


AdminKey = Annotated[KeyRecord, Depends(require(Role.ADMIN))]
FirmKey = Annotated[KeyRecord, Depends(require(Role.FIRM))]
InspectorKey = Annotated[KeyRecord, Depends(require(Role.INSPECTOR))]
AuditKey = Annotated[KeyRecord, Depends(require(Role.INSPECTOR, Role.ADMIN))]
ReaderKey = Annotated[KeyRecord, Depends(require(Role.FIRM, Role.INSPECTOR, Role.ADMIN))]


def owner_scope(key: KeyRecord) -> str | None:
    """Return the firm whose designs a key may see (None: every firm's)."""
    return key.firm if key.role is Role.FIRM else None


def firm_of(key: KeyRecord) -> str:
    """Return the firm a firm key acts for. Raises Forbidden for a key without one."""
    if key.firm is None:
        raise Forbidden("this needs a firm key")
    return key.firm
