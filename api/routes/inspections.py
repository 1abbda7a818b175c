"""Inspections: an inspector checks a photo against every design; each one is recorded and reviewable."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import HTMLResponse

from api.auth import AuditKey, InspectorKey
from api.case_file import case_for_record, render_html, render_pdf
from api.errors import error_responses
from api.explain import evidence_labels
from api.presenters import inspection_public
from api.schemas import API, InspectionPublic, InspectionsPublic, Offset, Rank, RecordId, ReviewUpdate
from api.services import ServicesDep
from api.territories import country_code
from api.uploads import read_image, stored_image
from index.errors import (
    Forbidden,
    IndexNotReady,
    InvalidInput,
    NotAuthenticated,
    PayloadTooLarge,
    UnknownDesign,
    UnknownRecord,
    UnsupportedMediaType,
)
from index.service.inspections import InspectionSearch, Review
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
    destination: Annotated[
        str | None, Form(max_length=100, description="ISO 3166 alpha-2 code of where the goods go")
    ] = None,
) -> InspectionPublic:
    """Check a photo against every registered design and record the inspection.

    Answers with the verdict and the matches, best first, with registration data, owner and links
    to each design's view and to an evidence picture (the photo beside the matched view).
    """
    place = country_code(destination)
    photo = read_image(image, services.settings.max_upload_bytes)
    record = services.desk.inspect(key.id, photo, note or None, shipment_ref or None, place)
    return inspection_public(record, services.desk.designs_of([record]))


@router.get(
    "",
    response_model=InspectionsPublic,
    summary="List inspections, newest first (inspectors, admins)",
    responses=error_responses(NotAuthenticated, Forbidden, InvalidInput, UnknownDesign, IndexNotReady),
)
def list_inspections(
    key: AuditKey,
    services: ServicesDep,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    offset: Offset = 0,
    verdict: Annotated[Literal["match", "review", "no_match"] | None, Query()] = None,
    since: Annotated[date | None, Query(alias="from", description="first UTC date, inclusive")] = None,
    until: Annotated[date | None, Query(alias="to", description="last UTC date, inclusive")] = None,
    shipment_ref: Annotated[str | None, Query(max_length=100, description="part of the reference")] = None,
    design: Annotated[str | None, Query(max_length=64, description="a design id cited by a match")] = None,
) -> InspectionsPublic:
    """Return a page of recorded inspections, selected by verdict, dates, shipment and design."""
    design_pk = services.registry.design(design).pk if design else None
    search = InspectionSearch(verdict, since, until, shipment_ref or None, design_pk)
    records, count = services.inspection_log.page(limit or services.settings.page_size, offset, search)
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


Zone = Annotated[
    str | None, Query(max_length=64, description="IANA time zone of the local time, e.g. Asia/Shanghai")
]


@router.get(
    "/{inspection_id}/case.pdf",
    response_class=Response,
    summary="The case file of an inspection (PDF)",
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The case file"},
        **error_responses(*_ACCESS, InvalidInput),
    },
)
def case_pdf(
    inspection_id: RecordId, request: Request, key: AuditKey, services: ServicesDep, tz: Zone = None
) -> Response:
    """Return the case file: verdict and why, the photo and its sha256, the matched design's views and
    keypoint evidence, registration data, validity and territories, times, shipment, destination, note,
    inspector, and the model and registry generation that produced it."""
    case = case_for_record(services, inspection_id, tz, inline=True)
    pdf = render_pdf(request.app.state.templates.env, case)
    name = f"lanternguard-case-{inspection_id}.pdf"
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'}
    )


@router.get(
    "/{inspection_id}/case.html",
    response_class=HTMLResponse,
    summary="The case file of an inspection as an HTML fragment (the printable page shows it)",
    responses=error_responses(*_ACCESS, InvalidInput),
)
def case_html(
    inspection_id: RecordId, request: Request, key: AuditKey, services: ServicesDep, tz: Zone = None
) -> HTMLResponse:
    """Return the case file's article; its pictures name the API paths that serve them (`data-src`)."""
    case = case_for_record(services, inspection_id, tz, inline=False)
    return HTMLResponse(render_html(request.app.state.templates.env, case, pdf=False))


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
    png = services.desk.evidence(inspection_id, rank, evidence_labels())
    name = f"evidence-inspection-{inspection_id}-match-{rank}.png"
    return Response(
        png, media_type="image/png", headers={"Content-Disposition": f'inline; filename="{name}"'}
    )
