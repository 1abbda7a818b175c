"""A scan's report: totals per verdict, the files passed over and why, designs named with title,
owner and legal status; the CSV's `title`, `owner`, `legal_status` and no design for `no_match`."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from index.service.scans import ScanStatus
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


def test_refused_files_and_failed_scans_are_told_in_the_readers_language(service: Service) -> None:
    service.register("firm_a", 1)
    whole = photo_of(1)
    archive = zip_bytes({"a.jpg": whole, "x.jpg": b"junk", "cut.jpg": whole[: len(whole) // 2], "e.jpg": b""})
    files = {"archive": ("s.zip", archive, "application/zip")}
    scan = service.client.post("/api/v1/scans", files=files, headers=service.auth("inspector")).json()
    english = finished(service, scan["id"])
    zh_headers = {**service.auth("inspector"), "Accept-Language": "zh-CN"}
    chinese = service.client.get(f"/api/v1/scans/{scan['id']}", headers=zh_headers).json()
    rows = {r["image"]: r for r in english["results"]}
    zh_rows = {r["image"]: r for r in chinese["results"]}
    assert "error" not in rows["a.jpg"] and "error_text" not in zh_rows["a.jpg"]
    assert rows["x.jpg"]["error"] == "x.jpg: not an image in a supported format", "the English reason stays"
    assert zh_rows["x.jpg"]["error"] == rows["x.jpg"]["error"]
    codes = {name: zh_rows[name]["error_code"] for name in ("x.jpg", "cut.jpg", "e.jpg")}
    assert codes == {"x.jpg": "not_an_image", "cut.jpg": "damaged", "e.jpg": "empty"}
    assert rows["x.jpg"]["error_text"].startswith("not a photo")
    assert zh_rows["x.jpg"]["error_text"].startswith("不是照片")
    assert (
        zh_rows["cut.jpg"]["error_text"] == "照片已损坏或不完整"
        and zh_rows["e.jpg"]["error_text"] == "文件是空的"
    )
    log = service.services.scan_log
    log.set_status(scan["id"], ScanStatus.RUNNING)
    log.fail_unfinished("the service stopped before this scan finished; start it again")
    stopped = service.client.get(f"/api/v1/scans/{scan['id']}", headers=zh_headers).json()
    assert stopped["status"] == "failed" and stopped["failure"] == "interrupted"
    assert stopped["message"].startswith("the service stopped") and "重新开始扫描" in stopped["message_text"]


def test_a_scan_with_nothing_to_search_fails_in_plain_words(service: Service) -> None:
    files = {"archive": ("s.zip", zip_bytes({"a.jpg": photo_of(1)}), "application/zip")}
    headers = {**service.auth("inspector"), "Accept-Language": "zh-CN"}
    scan = service.client.post("/api/v1/scans", files=files, headers=headers)
    assert scan.status_code == 202, "the index is found empty when the scan runs"
    body = finished(service, scan.json()["id"])
    chinese = service.client.get(f"/api/v1/scans/{body['id']}", headers=headers).json()
    assert body["status"] == "failed" and body["failure"] == "IndexNotReady"
    assert body["message_text"] == "No design can be searched yet: designs must be registered first."
    assert chinese["message_text"] != body["message_text"] and chinese["message"] == body["message"]
