"""Alerts: a firm reads and marks its own designs' alerts (the admin reads all); evidence; field views."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from api.alert_presenters import alert_public
from api.alert_schemas import AlertPublic, AlertsPublic, AlertUpdate
from api.auth import FirmKey, firm_of, owner_scope, require
from api.errors import error_responses
from api.explain import evidence_labels
from api.presenters import design_public
from api.schemas import API, DesignPublic, Offset, RecordId
from api.services import ServicesDep
from index.errors import Conflict, Forbidden, IndexNotReady, NotAuthenticated, UnknownRecord
from index.service.alerts import AlertState
from index.service.keys import KeyRecord, Role

router = APIRouter(prefix=f"{API}/alerts", tags=["alerts"])

OwnerKey = Annotated[KeyRecord, Depends(require(Role.FIRM, Role.ADMIN))]
_ACCESS = (NotAuthenticated, Forbidden, UnknownRecord)


@router.get(
    "",
    response_model=AlertsPublic,
    summary="List alerts, newest first (a firm sees its own designs'; the admin all)",
    responses=error_responses(NotAuthenticated, Forbidden),
)
def list_alerts(
    key: OwnerKey,
    services: ServicesDep,
    state: Annotated[Literal["new", "confirmed", "dismissed"] | None, Query()] = None,
    design_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    offset: Offset = 0,
) -> AlertsPublic:
    """Return a page of alerts: every `match` or `review` that named a design, live or on looking back."""
    design_pk = services.registry.design(design_id).pk if design_id else None
    records, count = services.alerts.page(
        owner_scope(key),
        limit or services.settings.page_size,
        offset,
        AlertState(state) if state else None,
        design_pk,
    )
    return AlertsPublic(data=[alert_public(r) for r in records], count=count)


@router.get(
    "/{alert_id}", response_model=AlertPublic, summary="Get one alert", responses=error_responses(*_ACCESS)
)
def get_alert(alert_id: RecordId, key: OwnerKey, services: ServicesDep) -> AlertPublic:
    """Return one alert; another firm's is 403."""
    return alert_public(services.alerts.get(alert_id, owner_scope(key)))


@router.patch(
    "/{alert_id}",
    response_model=AlertPublic,
    summary="Mark an alert confirmed, dismissed or new (its firm)",
    responses=error_responses(*_ACCESS, IndexNotReady),
)
def mark_alert(alert_id: RecordId, body: AlertUpdate, key: FirmKey, services: ServicesDep) -> AlertPublic:
    """Record the firm's judgement; `dismissed` stops the photo's near-duplicates alerting for the design."""
    return alert_public(services.alert_desk.mark(alert_id, firm_of(key), AlertState(body.state), key.id))


@router.get(
    "/{alert_id}/evidence",
    response_class=Response,
    summary="Evidence picture: the alert's photo beside the design's view, with the score (PNG)",
    responses={200: {"content": {"image/png": {}}, "description": "The picture"},
               **error_responses(*_ACCESS, IndexNotReady)},
)  # fmt: skip
def alert_evidence(alert_id: RecordId, key: OwnerKey, services: ServicesDep) -> Response:
    """Return a PNG with the photo and the matched view side by side."""
    png = services.alert_desk.evidence(alert_id, owner_scope(key), evidence_labels())
    name = f"evidence-alert-{alert_id}.png"
    return Response(
        png, media_type="image/png", headers={"Content-Disposition": f'inline; filename="{name}"'}
    )


@router.post(
    "/{alert_id}/field-view",
    status_code=201,
    response_model=DesignPublic,
    summary="Add a confirmed alert's photo to the design as a field view (its firm)",
    responses=error_responses(*_ACCESS, Conflict, IndexNotReady),
)
def add_field_view(alert_id: RecordId, key: FirmKey, services: ServicesDep) -> DesignPublic:
    """Add the photo as a view of the design (at most 7 views); then look back again with it."""
    view = services.alert_desk.add_as_view(alert_id, firm_of(key))
    services.retro.queue(view.record, "field view")
    return design_public(view)
