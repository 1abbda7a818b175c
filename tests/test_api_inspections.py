"""Inspections through the HTTP API: verdicts, records, reviews, evidence, roles, bad input, concurrency."""

from __future__ import annotations

import hashlib
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from model.embedder import Embedder
from tests.conftest import draw_design, jpeg_bytes
from tests.service_kit import FIRM_A, Service, photo_of, running, view_bytes


@pytest.fixture
def service(tmp_path: Path, embedder: Embedder):
    with running(tmp_path / "home", embedder, max_pixels=200_000, max_upload_bytes=300_000) as service:
        yield service


@pytest.fixture
def catalogue(service: Service) -> dict[int, dict]:
    """Four designs of firm A and one of firm B, by seed."""
    designs = {seed: service.register("firm_a", seed, valid_from="2024-03-01") for seed in range(4)}
    designs[4] = service.register("firm_b", 4)
    return designs


def inspection_count(service: Service) -> int:
    return service.services.inspection_log.page(1, 0)[1]


def test_an_inspection_finds_the_design_and_is_recorded(service: Service, catalogue: dict[int, dict]) -> None:
    photo = photo_of(2)
    response = service.inspect(photo, note="blue crate", shipment_ref="MSKU 123")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["verdict"] == "match"
    best = body["matches"][0]
    assert best["design_id"] == catalogue[2]["id"] and best["rank"] == 1
    assert best["registration_number"] == "REG-2" and best["owner"] == FIRM_A
    assert best["valid_from"] == "2024-03-01" and best["title"] == "Lantern 2"
    assert [m["score"] for m in body["matches"]] == sorted(
        (m["score"] for m in body["matches"]), reverse=True
    )
    assert body["photo_sha256"] == hashlib.sha256(photo).hexdigest()
    assert body["inspector"] == "anna" and body["created_at"]
    parts = best["appearance"] + best["keypoints"] - best["rival"]
    assert best["score"] == pytest.approx(parts, abs=2e-4)
    assert best["inliers"] > 0 and best["keypoints"] > 0
    assert body["note"] == "blue crate" and body["shipment_ref"] == "MSKU 123"
    assert body["evidence_url"] == best["evidence_url"]
    again = service.client.get(f"/api/v1/inspections/{body['id']}", headers=service.auth("admin"))
    assert again.status_code == 200 and again.json() == body
    listed = service.client.get("/api/v1/inspections", headers=service.auth("inspector")).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == body["id"]


