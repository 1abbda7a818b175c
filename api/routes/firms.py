"""Firms (admins): the design owners that firm keys act for."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import AdminKey
from api.errors import error_responses
from api.presenters import firm_public
from api.schemas import API, FirmCreate, FirmPublic, FirmsPublic
from api.services import ServicesDep
from index.errors import Forbidden, InvalidInput, NotAuthenticated

router = APIRouter(prefix=f"{API}/firms", tags=["keys"])


@router.get(
    "",
    response_model=FirmsPublic,
    summary="List firms (admins)",
    responses=error_responses(NotAuthenticated, Forbidden),
)
def list_firms(key: AdminKey, services: ServicesDep) -> FirmsPublic:
    """Return every firm with its number of designs."""
    firms = services.registry.firms()
    return FirmsPublic(data=[firm_public(f) for f in firms], count=len(firms))


@router.post(
    "",
    status_code=201,
    response_model=FirmPublic,
    summary="Add a firm (admins); adding one that exists returns it",
    responses=error_responses(NotAuthenticated, Forbidden, InvalidInput),
)
def create_firm(body: FirmCreate, key: AdminKey, services: ServicesDep) -> FirmPublic:
    """Add a firm so that firm keys can be issued for it."""
    return firm_public(services.registry.ensure_firm(body.name))
