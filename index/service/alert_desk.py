"""The firm's side of alerts: mark them, see their evidence, add a confirmed photo as a field view."""

from __future__ import annotations

from index.engine import Engine
from index.errors import Conflict, UnknownRecord
from index.matching.evidence import ENGLISH, EvidenceLabels, design_caption, render_evidence
from index.service.alerts import AlertLog, AlertRecord, AlertState
from index.service.catalogue import Catalogue, DesignView
from index.service.followup import FollowUp
from index.service.uploads import Upload
from model.images import load_image


class AlertDesk:
    """Every operation takes the caller's firm (`owner`; None for the admin where reading is allowed)."""

    def __init__(self, engine: Engine, alerts: AlertLog, catalogue: Catalogue, follow_up: FollowUp) -> None:
        self.engine = engine
        self.alerts = alerts
        self.catalogue = catalogue
        self.follow_up = follow_up

    def mark(self, alert_id: int, owner: str, state: AlertState, key_id: int) -> AlertRecord:
        """Record the firm's judgement (dismissed suppresses the photo's near-duplicates for the design).

        Returns the alert. Raises UnknownRecord or Forbidden.
        """
        alert = self.alerts.mark(alert_id, owner, state, key_id)
        self.follow_up.marked(alert)
        return alert

    def evidence(self, alert_id: int, owner: str | None, labels: EvidenceLabels = ENGLISH) -> bytes:
        """Return a PNG of the alert's photo beside the design's view, with the score (words: `labels`).

        Raises UnknownRecord (also when retention removed the photo) or Forbidden.
        """
        alert = self.alerts.get(alert_id, owner)
        photo = self._photo(alert)
        view = self.catalogue.image(alert.image_id, None)[1]
        design = self.catalogue.registry.design_by_pk(alert.design_pk)
        verification = self.engine.explain(photo, alert.image_id)
        return render_evidence(
            load_image(photo),
            load_image(view),
            alert.score,
            design_caption(design),
            verification,
            labels=labels,
        )

    def add_as_view(self, alert_id: int, owner: str) -> DesignView:
        """Add a confirmed alert's photo to its design as a field view. Returns the design.

        Raises Conflict when the alert is not confirmed (or the design is withdrawn or full),
        UnknownRecord when the photo is no longer kept, Forbidden for another firm's alert.
        """
        alert = self.alerts.get(alert_id, owner)
        if alert.state is not AlertState.CONFIRMED:
            raise Conflict(f"alert {alert_id} is {alert.state.value}: confirm it before adding its photo")
        photo = self._photo(alert)
        return self.catalogue.add_views(alert.design_id, owner, [Upload(f"alert-{alert_id}.jpg", photo)])

    def _photo(self, alert: AlertRecord) -> bytes:
        try:
            return self.engine.blobs.get(alert.photo_sha256)
        except FileNotFoundError as exc:
            raise UnknownRecord(f"the photo of alert {alert.id} is no longer kept (retention)") from exc
