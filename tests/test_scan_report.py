"""A scan's report: totals per verdict, the files passed over and why, designs named with title,
owner and legal status; the CSV's `title`, `owner`, `legal_status` and no design for `no_match`."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from model.embedder import Embedder
from tests.conftest import draw_design, jpeg_bytes
from tests.service_kit import Service, photo_of, running, zip_bytes
from tests.test_api_scans import finished


@pytest.fixture
def service(tmp_path: Path, embedder: Embedder):
    with running(tmp_path / "home", embedder) as service:
        yield service


def test_the_report_names_designs_counts_verdicts_and_skipped_files(service: Service) -> None:
    design = service.register("firm_a", 1, valid_until="2001-01-01")
    unrelated = jpeg_bytes(draw_design(40).resize((300, 225)))
    archive = zip_bytes(
        {"a.jpg": photo_of(1), "b.jpg": unrelated, "c.jpg": b"junk", "notes.txt": b"x", ".DS_Store": b"x"}
    )
    files = {"archive": ("s.zip", archive, "application/zip")}
    scan = service.client.post("/api/v1/scans", files=files, headers=service.auth("inspector")).json()
    body = finished(service, scan["id"])
    assert sum(body["totals"].values()) == 3 and body["totals"]["error"] == 1
    assert {(s["name"], s["reason"]) for s in body["skipped"]} == {
        ("notes.txt", "not a photo (.txt file)"),
        (".DS_Store", "a hidden or system file"),
    }
    named = body["designs"][design["id"]]
    assert named["title"] == "Lantern 1" and named["owner"] == "Zigong Lights"
    assert named["legal_status"] == "expired" and named["legal_text"] == "Expired on 2001-01-01"
    assert body["results"][0]["verdict"] == "review"
    assert body["evidence_urls"][0] and body["evidence_urls"][2] is None
    picture = service.client.get(body["evidence_urls"][0], headers=service.auth("inspector"))
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    refused = service.client.get(body["evidence_urls"][0], headers=service.auth("firm_a"))
    assert refused.status_code == 403
    missing = service.client.get(
        f"/api/v1/scans/{scan['id']}/results/2/evidence", headers=service.auth("inspector")
    )
    assert missing.status_code == 404
    report = service.client.get(scan["csv_url"], headers=service.auth("inspector")).text
    rows = {r["image"]: r for r in csv.DictReader(io.StringIO(report))}
    assert report.splitlines()[0].endswith(",title,owner,legal_status")
    assert rows["a.jpg"]["title"] == "Lantern 1" and rows["a.jpg"]["owner"] == "Zigong Lights"
    assert rows["a.jpg"]["legal_status"] == "expired" and rows["a.jpg"]["design_id"] == design["id"]
    for name, row in rows.items():
        if row["verdict"] in ("no_match", ""):
            assert row["design_id"] == "" and row["title"] == "" and row["legal_status"] == "", name
    zh = service.client.get(
        f"/api/v1/scans/{scan['id']}", headers={**service.auth("inspector"), "Accept-Language": "zh-CN"}
    ).json()
    assert zh["designs"][design["id"]]["legal_text"] != named["legal_text"]
