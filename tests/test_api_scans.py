"""Batch scans through the HTTP API: zip archives and allowed folders, progress, reports, bad archives."""

from __future__ import annotations

import csv
import io
import json
import stat
import time
import zipfile
from pathlib import Path

import pytest

from index.batch.reports import scan_line
from model.embedder import Embedder
from tests.service_kit import Service, photo_of, running, zip_bytes


@pytest.fixture
def roots(tmp_path: Path) -> Path:
    root = tmp_path / "customs"
    (root / "day1" / "crate").mkdir(parents=True)
    (root / "day1" / "photo-1.jpg").write_bytes(photo_of(1))
    (root / "day1" / "crate" / "photo-2.jpg").write_bytes(photo_of(2))
    (root / "day1" / "broken.jpg").write_bytes(photo_of(2)[:500])
    (root / "day1" / "manifest.txt").write_text("not a photo")
    (tmp_path / "secret.jpg").write_bytes(photo_of(1))
    (root / "day1" / "escape.jpg").symlink_to(tmp_path / "secret.jpg")
    return root


@pytest.fixture
def service(tmp_path: Path, embedder: Embedder, roots: Path):
    settings = {"scan_roots": [roots], "max_scan_upload_bytes": 400_000, "max_scan_images": 20}
    with running(tmp_path / "home", embedder, **settings) as service:
        for seed in range(3):
            service.register("firm_a", seed)
        yield service


def start(service: Service, who: str = "inspector", **request: object):
    return service.client.post("/api/v1/scans", headers=service.auth(who), **request)


def finished(service: Service, scan_id: int) -> dict:
    for _ in range(200):
        body = service.client.get(f"/api/v1/scans/{scan_id}", headers=service.auth("inspector")).json()
        if body["status"] in ("finished", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"scan {scan_id} did not finish: {body}")


def scan_count(service: Service) -> int:
    return service.services.scan_log.page(1, 0)[1]


def test_a_zip_scan_reports_progress_and_per_image_results(service: Service) -> None:
    archive = zip_bytes(
        {
            "shipment/photo-1.jpg": photo_of(1),
            "shipment/photo-2.jpg": photo_of(2),
            "shipment/cut.jpg": photo_of(0)[:400],
            "shipment/readme.txt": b"hello",
            "__MACOSX/._photo-1.jpg": b"x",
        }
    )
    response = start(service, files={"archive": ("shipment.zip", archive, "application/zip")})
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["total"] == 3 and queued["status"] in ("queued", "running", "finished")
    assert queued["results"] is None and queued["source"] == "shipment.zip"
    body = finished(service, queued["id"])
    assert body["status"] == "finished"
    assert (body["done"], body["total"], body["errors"], body["ignored"]) == (3, 3, 1, 2)
    lines = {line["image"]: line for line in body["results"]}
    designs = {
        d["registration_number"]: d["id"]
        for d in service.client.get("/api/v1/designs", headers=service.auth("inspector")).json()["data"]
    }
    assert lines["shipment/photo-1.jpg"]["matches"][0]["design_id"] == designs["REG-1"]
    assert lines["shipment/photo-2.jpg"]["verdict"] == "match"
    assert set(lines["shipment/photo-2.jpg"]) == {"image", "verdict", "matches"}
    assert set(lines["shipment/photo-2.jpg"]["matches"][0]) == {"design_id", "score"}
    error = lines["shipment/cut.jpg"]
    assert error["verdict"] is None and error["matches"] == []
    assert error["error"].startswith("shipment/cut.jpg: the image is damaged or truncated")
    assert not any(service.services.settings.home.joinpath("scans").glob("*.zip"))


