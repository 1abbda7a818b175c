"""The API's request and response schemas: XCreate / XUpdate in, XPublic and XsPublic(data, count) out."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api.territories import parse_territories
from index.service.catalogue import NewDesign
from index.store.validation import design_problems

API = "/api/v1"
MAX_ROW = 2**63 - 1
"""SQLite's largest integer: a larger id or offset is refused (422) rather than overflowing (500)."""
RecordId = Annotated[int, Path(ge=1, le=MAX_ROW)]
Rank = Annotated[int, Path(ge=1, le=1_000, description="1 = the best match")]
Offset = Annotated[int, Query(ge=0, le=MAX_ROW)]
LOCARNO = re.compile(r"^\d{1,2}([-.]\d{1,2})?$")


class ErrorPublic(BaseModel):
    """Every error answer: one message that says what is wrong."""

    detail: str = Field(examples=["no API key: send the header `Authorization: Bearer KEY`"])
    message: str | None = Field(
        None, description="the same in plain words, in the language of Accept-Language (en, zh-CN)"
    )


class _DesignData(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("locarno_class", check_fields=False)
    @classmethod
    def _locarno(cls, value: str | None) -> str | None:
        if value and not LOCARNO.match(value):
            raise ValueError("a Locarno class looks like 26-05 (class-subclass)")
        return value or None

    @field_validator("territories", check_fields=False)
    @classmethod
    def _territories(cls, value: str | None) -> str | None:
        return ",".join(parse_territories(value)) or None if value else None

    @model_validator(mode="after")
    def _rules(self) -> _DesignData:
        """The rules of index.store.validation, on the fields sent (the catalogue checks the whole design)."""
        problems = design_problems(self.model_dump(exclude_unset=True), require_number=False)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def stored(self, only_set: bool = False) -> dict[str, str | None]:
        """Return the fields as the registry stores them (dates as ISO strings)."""
        values = self.model_dump(exclude_unset=only_set)
        return {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}


class DesignCreate(_DesignData):
    """Registration data sent with a new design's images (multipart form fields)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    registration_number: str = Field(min_length=1, max_length=64, examples=["DM/212 345"])
    title: str | None = Field(None, max_length=200, examples=["Round silk lantern"])
    locarno_class: str | None = Field(None, max_length=8, examples=["26-05"])
    valid_from: date | None = None
    valid_until: date | None = None
    territories: str | None = Field(
        None, max_length=1000, description="ISO 3166 alpha-2 codes covered", examples=["CN,HK"]
    )

    def to_new_design(self) -> NewDesign:
        """Return the registration data as the catalogue takes it."""
        return NewDesign(**self.stored())


class DesignUpdate(_DesignData):
    """Registration data to change; fields left out stay as they are."""

    registration_number: str | None = Field(None, min_length=1, max_length=64)
    title: str | None = Field(None, max_length=200)
    locarno_class: str | None = Field(None, max_length=8)
    valid_from: date | None = None
    valid_until: date | None = None
    territories: str | None = Field(None, max_length=1000, description="ISO 3166 alpha-2 codes")


class ViewPublic(BaseModel):
    """One reference view of a design; `url` serves the image to whoever may see the design."""

    id: int
    width: int
    height: int
    url: str


class DesignPublic(BaseModel):
    """A registered design. `status` is `withdrawn` once its firm withdrew it: it no longer matches."""

    id: str
    registration_number: str | None
    title: str | None
    owner: str | None
    locarno_class: str | None
    valid_from: date | None
    valid_until: date | None
    territories: list[str] = Field(description="ISO 3166 alpha-2 codes; empty when not given")
    legal_status: Literal["in_force", "expired", "not_yet_valid", "withdrawn"] = Field(
        description="the registration's status today (UTC)"
    )
    legal_text: str = Field(description="the same in words (Accept-Language)")
    status: Literal["active", "withdrawn"]
    withdrawn_at: str | None
    image_count: int
    images: list[ViewPublic]


class DesignsPublic(BaseModel):
    """A page of designs, newest first, and how many there are in all."""

    data: list[DesignPublic]
    count: int


class ThresholdsPublic(BaseModel):
    """Score levels: a score at or above `match` is a match, at or above `review` worth a closer look."""

    match: float
    review: float


class MatchPublic(BaseModel):
    """A registered design the photo resembles, with its registration data and the view that matched."""

    rank: int
    design_id: str
    score: float
    appearance: float | None = Field(None, description="score part from appearance (CNN cosine)")
    keypoints: float | None = Field(None, description="score part from verified keypoints (`inliers`)")
    rival: float | None = Field(None, description="best other design's appearance + keypoints, subtracted")
    inliers: int | None = Field(None, description="photo keypoints that agree with the matched view")
    registration_number: str | None
    title: str | None
    owner: str | None
    locarno_class: str | None
    valid_from: date | None
    valid_until: date | None
    territories: list[str]
    design_status: Literal["active", "withdrawn"]
    legal_status: Literal["in_force", "expired", "not_yet_valid", "withdrawn"] = Field(
        description="the registration's status on the inspection date"
    )
    covers_destination: bool | None = Field(
        description="whether the territories include the destination; null when either is unknown"
    )
    level: Literal["match", "review", "below"] | None = Field(
        description="where the score stands against the thresholds in use (before legal status)"
    )
    score_text: str = Field(description="the score against the thresholds, in words (Accept-Language)")
    legal_text: str = Field(description="the legal status in words, e.g. `Expired on 2001-01-01`")
    image_id: int
    image_url: str
    evidence_url: str
    review: Literal["pending", "confirmed", "rejected"]
    reviewed_by: str | None
    reviewed_at: str | None


class InspectionPublic(BaseModel):
    """A recorded inspection: who ran it, when, the photo's sha256, the verdict and matches (best first)."""

    id: int
    created_at: str
    inspector: str
    photo_sha256: str
    filename: str | None
    verdict: Literal["match", "review", "no_match"]
    reason: str = Field(description="why the verdict is what it is, in words (Accept-Language)")
    note: str | None
    shipment_ref: str | None
    destination: str | None = Field(description="ISO 3166 alpha-2 code of where the goods go")
    thresholds: ThresholdsPublic | None = Field(description="the score levels that decided the verdict")
    model: str | None = Field(description="the model (CNN and local features) that produced the scores")
    index_generation: int | None = Field(description="the registry's change counter at the inspection")
    photo_url: str
    case_url: str = Field(description="the case file (PDF)")
    evidence_url: str | None = Field(description="the photo beside the best match's view, with the score")
    matches: list[MatchPublic]


class InspectionsPublic(BaseModel):
    """A page of inspections, newest first, and how many there are in all."""

    data: list[InspectionPublic]
    count: int


class ReviewUpdate(BaseModel):
    """An inspector's judgement of one match."""

    review: Literal["confirmed", "rejected", "pending"]


class KeyCreate(BaseModel):
    """A key to issue: its role, the firm for a firm key, and a label to recognise it by."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    role: Literal["admin", "firm", "inspector"]
    firm: str | None = Field(None, max_length=200)
    label: str | None = Field(None, max_length=100)


class KeyPublic(BaseModel):
    """A stored key without its secret; `prefix` is the start of the key, to recognise it."""

    id: int
    prefix: str
    role: Literal["admin", "firm", "inspector"]
    firm: str | None
    label: str | None
    created_at: str
    revoked_at: str | None


class KeyIssued(KeyPublic):
    """A new key: `key` is shown this once and never again (only its hash is stored)."""

    key: str


class KeysPublic(BaseModel):
    """The keys, oldest first."""

    data: list[KeyPublic]
    count: int


class FirmCreate(BaseModel):
    """A firm to add."""

    name: str = Field(min_length=1, max_length=200)


class FirmPublic(BaseModel):
    """A firm and how many designs it has registered (withdrawn ones included)."""

    id: int
    name: str
    created_at: str
    design_count: int


class FirmsPublic(BaseModel):
    """The firms, by name."""

    data: list[FirmPublic]
    count: int


class MePublic(BaseModel):
    """Who the key in the request belongs to."""

    role: Literal["admin", "firm", "inspector"]
    firm: str | None
    label: str | None
    prefix: str


class HealthPublic(BaseModel):
    """Liveness or readiness; `detail` says what is loading, `views_searchable` how many views can match."""

    status: Literal["ok", "starting", "failed"]
    detail: str | None = None
    views_searchable: int | None = None


class ReadyPublic(HealthPublic):
    """Readiness; once ready also the verdict thresholds in use and what they mean on this registry."""

    thresholds: dict[str, float] | None = Field(None, description="the verdict thresholds in use")
    thresholds_from: str | None = Field(None, description="self-calibration, shipped fallback or settings")
    self_calibration: dict[str, Any] | None = Field(None, description="its sample sizes, precision, recall")


class AuditEntryPublic(BaseModel):
    """One audit entry: when, who (key id, label or prefix, role, firm), what, on what, with which outcome.

    `digest` chains the entry to the one before (`previous`), so that an edited log shows.
    """

    id: int
    at: str
    actor: str
    key_id: int | None
    role: str | None
    firm: str | None
    action: str = Field(examples=["design.register", "inspection.create", "key.revoke"])
    target: str | None
    status: int
    detail: dict[str, Any]
    previous: str
    digest: str


class AuditEntriesPublic(BaseModel):
    """A page of the audit log, oldest first, and how many entries there are in all."""

    data: list[AuditEntryPublic]
    count: int
