"""Hits: a firm learns where its designs were named by an inspection's or a scan's match or review."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.auth import FirmKey, firm_of
from api.errors import error_responses
from api.explain import evidence_labels, legal_text, score_text
from api.presenters import image_url
from api.schemas import API, Offset, Rank, RecordId
from api.schemas_hits import HitPublic, HitsPublic
from api.services import ServicesDep
from index.errors import Forbidden, IndexNotReady, NotAuthenticated, UnknownRecord
from index.matching.legal import day_of, design_verdict, legal_status
from index.matching.verdict import Thresholds
from index.service.hits import Hit

router = APIRouter(prefix=f"{API}/hits", tags=["hits"])


def _evidence_url(hit: Hit) -> str | None:
    return f"{API}/hits/inspections/{hit.record_id}/{hit.item}/evidence" if hit.kind == "inspection" else None


@router.get(
    "",
    response_model=HitsPublic,
    summary="Inspections and scan items that name one of the firm's designs (firm keys)",
    responses=error_responses(NotAuthenticated, Forbidden, IndexNotReady),
)
def list_hits(
    key: FirmKey,
    services: ServicesDep,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    offset: Offset = 0,
) -> HitsPublic:
    """Return the firm's hits, newest first: each with its date, where the design's score stands
    against the thresholds (match or review), the score, the design's legal status then, and a link
    to the evidence. Nothing of other firms, nor the other designs the same photo resembled."""
    firm = firm_of(key)
    now = services.engine.thresholds
    hits, count = services.hits.page(
        firm, now.match, now.review, limit or services.settings.page_size, offset
    )
    designs = services.registry.designs_by_pk(sorted({h.design_pk for h in hits}))
    views = services.registry.views_of(sorted(designs))
    data = []
    for hit in hits:
        design = designs[hit.design_pk]
        on = day_of(hit.created_at)
        status = legal_status(design, on).value
        thresholds = Thresholds(hit.match_threshold, hit.review_threshold)
        first = views[hit.design_pk][0].id if views[hit.design_pk] else None
        data.append(
            HitPublic(
                kind=hit.kind,
                id=hit.record_id,
                item=hit.item,
                created_at=hit.created_at,
                verdict=design_verdict(design, hit.score, thresholds, on, hit.destination).value,
                score=round(hit.score, 4),
                score_text=score_text(hit.score, thresholds),
                design_id=design.design_id,
                registration_number=design.registration_number,
                title=design.title,
                legal_status=status,
                legal_text=legal_text(status, design.valid_from, design.valid_until),
                destination=hit.destination,
                image_url=image_url(first) if first else None,
                evidence_url=_evidence_url(hit),
            )
        )
    return HitsPublic(data=data, count=count)


@router.get(
    "/inspections/{inspection_id}/{rank}/evidence",
    response_class=Response,
    summary="Evidence of a hit: the inspected photo beside the firm's design (PNG)",
    responses={
        200: {"content": {"image/png": {}}},
        **error_responses(NotAuthenticated, Forbidden, UnknownRecord),
    },
)
def hit_evidence(inspection_id: RecordId, rank: Rank, key: FirmKey, services: ServicesDep) -> Response:
    """Return the evidence picture of a match that is a hit on one of the firm's designs (else 404)."""
    review = services.engine.thresholds.review
    if not services.hits.inspection_hit(firm_of(key), inspection_id, rank, review):
        raise UnknownRecord(f"no hit on your designs in inspection {inspection_id} at rank {rank}")
    return Response(services.desk.evidence(inspection_id, rank, evidence_labels()), media_type="image/png")
