"""The audit log (admins): every write and every inspection, who did it and when; read or exported."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.auth import AdminKey
from api.errors import error_responses
from api.schemas import API, MAX_ROW, AuditEntriesPublic, AuditEntryPublic, Offset
from api.services import ServicesDep
from index.errors import Forbidden, NotAuthenticated

router = APIRouter(prefix=f"{API}/audit", tags=["keys"])


@router.get(
    "",
    response_model=AuditEntriesPublic,
    summary="Read the audit log, oldest first (admins); ?format=jsonl exports all of it",
    responses={
        200: {"content": {"application/x-ndjson": {}}, "description": "A page, or every entry as JSON lines"},
        **error_responses(NotAuthenticated, Forbidden),
    },
)
def read_audit_log(
    key: AdminKey,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
    after: Annotated[int, Query(ge=0, le=MAX_ROW, description="jsonl: only entries after this id")] = 0,
    export: Annotated[Literal["json", "jsonl"], Query(alias="format")] = "json",
) -> AuditEntriesPublic | StreamingResponse:
    """Return a page of entries, or with `format=jsonl` every entry after `after` as JSON lines."""
    log = services.audit
    if export == "jsonl":

        def lines() -> Iterator[str]:
            for entry in log.entries(after):
                yield json.dumps(entry.as_json(), ensure_ascii=False) + "\n"

        headers = {"Content-Disposition": 'attachment; filename="lanternguard-audit.jsonl"'}
        return StreamingResponse(lines(), media_type="application/x-ndjson", headers=headers)
    entries = [AuditEntryPublic(**e.as_json()) for e in log.page(limit, offset)]
    return AuditEntriesPublic(data=entries, count=log.count())
