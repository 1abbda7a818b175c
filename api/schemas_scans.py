"""The schemas of batch scans (`/api/v1/scans`), beside api/schemas.py."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_serializer

from model.errors import RejectionCode


class ScanMatchPublic(BaseModel):
    """One design in a scan result line."""

    design_id: str
    score: float


class ScanLinePublic(BaseModel):
    """One image of a scan, in the shape of the CLI's scan lines; `error` (English, as the CLI says
    it), `error_code` and `error_text` appear only on error rows."""

    image: str
    verdict: Literal["match", "review", "no_match"] | None
    matches: list[ScanMatchPublic]
    error: str | None = None
    error_code: RejectionCode | None = Field(
        None, description="why the image could not be used, as a code (absent on rows of older scans)"
    )
    error_text: str | None = Field(None, description="why, in plain words in the request's language")

    @model_serializer(mode="wrap")
    def _drop_empty_error(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        for name in ("error", "error_code", "error_text"):
            if data.get(name) is None:
                data.pop(name, None)
        return data


class SkippedPublic(BaseModel):
    """A file of the scan's source that was passed over, and why."""

    name: str
    reason: str


class ScanDesignPublic(BaseModel):
    """A design named in a scan's results, as the report shows it beside the bare id."""

    registration_number: str | None
    title: str | None
    owner: str | None
    legal_status: Literal["in_force", "expired", "not_yet_valid", "withdrawn"]
    legal_text: str
    image_url: str | None


class ScanPublic(BaseModel):
    """A batch scan and its progress; `results` once it has finished, with `totals` per verdict and
    the `designs` they name (by design id)."""

    id: int
    kind: Literal["archive", "folder"]
    source: str
    requested_by: str
    status: Literal["queued", "running", "finished", "failed"]
    total: int
    done: int
    errors: int
    ignored: int = Field(description="files passed over because they are not images")
    message: str | None = Field(description="why a failed scan failed (English, for programs and logs)")
    failure: str | None = Field(
        None,
        description="why a failed scan failed, as a code: an error's class name, `internal` or `interrupted`",
    )
    message_text: str | None = Field(None, description="why a failed scan failed, in the request's language")
    created_at: str
    finished_at: str | None
    report_url: str
    csv_url: str
    skipped: list[SkippedPublic] = Field(default_factory=list, description="files passed over, and why")
    totals: dict[str, int] | None = Field(None, description="images per verdict (`error`: unreadable)")
    designs: dict[str, ScanDesignPublic] | None = None
    evidence_urls: list[str | None] | None = Field(
        None, description="per result: its evidence picture (images that name a design), else null"
    )
    results: list[ScanLinePublic] | None = None


class ScansPublic(BaseModel):
    """A page of scans, newest first, and how many there are in all."""

    data: list[ScanPublic]
    count: int
