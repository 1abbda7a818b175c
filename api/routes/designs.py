"""Designs: a firm registers, lists, changes and withdraws its own; inspectors and admins read all."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile

from api.auth import FirmKey, ReaderKey, firm_of, owner_scope
from api.errors import error_responses
from api.presenters import design_public
from api.schemas import API, DesignCreate, DesignPublic, DesignsPublic, DesignUpdate, Offset
from api.services import ServicesDep
from api.uploads import read_image
from index.errors import (
    Conflict,
    Forbidden,
    IndexNotReady,
    InvalidInput,
    NotAuthenticated,
    PayloadTooLarge,
    UnknownDesign,
    UnsupportedMediaType,
)
from model.errors import InvalidImage

router = APIRouter(prefix=f"{API}/designs", tags=["designs"])

Images = Annotated[list[UploadFile], File(description="1 to 7 views of the design (JPEG, PNG, WebP ...)")]
_UPLOAD_ERRORS = (InvalidInput, InvalidImage, PayloadTooLarge, UnsupportedMediaType, IndexNotReady)
_ACCESS = (NotAuthenticated, Forbidden, UnknownDesign)


@router.post(
    "",
    status_code=201,
    response_model=DesignPublic,
    summary="Register a design with its views (firm keys)",
    responses=error_responses(NotAuthenticated, Forbidden, Conflict, *_UPLOAD_ERRORS),
)
def register_design(
    key: FirmKey, services: ServicesDep, fields: Annotated[DesignCreate, Form()], images: Images
) -> DesignPublic:
    """Register a new design of the key's firm; answers once it is durable and can match.

    Every view must be a readable image, or nothing is stored.
    """
    uploads = [read_image(f, services.settings.max_upload_bytes) for f in images]
    design = fields.to_new_design()
    view = services.catalogue.register(firm_of(key), design, uploads)
    services.retro.queue(view.record, "registered")
    return design_public(view)


@router.get(
    "",
    response_model=DesignsPublic,
    summary="List designs, newest first (a firm sees its own)",
    responses=error_responses(NotAuthenticated, Forbidden, IndexNotReady),
)
def list_designs(
    key: ReaderKey,
    services: ServicesDep,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    offset: Offset = 0,
) -> DesignsPublic:
    """Return a page of designs: a firm's own, or everyone's for inspectors and admins."""
    views, count = services.catalogue.page(owner_scope(key), limit or services.settings.page_size, offset)
    return DesignsPublic(data=[design_public(v) for v in views], count=count)


@router.get(
    "/{design_id}",
    response_model=DesignPublic,
    summary="Get one design",
    responses=error_responses(*_ACCESS, IndexNotReady),
)
def get_design(design_id: str, key: ReaderKey, services: ServicesDep) -> DesignPublic:
    """Return a design; another firm's design is 403."""
    return design_public(services.catalogue.get(design_id, owner_scope(key)))


@router.patch(
    "/{design_id}",
    response_model=DesignPublic,
    summary="Change a design's registration data (its firm)",
    responses=error_responses(*_ACCESS, Conflict, InvalidInput, IndexNotReady),
)
def update_design(design_id: str, changes: DesignUpdate, key: FirmKey, services: ServicesDep) -> DesignPublic:
    """Change the fields given; the others stay. A withdrawn design cannot change (409)."""
    return design_public(services.catalogue.update(design_id, firm_of(key), changes.stored(only_set=True)))


@router.delete(
    "/{design_id}",
    response_model=DesignPublic,
    summary="Withdraw a design (its firm): it stops matching at once",
    responses=error_responses(*_ACCESS, IndexNotReady),
)
def withdraw_design(design_id: str, key: FirmKey, services: ServicesDep) -> DesignPublic:
    """Withdraw a design: it no longer matches; its record and the inspections citing it stay."""
    return design_public(services.catalogue.withdraw(design_id, firm_of(key)))


@router.post(
    "/{design_id}/images",
    status_code=201,
    response_model=DesignPublic,
    summary="Add views to a design (its firm; at most 7 in all)",
    responses=error_responses(*_ACCESS, Conflict, *_UPLOAD_ERRORS),
)
def add_views(design_id: str, key: FirmKey, services: ServicesDep, images: Images) -> DesignPublic:
    """Add views to a design; all must be readable images, or none is added."""
    uploads = [read_image(f, services.settings.max_upload_bytes) for f in images]
    view = services.catalogue.add_views(design_id, firm_of(key), uploads)
    services.retro.queue(view.record, "views added")
    return design_public(view)
