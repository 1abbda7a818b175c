"""Batch scans: a zip of photos, or a folder under an allowed root, inspected in the background."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile

from api.auth import AuditKey, InspectorKey
from api.errors import error_responses
from api.explain import evidence_labels
from api.presenters import scan_designs, scan_public
from api.schemas import API, Offset, RecordId
from api.schemas_scans import ScanPublic, ScansPublic
from api.services import ServicesDep
from api.uploads import check_zip
from index.batch.reports import scan_csv
from index.errors import (
    Conflict,
    Forbidden,
    IndexNotReady,
    InvalidInput,
    NotAuthenticated,
    PayloadTooLarge,
    UnknownRecord,
    UnsupportedMediaType,
)
from index.matching.legal import day_of
from index.service.scans import ScanStatus
from index.store.registry import DesignRecord

router = APIRouter(prefix=f"{API}/scans", tags=["scans"])

_DONE = (ScanStatus.FINISHED, ScanStatus.FAILED)


@router.post(
    "",
    status_code=202,
    response_model=ScanPublic,
    summary="Start a scan of a zip archive or a server folder (inspector keys)",
    responses=error_responses(
        NotAuthenticated, Forbidden, InvalidInput, PayloadTooLarge, UnsupportedMediaType, IndexNotReady
    ),
)
def start_scan(
    key: InspectorKey,
    services: ServicesDep,
    archive: Annotated[UploadFile | None, File(description="a zip of photos")] = None,
    folder: Annotated[
        str | None, Form(description="a folder on the server, under LANTERNGUARD_SCAN_ROOTS")
    ] = None,
) -> ScanPublic:
    """Queue a scan and answer at once (202); poll `report_url` for progress and results.

    The archive is checked first (no absolute or `..` paths, links, nested or encrypted archives);
    after that a bad image is one error row, never a failed scan.
    """
    if (archive is None) == (not folder):
        raise InvalidInput("send either a zip file in the field `archive` or a server path in `folder`")
    if archive is not None:
        check_zip(archive)
        record = services.scanner.start_archive(key.id, archive.filename or "archive.zip", archive.file)
    else:
        record = services.scanner.start_folder(key.id, folder or "", services.settings.scan_roots)
    return scan_public(record)


@router.get(
    "",
    response_model=ScansPublic,
    summary="List scans, newest first (inspectors, admins)",
    responses=error_responses(NotAuthenticated, Forbidden),
)
def list_scans(
    key: AuditKey,
    services: ServicesDep,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    offset: Offset = 0,
) -> ScansPublic:
    """Return a page of scans with their progress."""
    records, count = services.scan_log.page(limit or services.settings.page_size, offset)
    return ScansPublic(data=[scan_public(r) for r in records], count=count)


@router.get(
    "/{scan_id}",
    response_model=ScanPublic,
    summary="A scan's progress, and its per-image results once it has finished (JSON or CSV)",
    responses={
        200: {"content": {"text/csv": {}}, "description": "Progress and results; CSV with ?format=csv"},
        **error_responses(NotAuthenticated, Forbidden, UnknownRecord, Conflict),
    },
)
def get_scan(
    scan_id: RecordId,
    key: AuditKey,
    services: ServicesDep,
    report: Annotated[
        Literal["json", "csv"], Query(alias="format", description="csv: the results as a spreadsheet")
    ] = "json",
) -> ScanPublic | Response:
    """Return progress (done/total/errors); when finished, the result of every image.

    Results have the shape of the CLI's scan lines. The CSV is there once the scan has ended (409 before).
    """
    record = services.scan_log.get(scan_id)
    finished = record.status in _DONE
    if report == "csv":
        if not finished:
            raise Conflict(f"scan {scan_id} is {record.status.value}: its report is ready when it ends")
        name = f"lanternguard-scan-{scan_id}.csv"
        results = services.scan_log.results(scan_id)
        return Response(
            scan_csv(results, _named(services, results), day_of(record.created_at)),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    if not finished:
        return scan_public(record)
    results = services.scan_log.results(scan_id)
    designs = _named(services, results)
    views = services.registry.views_of(sorted(d.pk for d in designs.values()))
    evidence = services.scan_log.evidence_positions(scan_id)
    urls = [
        f"{API}/scans/{scan_id}/results/{p}/evidence" if p in evidence else None for p in range(len(results))
    ]
    return scan_public(record, results, scan_designs(record, designs, views), urls)


@router.get(
    "/{scan_id}/results/{position}/evidence",
    response_class=Response,
    summary="Evidence picture of one scanned image that names a design: the photo beside its view (PNG)",
    responses={
        200: {"content": {"image/png": {}}},
        **error_responses(NotAuthenticated, Forbidden, UnknownRecord),
    },
)
def scan_evidence(
    scan_id: RecordId,
    position: Annotated[int, Path(ge=0, le=1_000_000)],
    key: AuditKey,
    services: ServicesDep,
) -> Response:
    """Return the evidence PNG of the image at `position` (0 = the first) of a scan naming a design."""
    photo, image_id, line = services.scan_log.evidence_of(scan_id, position)
    png = services.desk.evidence_of(
        photo, image_id, float(line["matches"][0]["score"]), labels=evidence_labels()
    )
    return Response(png, media_type="image/png")


def _evidence_url(scan_id: int, position: int) -> str:
    return f"{API}/scans/{scan_id}/results/{position}/evidence"


def _named(services: ServicesDep, results: list[dict]) -> dict[str, DesignRecord]:
    """Return the designs that scan results name, by id."""
    ids = sorted({m["design_id"] for line in results for m in line.get("matches", [])})
    return services.registry.designs_by_id(ids)
