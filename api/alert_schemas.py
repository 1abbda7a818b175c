"""The API's schemas of alerts, webhooks, look-backs and reviewer feedback (issue 13's part of the API)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AlertSourcePublic(BaseModel):
    """Where the photo of an alert was seen: an inspection, or one item (`position:name`) of a scan."""

    inspection_id: int | None = None
    scan_id: int | None = None
    item: str | None = None


class AlertPublic(BaseModel):
    """A `match` or `review` that named a firm's design, live or on looking back; `state`: the firm's mark."""

    id: int
    design: str = Field(description="the design's id")
    owner: str | None
    source: AlertSourcePublic
    found_at: str
    how: Literal["inspection", "scan", "retro"]
    verdict: Literal["match", "review"]
    score: float
    evidence_url: str = Field(description="the photo beside the design's view, with the score (PNG)")
    photo_sha256: str
    image_id: int = Field(description="the design's view that matched")
    retro_id: int | None = Field(None, description="the look-back that found it (how = retro)")
    state: Literal["new", "confirmed", "dismissed"]
    marked_at: str | None


class AlertsPublic(BaseModel):
    """A page of alerts, newest first, and how many there are in all."""

    data: list[AlertPublic]
    count: int


class AlertUpdate(BaseModel):
    """The firm's mark on an alert; `dismissed` also stops near-duplicates of its photo alerting again."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["new", "confirmed", "dismissed"]


class WebhookCreate(BaseModel):
    """An endpoint to deliver a firm's events to (http or https; see docs/retro.md for the rules)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(min_length=8, max_length=2_000, examples=["https://hooks.example.com/lanternguard"])
    events: list[Literal["alert.created", "alert.updated"]] = Field(min_length=1, max_length=2)


class WebhookPublic(BaseModel):
    """A registered endpoint (its secret is never shown again)."""

    id: int
    firm: str
    url: str
    events: list[str]
    created_at: str


class WebhookIssued(WebhookPublic):
    """A new endpoint: `secret` signs every delivery (HMAC-SHA256); it is shown this once."""

    secret: str


class WebhooksPublic(BaseModel):
    """The live endpoints, oldest first."""

    data: list[WebhookPublic]
    count: int


class DeliveryPublic(BaseModel):
    """One delivery of one event: pending, delivered or failed, after how many attempts."""

    id: int
    alert_id: int | None
    event: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: str
    finished_at: str | None


class DeliveriesPublic(BaseModel):
    """An endpoint's deliveries, newest first."""

    data: list[DeliveryPublic]
    count: int


class LookBackPeriodPublic(BaseModel):
    """Which photos a look-back could see: those kept, seen from `from` to `to` (the retention period)."""

    model_config = ConfigDict(populate_by_name=True)

    retain_days: int
    from_: str | None = Field(None, alias="from", serialization_alias="from")
    to: str | None


class RetroCountsPublic(BaseModel):
    """Kept photos searched, shortlisted by appearance, verified geometrically, found, suppressed, alerted."""

    photos: int
    shortlisted: int
    verified: int
    found: int
    suppressed: int = Field(description="found but already alerted, or ruled out by a rejection")
    alerts: int


class RetroPublic(BaseModel):
    """The latest look-back of a design at the photos kept before it was registered or gained views."""

    design_id: str
    retro_id: int | None
    state: Literal["none", "queued", "running", "finished", "failed"]
    reason: str | None
    counts: RetroCountsPublic | None
    look_back: LookBackPeriodPublic
    seconds: float | None
    message: str | None
    created_at: str | None
    finished_at: str | None
    results: list[AlertPublic]


class FeedbackPublic(BaseModel):
    """How a design's matches were judged: inspectors' reviews and the firm's marks on alerts.

    `likely_generic`: its matches are rejected so often that its motif is probably a generic one.
    """

    design_id: str
    confirmed: int
    rejected: int
    pending: int
    alerts_confirmed: int
    alerts_dismissed: int
    alerts_new: int
    likely_generic: bool


class FeedbacksPublic(BaseModel):
    """Feedback counts per design (a firm's own; every design for the admin)."""

    data: list[FeedbackPublic]
    count: int
