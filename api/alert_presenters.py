"""Turn alerts, webhooks, look-backs and feedback counts into the API's public schemas."""

from __future__ import annotations

from api.alert_schemas import (
    AlertPublic,
    AlertSourcePublic,
    DeliveryPublic,
    FeedbackPublic,
    LookBackPeriodPublic,
    RetroCountsPublic,
    RetroPublic,
    WebhookPublic,
)
from api.schemas import API
from index.service.alerts import AlertRecord
from index.service.feedback import FeedbackCounts
from index.service.retro import RetroRecord
from index.service.webhooks import Delivery, Webhook


def alert_public(record: AlertRecord) -> AlertPublic:
    """Return an alert as the API (and its webhooks) show it."""
    source = AlertSourcePublic(inspection_id=record.inspection_id, scan_id=record.scan_id, item=record.item)
    return AlertPublic(
        id=record.id,
        design=record.design_id,
        owner=record.owner,
        source=source,
        found_at=record.found_at,
        how=record.how.value,
        verdict=record.verdict,
        score=round(record.score, 4),
        evidence_url=f"{API}/alerts/{record.id}/evidence",
        photo_sha256=record.photo_sha256,
        image_id=record.image_id,
        retro_id=record.retro_id,
        state=record.state.value,
        marked_at=record.marked_at,
    )


def alert_json(record: AlertRecord) -> dict:
    """Return an alert as the JSON a webhook delivers."""
    return alert_public(record).model_dump(mode="json")


def webhook_public(hook: Webhook) -> WebhookPublic:
    """Return an endpoint without its secret."""
    return WebhookPublic(
        id=hook.id, firm=hook.firm, url=hook.url, events=hook.events, created_at=hook.created_at
    )


def delivery_public(delivery: Delivery) -> DeliveryPublic:
    """Return one delivery's record."""
    return DeliveryPublic(
        id=delivery.id,
        alert_id=delivery.alert_id,
        event=delivery.event,
        state=delivery.state,
        attempts=delivery.attempts,
        last_status=delivery.last_status,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        finished_at=delivery.finished_at,
    )


def feedback_public(design_id: str, counts: FeedbackCounts) -> FeedbackPublic:
    """Return a design's feedback counts and its generic-motif flag."""
    return FeedbackPublic(
        design_id=design_id,
        confirmed=counts.confirmed,
        rejected=counts.rejected,
        pending=counts.pending,
        alerts_confirmed=counts.alerts_confirmed,
        alerts_dismissed=counts.alerts_dismissed,
        alerts_new=counts.alerts_new,
        likely_generic=counts.likely_generic,
    )


def retro_public(
    design_id: str, run: RetroRecord | None, results: list[AlertRecord], retain_days: int, period_from: str
) -> RetroPublic:
    """Return a design's latest look-back (state `none` when it never had one) and its alerts."""
    period = LookBackPeriodPublic(
        retain_days=run.retain_days if run else retain_days,
        from_=(run.look_back_from if run else period_from),
        to=(run.created_at if run else None),
    )
    if run is None:
        return RetroPublic(
            design_id=design_id, retro_id=None, state="none", reason=None, counts=None, look_back=period,
            seconds=None, message=None, created_at=None, finished_at=None, results=[],
        )  # fmt: skip
    counts = RetroCountsPublic(
        photos=run.photos, shortlisted=run.shortlisted, verified=run.verified, found=run.found,
        suppressed=run.suppressed, alerts=run.alerts,
    )  # fmt: skip
    return RetroPublic(
        design_id=design_id, retro_id=run.id, state=run.state.value, reason=run.reason, counts=counts,
        look_back=period, seconds=run.seconds, message=run.message, created_at=run.created_at,
        finished_at=run.finished_at, results=[alert_public(a) for a in results],
    )  # fmt: skip
