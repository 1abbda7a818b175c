"""Inspections: an inspector checks a photo against every design; each one is recorded and reviewable."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from api.auth import AuditKey, InspectorKey
from api.errors import error_responses
from api.presenters import inspection_public
from api.schemas import API, InspectionPublic, InspectionsPublic, Offset, Rank, RecordId, ReviewUpdate
from api.services import ServicesDep
from api.uploads import read_image, stored_image
from index.errors import (
    Forbidden,
    IndexNotReady,
    InvalidInput,
    NotAuthenticated,
    PayloadTooLarge,
    UnknownRecord,
    UnsupportedMediaType,
)
from index.service.inspections import Review
from model.errors import InvalidImage

router = APIRouter(prefix=f"{API}/inspections", tags=["inspections"])

_ACCESS = (NotAuthenticated, Forbidden, UnknownRecord, IndexNotReady)
PICTURE = {"content": {"image/png": {}, "image/jpeg": {}}, "description": "The picture"}


@router.post(
    "",
    status_code=201,
    response_model=InspectionPublic,
    summary="Inspect a photo of goods (inspector keys)",
    responses=error_responses(
        NotAuthenticated,
        Forbidden,
        InvalidInput,
        InvalidImage,
        PayloadTooLarge,
        UnsupportedMediaType,
        IndexNotReady,
    ),
)
def inspect(
    key: InspectorKey,
    services: ServicesDep,
    image: Annotated[UploadFile, File(description="the photo to check")],
    note: Annotated[str | None, Form(max_length=1000)] = None,
    shipment_ref: Annotated[str | None, Form(max_length=100)] = None,
) -> InspectionPublic:
    """Check a photo against every registered design and record the inspection.

    Answers with the verdict and the matches, best first, with registration data, owner and links
    to each design's view and to an evidence picture (the photo beside the matched view).
    """
    photo = read_image(image, services.settings.max_upload_bytes)
    record = services.desk.inspect(key.id, photo, note or None, shipment_ref or None)
    return inspection_public(record, services.desk.designs_of([record]))


@router.get(
    "",
    response_model=InspectionsPublic,
    summary="List inspections, newest first (inspectors, admins)",
    responses=error_responses(NotAuthenticated, Forbidden, IndexNotReady),
)
def list_inspections(
    key: AuditKey,
    services: ServicesDep,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    offset: Offset = 0,
) -> InspectionsPublic:
    """Return a page of recorded inspections."""
    records, count = services.inspection_log.page(limit or services.settings.page_size, offset)
    designs = services.desk.designs_of(records)
    return InspectionsPublic(data=[inspection_public(r, designs) for r in records], count=count)


@router.get(
    "/{inspection_id}",
    response_model=InspectionPublic,
    summary="Get one inspection",
    responses=error_responses(*_ACCESS),
)
def get_inspection(inspection_id: RecordId, key: AuditKey, services: ServicesDep) -> InspectionPublic:
    """Return a recorded inspection with its matches and their reviews."""
    record = services.inspection_log.get(inspection_id)
    return inspection_public(record, services.desk.designs_of([record]))


@router.patch(
    "/{inspection_id}/matches/{rank}",
    response_model=InspectionPublic,
    summary="Confirm or reject one match (inspector keys)",
    responses=error_responses(*_ACCESS),
)
def review_match(
    inspection_id: RecordId, rank: Rank, body: ReviewUpdate, key: InspectorKey, services: ServicesDep
) -> InspectionPublic:
    """Record an inspector's judgement of the match ranked `rank` (1 = best)."""
    record = services.desk.review(inspection_id, rank, Review(body.review), key.id)
    return inspection_public(record, services.desk.designs_of([record]))


@router.get(
    "/{inspection_id}/photo",
    response_class=Response,
    summary="The photo that was inspected",
    responses={200: PICTURE, **error_responses(*_ACCESS)},
)
def inspection_photo(inspection_id: RecordId, key: AuditKey, services: ServicesDep) -> Response:
    """Return the inspected photo as it was uploaded."""
    data = services.desk.photo(inspection_id)
    return stored_image(data, f"inspection-{inspection_id}")


@router.get(
    "/{inspection_id}/matches/{rank}/evidence",
    response_class=Response,
    summary="Evidence picture: the photo beside the matched view, with the score (PNG)",
    responses={200: {**PICTURE, "content": {"image/png": {}}}, **error_responses(*_ACCESS)},
)
def evidence(inspection_id: RecordId, rank: Rank, key: AuditKey, services: ServicesDep) -> Response:
    """Return a PNG with the inspected photo and the matched design's view side by side."""
    png = services.desk.evidence(inspection_id, rank)
    name = f"evidence-inspection-{inspection_id}-match-{rank}.png"
    return Response(
        png, media_type="image/png", headers={"Content-Disposition": f'inline; filename="{name}"'}
    )