def test_the_report_is_csv_on_request(service: Service) -> None:
    archive = zip_bytes({"a.jpg": photo_of(1), "b.jpg": b"junk"})
    scan = start(service, files={"archive": ("a.zip", archive, "application/zip")}).json()
    finished(service, scan["id"])
    response = service.client.get(scan["csv_url"], headers=service.auth("admin"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["image"] for r in rows] == ["a.jpg", "b.jpg"]
    assert rows[0]["verdict"] == "match" and rows[0]["design_id"].startswith("LG-") and not rows[0]["error"]
    assert rows[1]["verdict"] == "" and "not an image" in rows[1]["error"]


def test_a_folder_scan_under_an_allowed_root(service: Service, roots: Path) -> None:
    response = start(service, data={"folder": str(roots / "day1")})
    assert response.status_code == 202, response.text
    body = finished(service, response.json()["id"])
    assert body["kind"] == "folder" and body["status"] == "finished"
    lines = {line["image"]: line for line in body["results"]}
    assert set(lines) == {"broken.jpg", "crate/photo-2.jpg", "escape.jpg", "photo-1.jpg"}
    assert lines["crate/photo-2.jpg"]["verdict"] == "match"
    assert "outside the scanned folder" in lines["escape.jpg"]["error"]
    assert "damaged or truncated" in lines["broken.jpg"]["error"]
    assert (body["errors"], body["ignored"]) == (2, 1)


def test_scan_lines_have_the_cli_shape(service: Service) -> None:
    archive = zip_bytes({"a.jpg": photo_of(2)})
    body = finished(
        service, start(service, files={"archive": ("a.zip", archive, "application/zip")}).json()["id"]
    )
    result = service.services.engine.inspect(photo_of(2))
    assert body["results"] == [json.loads(json.dumps(scan_line(result, image="a.jpg")))]


def _zip_with_link() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("link.jpg")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def upload(content: bytes | dict[str, bytes], kind: str = "application/zip") -> dict:
    data = zip_bytes(content) if isinstance(content, dict) else content
    return {"files": {"archive": ("a.zip", data, kind)}}


@pytest.mark.parametrize(
    ("request_parts", "status", "message"),
    [
        (upload({"../evil.jpg": photo_of(1)}), 400, "`..`"),
        (upload({"/etc/x.jpg": photo_of(1)}), 400, "absolute"),
        (upload({"in.zip": zip_bytes({"a.jpg": b"1"})}), 400, "nested archive"),
        (upload(_zip_with_link()), 400, "symbolic link"),
        (upload(b"PK not really"), 400, "not a readable zip"),
        (upload({"a.txt": b"1"}), 400, "holds no image"),
        (upload({"a.jpg": b"1"}, "text/plain"), 415, "not a zip archive"),
        (upload(bytes(500_000)), 413, "over the limit of 400000"),
        (upload({f"{i}.jpg": b"1" for i in range(21)}), 413, "21 images, over the limit of 20"),
        ({"data": {"folder": "/etc"}}, 400, "outside the allowed scan roots"),
        ({"data": {"folder": "/nonexistent/../etc"}}, 400, "outside the allowed scan roots"),
        ({"data": {}}, 400, "send either a zip file"),
        ({"data": {"folder": "/tmp"}, **upload({"a.jpg": b"1"})}, 400, "send either a zip file"),
    ],
    ids=[
        "dotdot", "absolute", "nested", "symlink", "not-zip", "no-image", "content-type", "too-big",
        "too-many", "outside-root", "dotdot-folder", "nothing", "both",
    ],
)  # fmt: skip
def test_bad_scan_requests_are_refused_and_store_nothing(
    service: Service, request_parts: dict, status: int, message: str
) -> None:
    response = start(service, **request_parts)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert scan_count(service) == 0
    assert not any(service.services.settings.home.joinpath("scans").glob("*.zip"))


def test_folder_scans_are_off_without_roots(tmp_path: Path, embedder: Embedder, roots: Path) -> None:
    with running(tmp_path / "other", embedder) as service:
        response = start(service, data={"folder": str(roots)})
        assert response.status_code == 400
        assert "LANTERNGUARD_SCAN_ROOTS" in response.json()["detail"]


def test_roles_and_unknown_scans(service: Service) -> None:
    archive = {"archive": ("a.zip", zip_bytes({"a.jpg": photo_of(1)}), "application/zip")}
    for who in ("firm_a", "admin"):
        assert start(service, who=who, files=archive).status_code == 403
    assert service.client.post("/api/v1/scans", files=archive).status_code == 401
    scan = start(service, files=archive).json()
    finished(service, scan["id"])
    assert service.client.get(scan["report_url"], headers=service.auth("firm_a")).status_code == 403
    assert service.client.get("/api/v1/scans", headers=service.auth("admin")).json()["count"] == 1
    assert service.client.get("/api/v1/scans/999", headers=service.auth("inspector")).status_code == 404


def test_the_csv_waits_for_the_end_of_the_scan(service: Service) -> None:
    key = service.services.keys.records()[0].id
    queued = service.services.scan_log.create(key, "archive", "later.zip", total=5, ignored=0)
    response = service.client.get(f"/api/v1/scans/{queued.id}?format=csv", headers=service.auth("inspector"))
    assert response.status_code == 409
    assert "queued" in response.json()["detail"]
    progress = service.client.get(f"/api/v1/scans/{queued.id}", headers=service.auth("inspector")).json()
    assert (progress["done"], progress["total"], progress["results"]) == (0, 5, None)
