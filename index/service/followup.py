"""What follows a verdict: the photo is kept for look-backs, alerts go to the firms whose designs it names.

The desk and the scanner each make one call here after they recorded a result; a look-back makes
one when it is done. Every `match` or `review` naming a firm's design becomes an alert (queued
for the firm's webhooks) unless reviewer feedback suppresses it (index/service/feedback.py). The
audit log has the action that led to it (the inspection, the scan, the registration that queued a
look-back) and each mark the firm makes; alerts themselves are records, with their `found_at`.
Keeping the photo or raising an alert never fails the inspection that led to it: a failure is
logged and the inspection stands.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np

from index.engine import Engine, Inspection, LookBack
from index.matching.legal import day_of, design_verdict, today
from index.matching.verdict import Verdict
from index.service.alerts import AlertLog, AlertRecord, How, NewAlert, Sighting, scan_item
from index.service.delivery import Dispatcher
from index.service.feedback import Feedback
from index.service.inspections import InspectionRecord
from index.service.scans import ScanLog
from index.service.webhooks import Webhooks

logger = logging.getLogger(__name__)


class FollowUp:
    """Keeps photos, raises alerts and queues their webhooks; `payload` gives an alert's public JSON."""

    def __init__(
        self,
        engine: Engine,
        alerts: AlertLog,
        feedback: Feedback,
        hooks: Webhooks,
        dispatcher: Dispatcher,
        scans: ScanLog,
        payload: Callable[[AlertRecord], dict[str, Any]],
    ) -> None:
        self.engine = engine
        self.alerts = alerts
        self.feedback = feedback
        self.hooks = hooks
        self.dispatcher = dispatcher
        self.scans = scans
        self.payload = payload

    def inspected(self, record: InspectionRecord, result: Inspection) -> list[AlertRecord]:
        """Keep an inspection's photo and alert the owners of the designs it names. Returns the alerts."""
        try:
            vector = self.engine.keep_photo(result, self.engine.blobs.get(result.sha256))
            source = Sighting(inspection_id=record.id)
            return self._live(
                result, How.INSPECTION, source, vector, day_of(record.created_at), record.destination
            )
        except Exception:
            logger.exception("inspection %d: keeping its photo or raising its alerts failed", record.id)
            return []

    def scanned(self, scan_id: int, start: int, items: list[tuple[int, str, bytes, Inspection]]) -> None:
        """Keep a scan batch's readable images (position in batch, name, bytes, result) and alert owners."""
        try:
            vectors = []
            for _, _, data, result in items:
                self.engine.blobs.put(data)
                vectors.append(self.engine.keep_photo(result, data))
            self.scans.add_photos(scan_id, [(start + p, name, r.sha256) for p, name, _, r in items])
            for (position, name, _, result), vector in zip(items, vectors, strict=True):
                source = Sighting(scan_id=scan_id, item=scan_item(start + position, name))
                self._live(result, How.SCAN, source, vector, today(), None)
        except Exception:
            logger.exception("scan %d: keeping its images or raising their alerts failed", scan_id)

    def looked_back(self, retro_id: int, look: LookBack) -> tuple[int, int]:
        """Raise alerts for what a look-back found. Returns (alerts raised, hits suppressed or known)."""
        new, skipped = [], 0
        vectors = self.engine.photo_store.get([h.photo_id for h in look.hits])
        by_id = {p.id: p.vector for p in vectors}
        for hit in look.hits:
            if self.alerts.known(look.design_pk, hit.sha256):
                skipped += 1
                continue
            if self.feedback.suppresses(look.design_pk, hit.sha256, by_id.get(hit.photo_id)):
                skipped += 1
                continue
            source = self.alerts.sighting(hit.sha256)
            alert = NewAlert(
                look.design_pk,
                How.RETRO,
                source,
                hit.sha256,
                hit.image_id,
                hit.verdict.value,
                hit.score,
                retro_id,
            )
            new.append(alert)
        return len(self._store(new)), skipped

    def marked(self, alert: AlertRecord) -> None:
        """Tell the firm's webhooks that an alert was marked."""
        if alert.owner is not None:
            self.hooks.enqueue(alert.owner, "alert.updated", alert.id, {"alert": self.payload(alert)})
            self.dispatcher.wake()

    def _live(
        self,
        result: Inspection,
        how: How,
        source: Sighting,
        vector: np.ndarray,
        on: date,
        destination: str | None,
    ) -> list[AlertRecord]:
        """Alert the owners of the designs a result names, each at the verdict its legal status allows."""
        thresholds = self.engine.thresholds
        new = []
        for match in result.matches:
            verdict = design_verdict(match.design, match.score, thresholds, on, destination)
            if verdict is Verdict.NO_MATCH or match.design.owner is None:
                continue
            if self.feedback.suppresses(match.design.pk, result.sha256, vector):
                logger.info(
                    "alert of %s for %s suppressed by a rejection", result.sha256[:12], match.design.design_id
                )
                continue
            new.append(
                NewAlert(
                    match.design.pk, how, source, result.sha256, match.image_id, verdict.value, match.score
                )
            )
        return self._store(new)

    def _store(self, new: list[NewAlert]) -> list[AlertRecord]:
        if not new:
            return []
        stored = self.alerts.create(new)
        for alert in stored:
            if alert.owner is not None:
                self.hooks.enqueue(alert.owner, "alert.created", alert.id, {"alert": self.payload(alert)})
        self.dispatcher.wake()
        return stored
