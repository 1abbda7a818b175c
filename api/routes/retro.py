"""Retroaction and feedback per design: the latest look-back at kept photos, and how matches were judged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.alert_presenters import feedback_public, retro_public
from api.alert_schemas import FeedbackPublic, FeedbacksPublic, RetroPublic
from api.auth import owner_scope
from api.errors import error_responses
from api.routes.alerts import OwnerKey
from api.schemas import API, Offset
from api.services import ServicesDep
from index.errors import Forbidden, IndexNotReady, NotAuthenticated, UnknownDesign

router = APIRouter(prefix=API, tags=["alerts"])

_ACCESS = (NotAuthenticated, Forbidden, UnknownDesign)


@router.get(
    "/designs/{design_id}/retro",
    response_model=RetroPublic,
    summary="The design's latest look-back at kept photos: state, counts, results, period (its firm, admin)",
    responses=error_responses(*_ACCESS, IndexNotReady),
)
def get_retro(design_id: str, key: OwnerKey, services: ServicesDep) -> RetroPublic:
    """Return the latest look-back (queued when the design was registered or gained views) and its alerts."""
    design = services.catalogue.get(design_id, owner_scope(key)).record
    retro = services.retro
    run = retro.log.latest(design.pk)
    results = services.alerts.of_retro(run.id) if run else []
    return retro_public(design_id, run, results, retro.retain_days, retro.look_back_from())


@router.get(
    "/designs/{design_id}/feedback",
    response_model=FeedbackPublic,
    summary="How the design's matches were judged, and whether it looks like a generic motif",
    responses=error_responses(*_ACCESS),
)
def get_feedback(design_id: str, key: OwnerKey, services: ServicesDep) -> FeedbackPublic:
    """Return the counts of confirmed and rejected matches and of the firm's marks on alerts."""
    design = services.registry.design(design_id)
    scope = owner_scope(key)
    if scope is not None and design.owner != scope:
        raise Forbidden(f"design {design_id} belongs to another firm")
    return feedback_public(design_id, services.feedback.counts([design.pk])[design.pk])


@router.get(
    "/feedback",
    response_model=FeedbacksPublic,
    summary="Feedback counts per design (a firm's own; the admin all); ?flagged=true: likely generic only",
    responses=error_responses(NotAuthenticated, Forbidden),
)
def list_feedback(
    key: OwnerKey,
    services: ServicesDep,
    flagged: bool = False,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    offset: Offset = 0,
) -> FeedbacksPublic:
    """Return a page of designs (newest first) with their feedback counts; `flagged`: likely generic only.

    `count` is the number of designs in all (with `flagged`, of flagged designs in this page).
    """
    scope = owner_scope(key)
    designs = services.registry.designs_page(scope, limit or services.settings.page_size, offset)
    counts = services.feedback.counts([d.pk for d in designs])
    rows = [feedback_public(d.design_id, counts[d.pk]) for d in designs]
    if flagged:
        rows = [r for r in rows if r.likely_generic]
    return FeedbacksPublic(data=rows, count=len(rows) if flagged else services.registry.count_designs(scope))
