"""The per-image result contract shared by the CLI's scan lines and the service's scan reports."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from index.engine import Inspection, Rejected
from index.matching.legal import legal_status
from index.store.registry import DesignRecord

CSV_COLUMNS = ("image", "verdict", "design_id", "score", "matches", "error", "title", "owner", "legal_status")
"""The report's columns; `design_id` to `legal_status` name the best design, empty for `no_match`."""


def scan_line(result: Inspection | Rejected, image: str | None = None) -> dict[str, Any]:
    """Return the JSON object of one scanned image (the `scan` output contract).

    `image` names the input in the report (default: the engine's name for it).
    """
    name = result.source if image is None else image
    if isinstance(result, Rejected):
        return {"image": name, "verdict": None, "matches": [], "error": result.reason}
    return {
        "image": name,
        "verdict": result.verdict.value,
        "matches": [{"design_id": m.design.design_id, "score": round(m.score, 4)} for m in result.matches],
    }


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (OWASP, CSV injection)."""


def csv_cell(value: Any) -> Any:
    """Return a cell that no spreadsheet runs: text starting like a formula gets a leading `'`
    (OWASP's CSV-injection guidance); numbers are kept as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def scan_csv(
    lines: Iterable[dict[str, Any]], designs: Mapping[str, DesignRecord] | None = None, on: date | None = None
) -> str:
    """Return scan lines as CSV: the best design (none for `no_match`) with its score, title, owner
    and legal status on `on` (from `designs`, by design id), all matches as `id:score;...`, the error.

    Every text cell goes through `csv_cell`, so an entry named `=HYPERLINK(...)` stays text; rows end
    with CRLF (RFC 4180), so a cell holding a CR or LF is quoted and cannot start a row of its own.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        matches = line.get("matches") or []
        named = line.get("verdict") in ("match", "review") and matches
        best = matches[0] if named else {}
        design = (designs or {}).get(best.get("design_id", ""))
        status = legal_status(design, on).value if design is not None and on is not None else ""
        writer.writerow(
            csv_cell(cell)
            for cell in [
                line["image"],
                line.get("verdict") or "",
                best.get("design_id", ""),
                best.get("score", ""),
                ";".join(f"{m['design_id']}:{m['score']}" for m in matches),
                line.get("error", ""),
                design.title or "" if design else "",
                design.owner or "" if design else "",
                status,
            ]
        )
    return buffer.getvalue()
