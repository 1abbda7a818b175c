"""The case file of an inspection: one HTML document for the printable page and the PDF (WeasyPrint).

It holds what a rights holder or a court needs: the verdict and why, the photo and its sha256, the
matched design's views and the keypoint evidence, the registration data with validity and territories,
the inspection's number, times (local and UTC), shipment, destination, note and inspector, and the
model and registry generation that produced the scores. Pictures are inline (data URIs) in the PDF
and loaded from the API with the viewer's key on the page.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment
from PIL import Image, ImageFile, ImageOps

from api import i18n
from api.explain import evidence_labels
from api.presenters import image_url, inspection_public
from api.schemas import InspectionPublic, MatchPublic
from api.services import Services
from index.engine import Engine, Inspection
from index.errors import InvalidInput
from index.service.design_records import ServiceRegistry
from index.service.desk import evidence_png
from index.service.inspections import InspectionRecord


def _import_weasyprint() -> type:
    """Import WeasyPrint's HTML, undoing the global it sets on import: it makes Pillow accept
    truncated images (`ImageFile.LOAD_TRUNCATED_IMAGES = True`), which would let the service take a
    damaged photo for a whole one. Imported once, when this module loads, before any request."""
    kept = ImageFile.LOAD_TRUNCATED_IMAGES
    from weasyprint import HTML

    ImageFile.LOAD_TRUNCATED_IMAGES = kept
    return HTML


WEASYPRINT_HTML = _import_weasyprint()
STATIC = Path(__file__).parent / "static"
PHOTO_SIDE = 900
VIEW_SIDE = 420


@dataclass(frozen=True)
class Picture:
    """A picture of the case file: the API path that serves it, and its bytes when inlined (PDF)."""

    url: str
    data: bytes | None = None

    def data_uri(self, side: int) -> str:
        """Return the picture as a JPEG data URI no larger than `side` pixels (for the PDF)."""
        if self.data is None:
            return ""
        image = ImageOps.exif_transpose(Image.open(io.BytesIO(self.data))).convert("RGB")
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85)
        return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


@dataclass(frozen=True)
class CaseFile:
    """Everything the case file shows; `design` is the match it is about (None: nothing came close)."""

    inspection: InspectionPublic
    photo: Picture
    design: MatchPublic | None
    views: list[Picture]
    evidence: Picture | None
    zone: str


def zone_of(name: str | None) -> ZoneInfo | None:
    """Return the time zone of an IANA name (None: the server's). Raises InvalidInput for an unknown one."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown time zone {name!r}: give one such as Asia/Shanghai") from exc


def principal_match(inspection: InspectionPublic) -> MatchPublic | None:
    """Return the match the case is about: the best at or above the review level (None if there is none)."""
    return next((m for m in inspection.matches if m.level in ("match", "review")), None)


def local_time(iso: str, zone: str | None) -> tuple[str, str]:
    """Return (local time with its zone, UTC time) of a recorded ISO timestamp."""
    moment = datetime.fromisoformat(iso).astimezone(UTC)
    local = moment.astimezone(zone_of(zone)) if zone else moment.astimezone()
    return local.strftime("%Y-%m-%d %H:%M:%S %Z (UTC%z)"), moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def render_html(environment: Environment, case: CaseFile, pdf: bool) -> str:
    """Return the case file as HTML: a whole document for the PDF, the article alone for the page."""
    local, utc = local_time(case.inspection.created_at, case.zone)
    template = environment.get_template("case_file.html")
    return template.render(
        case=case,
        i=case.inspection,
        local=local,
        utc=utc,
        pdf=pdf,
        lang=i18n.html_lang(i18n.current()),
        countries=lambda codes: ", ".join(f"{i18n.country(code)} ({code})" for code in codes),
        photo_side=PHOTO_SIDE,
        view_side=VIEW_SIDE,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def render_pdf(environment: Environment, case: CaseFile) -> bytes:
    """Return the case file as a PDF, laid out by WeasyPrint from the same HTML (fonts with Chinese)."""
    html = render_html(environment, case, pdf=True)
    return WEASYPRINT_HTML(string=html, base_url=str(STATIC) + "/").write_pdf()


def case_for_record(services: Services, inspection_id: int, zone: str | None, inline: bool) -> CaseFile:
    """Return the case file of a recorded inspection; `inline` fetches the pictures' bytes (PDF).

    Raises UnknownRecord, InvalidInput for an unknown time zone.
    """
    zone_of(zone)
    record = services.inspection_log.get(inspection_id)
    public = inspection_public(record, services.desk.designs_of([record]))
    design = principal_match(public)
    photo = Picture(public.photo_url, services.desk.photo(inspection_id) if inline else None)
    views: list[Picture] = []
    evidence = None
    if design is not None:
        cited = next(m for m in record.matches if m.rank == design.rank)
        blobs = services.engine.blobs
        views = [
            Picture(image_url(v.id), blobs.get(v.sha256) if inline else None)
            for v in services.registry.views(cited.design_pk)
        ]
        evidence = Picture(
            design.evidence_url,
            services.desk.evidence(inspection_id, design.rank, evidence_labels()) if inline else None,
        )
    return CaseFile(public, photo, design, views, evidence, zone or "")


def case_for_photo(
    engine: Engine, photo: bytes, filename: str, result: Inspection, zone: str | None
) -> CaseFile:
    """Return the case file of a photo inspected on the command line (not recorded: no number)."""
    zone_of(zone)
    record = InspectionRecord.unrecorded(result, filename, engine.model, engine.registry.generation())
    public = inspection_public(record, {m.design.pk: m.design for m in result.matches})
    design = principal_match(public)
    views: list[Picture] = []
    evidence = None
    if design is not None:
        match = result.matches[design.rank - 1]
        registry = ServiceRegistry(engine.registry.path)
        try:
            views = [Picture("", engine.blobs.get(v.sha256)) for v in registry.views(match.design.pk)]
        finally:
            registry.close()
        evidence = Picture("", evidence_png(engine, photo, match, labels=evidence_labels()))
    return CaseFile(public, Picture("", photo), design, views, evidence, zone or "")
