"""The schemas of a firm's hits (`GET /api/v1/hits`), beside api/schemas.py."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class HitPublic(BaseModel):
    """An inspection or scan item whose match or review names one of the firm's designs.

    Only that design's score is shown; `verdict` is where that score stands (`match` or `review`).
    """

    kind: Literal["inspection", "scan"]
    id: int = Field(description="the inspection's or the scan's number")
    item: int = Field(description="the match's rank (inspections) or the image's position (scans)")
    created_at: str
    verdict: Literal["match", "review"]
    score: float
    score_text: str
    design_id: str
    registration_number: str | None
    title: str | None
    legal_status: Literal["in_force", "expired", "not_yet_valid", "withdrawn"]
    legal_text: str
    destination: str | None
    image_url: str | None = Field(description="the design's first view")
    evidence_url: str | None = Field(description="the photo beside the design's view (inspections)")


class HitsPublic(BaseModel):
    """A page of hits on the firm's designs, newest first, and how many there are in all."""

    data: list[HitPublic]
    count: int
