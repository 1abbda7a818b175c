"""API keys (admins): issue one (shown once), list them, revoke one; and who the caller is."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import AdminKey, CurrentKey
from api.errors import error_responses
from api.presenters import key_public
from api.schemas import API, KeyCreate, KeyIssued, KeyPublic, KeysPublic, MePublic, RecordId
from api.services import ServicesDep
from index.errors import Forbidden, InvalidInput, NotAuthenticated, UnknownRecord
from index.service.keys import Role

router = APIRouter(prefix=API, tags=["keys"])


@router.get(
    "/me",
    response_model=MePublic,
    summary="Who the key belongs to",
    responses=error_responses(NotAuthenticated),
)
def me(key: CurrentKey) -> MePublic:
    """Return the role, firm and label of the key in the request."""
    return MePublic(role=key.role.value, firm=key.firm, label=key.label, prefix=key.prefix)


@router.post(
    "/keys",
    status_code=201,
    response_model=KeyIssued,
    summary="Issue a key (admins); the key is in this answer only",
    responses=error_responses(NotAuthenticated, Forbidden, InvalidInput),
)
def create_key(body: KeyCreate, key: AdminKey, services: ServicesDep) -> KeyIssued:
    """Issue a key for a role; a firm key names its firm (created when new)."""
    issued = services.issue_key(Role(body.role), body.firm, body.label)
    return KeyIssued(**key_public(issued.record).model_dump(), key=issued.secret)


@router.get(
    "/keys",
    response_model=KeysPublic,
    summary="List keys (admins), without their secrets",
    responses=error_responses(NotAuthenticated, Forbidden),
)
def list_keys(
    key: AdminKey, services: ServicesDep, include_revoked: Annotated[bool, Query()] = False
) -> KeysPublic:
    """Return the live keys (and revoked ones when asked), oldest first."""
    records = services.keys.records(include_revoked)
    return KeysPublic(data=[key_public(r) for r in records], count=len(records))


@router.delete(
    "/keys/{key_id}",
    response_model=KeyPublic,
    summary="Revoke a key (admins): it stops working at once",
    responses=error_responses(NotAuthenticated, Forbidden, UnknownRecord),
)
def revoke_key(key_id: RecordId, key: AdminKey, services: ServicesDep) -> KeyPublic:
    """Revoke a key; requests with it answer 401 from now on."""
    return key_public(services.keys.revoke(key_id))
