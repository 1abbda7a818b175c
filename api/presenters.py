"""Turn stored records into the API's public schemas, with the URLs that serve their pictures."""

from __future__ import annotations

from api.explain import failure_text, legal_text, reason, rejection_text, score_text, skip_text
from api.schemas import (
    API,
    DesignPublic,
    FirmPublic,
    InspectionPublic,
    KeyPublic,
    MatchPublic,
    ThresholdsPublic,
    ViewPublic,
)
from api.schemas_scans import ScanDesignPublic, ScanLinePublic, ScanPublic, SkippedPublic
from index.matching.legal import covers, day_of, legal_status, territories_of, today
from index.matching.verdict import Thresholds
from index.service.catalogue import DesignView
from index.service.design_records import FirmRecord
from index.service.inspections import InspectionRecord
from index.service.keys import KeyRecord
from index.service.scans import ScanRecord
from index.store.registry import DesignRecord


def image_url(image_id: int) -> str:
    """Return the URL of a reference view."""
    return f"{API}/images/{image_id}"


def evidence_url(inspection_id: int, rank: int) -> str:
    """Return the URL of the evidence picture of one match."""
    return f"{API}/inspections/{inspection_id}/matches/{rank}/evidence"


def _status(record: DesignRecord) -> str:
    return "active" if record.withdrawn_at is None else "withdrawn"


def _registration(record: DesignRecord) -> dict[str, str | None]:
    """Return the registration data that designs and matches both show."""
    return {
        "registration_number": record.registration_number,
        "title": record.title,
        "owner": record.owner,
        "locarno_class": record.locarno_class,
        "valid_from": record.valid_from,
        "valid_until": record.valid_until,
    }


def design_public(view: DesignView) -> DesignPublic:
    """Return a design as the API shows it."""
    r = view.record
    status = legal_status(r, today()).value
    return DesignPublic(
        id=r.design_id,
        **_registration(r),
        territories=territories_of(r),
        legal_status=status,
        legal_text=legal_text(status, r.valid_from, r.valid_until),
        status=_status(r),
        withdrawn_at=r.withdrawn_at,
        image_count=r.image_count,
        images=[ViewPublic(id=v.id, width=v.width, height=v.height, url=image_url(v.id)) for v in view.views],
    )


def case_url(inspection_id: int) -> str:
    """Return the URL of an inspection's case file (PDF)."""
    return f"{API}/inspections/{inspection_id}/case.pdf"


def thresholds_of(record: InspectionRecord) -> Thresholds | None:
    """Return the thresholds an inspection was decided with (None for one recorded before they were kept)."""
    if record.match_threshold is None or record.review_threshold is None:
        return None
    return Thresholds(match=record.match_threshold, review=record.review_threshold)


def _level(score: float, thresholds: Thresholds | None) -> str | None:
    if thresholds is None:
        return None
    return "match" if score >= thresholds.match else "review" if score >= thresholds.review else "below"


def inspection_public(record: InspectionRecord, designs: dict[int, DesignRecord]) -> InspectionPublic:
    """Return an inspection with its matches' registration data and legal status on its date
    (`designs` by design key)."""
    matches = []
    on = day_of(record.created_at)
    thresholds = thresholds_of(record)
    for m in record.matches:
        d = designs[m.design_pk]
        matches.append(
            MatchPublic(
                rank=m.rank,
                design_id=d.design_id,
                score=round(m.score, 4),
                appearance=None if m.appearance is None else round(m.appearance, 4),
                keypoints=None if m.keypoints is None else round(m.keypoints, 4),
                rival=None if m.rival is None else round(m.rival, 4),
                inliers=m.inliers,
                **_registration(d),
                territories=territories_of(d),
                design_status=_status(d),
                legal_status=legal_status(d, on).value,
                covers_destination=covers(d, record.destination),
                level=_level(m.score, thresholds),
                score_text=score_text(m.score, thresholds),
                legal_text=legal_text(legal_status(d, on).value, d.valid_from, d.valid_until),
                image_id=m.image_id,
                image_url=image_url(m.image_id),
                evidence_url=evidence_url(record.id, m.rank),
                review=m.review.value,
                reviewed_by=m.reviewed_by,
                reviewed_at=m.reviewed_at,
            )
        )
    return InspectionPublic(
        id=record.id,
        created_at=record.created_at,
        inspector=record.inspector,
        photo_sha256=record.photo_sha256,
        filename=record.filename,
        verdict=record.verdict,
        reason=reason(record.verdict, matches, thresholds, record.destination),
        note=record.note,
        shipment_ref=record.shipment_ref,
        destination=record.destination,
        thresholds=ThresholdsPublic(match=thresholds.match, review=thresholds.review) if thresholds else None,
        model=record.model,
        index_generation=record.index_generation,
        photo_url=f"{API}/inspections/{record.id}/photo",
        case_url=case_url(record.id),
        evidence_url=evidence_url(record.id, 1) if matches else None,
        matches=matches,
    )


def scan_designs(
    record: ScanRecord, designs: dict[str, DesignRecord], views: dict[int, list]
) -> dict[str, ScanDesignPublic]:
    """Return the designs a scan's results name, with their legal status on the scan's date."""
    on = day_of(record.created_at)
    found = {}
    for design_id, d in designs.items():
        status = legal_status(d, on).value
        first = views.get(d.pk) or []
        found[design_id] = ScanDesignPublic(
            registration_number=d.registration_number,
            title=d.title,
            owner=d.owner,
            legal_status=status,
            legal_text=legal_text(status, d.valid_from, d.valid_until),
            image_url=image_url(first[0].id) if first else None,
        )
    return found


def _totals(results: list[dict]) -> dict[str, int]:
    totals = {"match": 0, "review": 0, "no_match": 0, "error": 0}
    for line in results:
        totals[line.get("verdict") or "error"] += 1
    return totals


def _line_public(line: dict) -> ScanLinePublic:
    public = ScanLinePublic.model_validate(line)
    if public.error is None:
        return public
    return public.model_copy(update={"error_text": rejection_text(line.get("error_code"))})


def scan_public(
    record: ScanRecord,
    results: list[dict] | None = None,
    designs: dict[str, ScanDesignPublic] | None = None,
    evidence_urls: list[str | None] | None = None,
) -> ScanPublic:
    """Return a scan's progress, and its result lines (with totals and the designs named) when given."""
    return ScanPublic(
        id=record.id,
        kind=record.kind,
        source=record.source,
        requested_by=record.requested_by,
        status=record.status.value,
        total=record.total,
        done=record.done,
        errors=record.errors,
        ignored=record.ignored,
        message=record.message,
        failure=record.failure,
        message_text=failure_text(record.failure, record.message),
        created_at=record.created_at,
        finished_at=record.finished_at,
        report_url=f"{API}/scans/{record.id}",
        csv_url=f"{API}/scans/{record.id}?format=csv",
        skipped=[SkippedPublic(name=name, reason=skip_text(name, why)) for name, why in record.skipped],
        totals=None if results is None else _totals(results),
        designs=designs,
        evidence_urls=evidence_urls,
        results=None if results is None else [_line_public(x) for x in results],
    )


def key_public(record: KeyRecord) -> KeyPublic:
    """Return a key without its secret."""
    return KeyPublic(
        id=record.id,
        prefix=record.prefix,
        role=record.role.value,
        firm=record.firm,
        label=record.label,
        created_at=record.created_at,
        revoked_at=record.revoked_at,
    )


def firm_public(record: FirmRecord) -> FirmPublic:
    """Return a firm."""
    return FirmPublic(
        id=record.id, name=record.name, created_at=record.created_at, design_count=record.design_count
    )