def test_the_photo_and_the_evidence_picture_are_served(service: Service, catalogue: dict[int, dict]) -> None:
    photo = photo_of(1)
    body = service.inspect(photo).json()
    served = service.client.get(body["photo_url"], headers=service.auth("inspector"))
    assert served.status_code == 200 and served.content == photo
    assert served.headers["content-type"] == "image/jpeg"
    evidence = service.client.get(body["evidence_url"], headers=service.auth("inspector"))
    assert evidence.status_code == 200
    assert evidence.headers["content-type"] == "image/png"
    picture = Image.open(io.BytesIO(evidence.content))
    assert picture.format == "PNG" and picture.width > 2 * picture.height
    left, right = (
        picture.crop((0, 0, picture.width // 2, picture.height)),
        picture.crop((picture.width // 2, 0, picture.width, picture.height)),
    )
    assert left.getbbox() and right.getbbox()
    missing = service.client.get(
        f"/api/v1/inspections/{body['id']}/matches/99/evidence", headers=service.auth("admin")
    )
    assert missing.status_code == 404
    assert "no match ranked 99" in missing.json()["detail"]


def test_an_inspector_confirms_or_rejects_a_match(service: Service, catalogue: dict[int, dict]) -> None:
    body = service.inspect(photo_of(3)).json()
    path = f"/api/v1/inspections/{body['id']}/matches/1"
    confirmed = service.client.patch(path, json={"review": "confirmed"}, headers=service.auth("inspector"))
    assert confirmed.status_code == 200
    match = confirmed.json()["matches"][0]
    assert match["review"] == "confirmed" and match["reviewed_by"] == "anna" and match["reviewed_at"]
    rejected = service.client.patch(
        f"/api/v1/inspections/{body['id']}/matches/2",
        json={"review": "rejected"},
        headers=service.auth("inspector"),
    )
    assert [m["review"] for m in rejected.json()["matches"][:3]] == ["confirmed", "rejected", "pending"]
    for who, status in (("firm_a", 403), ("admin", 403)):
        assert (
            service.client.patch(path, json={"review": "rejected"}, headers=service.auth(who)).status_code
            == status
        )
    bad = service.client.patch(path, json={"review": "maybe"}, headers=service.auth("inspector"))
    assert bad.status_code == 422
    unknown = service.client.patch(
        "/api/v1/inspections/999/matches/1", json={"review": "confirmed"}, headers=service.auth("inspector")
    )
    assert unknown.status_code == 404


def test_roles_of_inspections(service: Service, catalogue: dict[int, dict]) -> None:
    for who in ("firm_a", "admin"):
        refused = service.inspect(photo_of(1), who=who)
        assert refused.status_code == 403
        assert "only inspector keys" in refused.json()["detail"]
    body = service.inspect(photo_of(1)).json()
    for path in (
        "/api/v1/inspections",
        f"/api/v1/inspections/{body['id']}",
        body["photo_url"],
        body["evidence_url"],
    ):
        assert service.client.get(path, headers=service.auth("firm_a")).status_code == 403
        assert service.client.get(path).status_code == 401
        assert service.client.get(path, headers=service.auth("admin")).status_code == 200
    assert service.inspect(photo_of(1), who="inspector").status_code == 201


@pytest.mark.parametrize(
    ("name", "data", "kind", "status", "message"),
    [
        ("notes.jpg", b"certainly not a photo", "image/jpeg", 422, "not an image"),
        ("cut.jpg", view_bytes(1)[:700], "image/jpeg", 422, "damaged or truncated"),
        ("empty.jpg", b"", "image/jpeg", 422, "empty (0 bytes)"),
        ("photo.jpg", view_bytes(1), "application/pdf", 415, "application/pdf is not an image"),
        (
            "wide.jpg",
            jpeg_bytes(draw_design(1, size=(800, 600))),
            "image/jpeg",
            422,
            "over the limit of 200000",
        ),
        ("big.jpg", view_bytes(1) + bytes(400_000), "image/jpeg", 413, "over the limit of 300000"),
    ],
)
def test_bad_photos_are_refused_and_nothing_is_recorded(
    service: Service, catalogue: dict[int, dict], name: str, data: bytes, kind: str, status: int, message: str
) -> None:
    response = service.client.post(
        "/api/v1/inspections", files={"image": (name, data, kind)}, headers=service.auth("inspector")
    )
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert inspection_count(service) == 0


def test_a_photo_without_any_design_registered_is_503_with_advice(service: Service) -> None:
    response = service.inspect(photo_of(1))
    assert response.status_code == 503
    assert "register designs" in response.json()["detail"]


def test_inspections_see_the_old_or_the_new_index_while_designs_register(
    service: Service, catalogue: dict[int, dict]
) -> None:
    photo = photo_of(7)

    def inspect(_: int) -> list[str]:
        response = service.inspect(photo)
        assert response.status_code == 201, response.text
        return [m["design_id"] for m in response.json()["matches"]]

    with ThreadPoolExecutor(max_workers=4) as pool:
        running_inspections = [pool.submit(inspect, i) for i in range(12)]
        new = pool.submit(service.register, "firm_a", 7, "NEW-7")
        seen = [f.result() for f in running_inspections]
        added = new.result()
    old_ids = {d["id"] for d in catalogue.values()}
    for ids in seen:
        assert set(ids) <= old_ids | {added["id"]}
        assert set(ids) >= old_ids
    assert inspect(0)[0] == added["id"]
    assert inspection_count(service) == 13


def test_designs_and_inspections_survive_a_restart(tmp_path: Path, embedder: Embedder) -> None:
    home = tmp_path / "home"
    with running(home, embedder) as first:
        design = first.register("firm_a", 5)
        inspector = first.keys["inspector"]
        inspection = first.inspect(photo_of(5)).json()
    with running(home, embedder, keys=False) as second:
        second.keys = {"inspector": inspector}
        again = second.inspect(photo_of(5)).json()
        assert again["matches"][0]["design_id"] == design["id"]
        old = second.client.get(f"/api/v1/inspections/{inspection['id']}", headers=second.auth("inspector"))
        assert old.json()["matches"][0]["design_id"] == design["id"]


def test_a_streamed_body_without_length_is_cut_off_at_the_limit(
    service: Service, catalogue: dict[int, dict]
) -> None:
    boundary = "lanternguard"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    )
    body = head.encode() + photo_of(1) + bytes(400_000) + f"\r\n--{boundary}--\r\n".encode()
    chunks = (body[i : i + 8192] for i in range(0, len(body), 8192))
    response = service.client.post(
        "/api/v1/inspections",
        content=chunks,
        headers={**service.auth("inspector"), "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413
    assert "over the limit of 300000 bytes" in response.json()["detail"]
    assert inspection_count(service) == 0
