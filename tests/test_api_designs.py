"""Designs through the HTTP API: register, list, read, change, withdraw, add views; roles and bad input."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from model.embedder import Embedder
from tests.conftest import draw_design, jpeg_bytes
from tests.service_kit import FIRM_A, Service, running, view_bytes


@pytest.fixture
def service(tmp_path: Path, embedder: Embedder):
    with running(tmp_path / "home", embedder, max_pixels=200_000, max_upload_bytes=400_000) as service:
        yield service


def stored_state(service: Service) -> tuple[int, int, list[str]]:
    home = service.services.settings.home
    blobs = sorted(str(p) for p in (home / "images").rglob("*") if p.is_file())
    return service.services.registry.count_designs(), service.services.registry.generation(), blobs


def test_a_firm_registers_a_design_with_its_views(service: Service) -> None:
    design = service.register(
        "firm_a",
        1,
        "DM/212 345",
        views=2,
        locarno_class="26-05",
        valid_from="2024-01-01",
        valid_until="2034-01-01",
    )
    assert design["id"].startswith("LG-")
    assert design["registration_number"] == "DM/212 345"
    assert design["owner"] == FIRM_A
    assert design["status"] == "active" and design["image_count"] == 2
    assert design["valid_from"] == "2024-01-01" and design["locarno_class"] == "26-05"
    assert [view["url"] for view in design["images"]] == [
        f"/api/v1/images/{v['id']}" for v in design["images"]
    ]
    fetched = service.client.get(f"/api/v1/designs/{design['id']}", headers=service.auth("firm_a"))
    assert fetched.status_code == 200
    assert fetched.json() == design


def test_a_registration_is_durable_and_searchable_when_acknowledged(service: Service) -> None:
    design = service.register("firm_a", 2)
    from index.store.registry import Registry

    fresh = Registry(service.services.settings.home / "registry.sqlite3")
    try:
        assert fresh.design(design["id"]).registration_number == "REG-2"
    finally:
        fresh.close()
    assert service.services.engine.index_size == 1


def test_listing_is_paged_and_scoped_to_the_firm(service: Service) -> None:
    for seed in range(3):
        service.register("firm_a", seed)
    service.register("firm_b", 7)
    own = service.client.get("/api/v1/designs?limit=2", headers=service.auth("firm_a")).json()
    assert own["count"] == 3 and len(own["data"]) == 2
    assert {d["owner"] for d in own["data"]} == {FIRM_A}
    rest = service.client.get("/api/v1/designs?limit=2&offset=2", headers=service.auth("firm_a")).json()
    assert len(rest["data"]) == 1
    assert {d["id"] for d in own["data"]} | {rest["data"][0]["id"]} == {
        d["id"] for d in service.client.get("/api/v1/designs", headers=service.auth("firm_a")).json()["data"]
    }
    for who in ("inspector", "admin"):
        every = service.client.get("/api/v1/designs", headers=service.auth(who)).json()
        assert every["count"] == 4
    bad = service.client.get("/api/v1/designs?limit=0", headers=service.auth("firm_a"))
    assert bad.status_code == 422


def test_another_firms_design_is_forbidden_not_hidden(service: Service) -> None:
    design = service.register("firm_a", 3)
    path = f"/api/v1/designs/{design['id']}"
    b = service.auth("firm_b")
    for response in (
        service.client.get(path, headers=b),
        service.client.patch(path, json={"title": "mine now"}, headers=b),
        service.client.delete(path, headers=b),
        service.client.post(
            f"{path}/images", files={"images": ("v.jpg", view_bytes(3, 1), "image/jpeg")}, headers=b
        ),
        service.client.get(design["images"][0]["url"], headers=b),
    ):
        assert response.status_code == 403, response.text
        assert "another firm" in response.json()["detail"]
    assert service.client.get(path, headers=service.auth("inspector")).json()["title"] == "Lantern 3"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/designs"),
        ("get", "/api/v1/designs"),
        ("get", "/api/v1/designs/LG-X"),
        ("patch", "/api/v1/designs/LG-X"),
        ("delete", "/api/v1/designs/LG-X"),
        ("post", "/api/v1/designs/LG-X/images"),
        ("get", "/api/v1/images/1"),
    ],
)
def test_a_missing_or_wrong_key_is_401(service: Service, method: str, path: str) -> None:
    missing = getattr(service.client, method)(path)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "no API key" in missing.json()["detail"]
    wrong = getattr(service.client, method)(path, headers={"Authorization": "Bearer lg_not-a-key"})
    assert wrong.status_code == 401
    assert "unknown API key" in wrong.json()["detail"]


def test_only_firms_change_designs(service: Service) -> None:
    design = service.register("firm_a", 4)
    files = {"images": ("v.jpg", view_bytes(5), "image/jpeg")}
    for who in ("inspector", "admin"):
        created = service.client.post(
            "/api/v1/designs", data={"registration_number": "R"}, files=files, headers=service.auth(who)
        )
        assert created.status_code == 403
        assert created.json()["detail"] == f"only firm keys may do this; the key sent is a key of role {who}"
        deleted = service.client.delete(f"/api/v1/designs/{design['id']}", headers=service.auth(who))
        assert deleted.status_code == 403


def test_patch_changes_only_the_fields_given(service: Service) -> None:
    design = service.register("firm_a", 5, locarno_class="26-05")
    path = f"/api/v1/designs/{design['id']}"
    changed = service.client.patch(path, json={"title": "New title"}, headers=service.auth("firm_a"))
    assert changed.status_code == 200
    assert changed.json()["title"] == "New title"
    assert changed.json()["locarno_class"] == "26-05" and changed.json()["registration_number"] == "REG-5"
    for body, message in (
        (
            {"valid_from": "2030-01-01", "valid_until": "2020-01-01"},
            "valid_until must not be before valid_from",
        ),
        ({"owner": "someone else"}, "Extra inputs are not permitted"),
        ({"locarno_class": "lamps"}, "Locarno class"),
    ):
        refused = service.client.patch(path, json=body, headers=service.auth("firm_a"))
        assert refused.status_code == 422
        assert message in refused.text
    unknown = service.client.patch(
        "/api/v1/designs/LG-NOPE", json={"title": "x"}, headers=service.auth("firm_a")
    )
    assert unknown.status_code == 404
    assert "no design 'LG-NOPE'" in unknown.json()["detail"]


def test_a_registration_number_is_registered_once(service: Service) -> None:
    first = service.register("firm_a", 6, "DM/1")
    files = {"images": ("v.jpg", view_bytes(8), "image/jpeg")}
    again = service.client.post(
        "/api/v1/designs", data={"registration_number": "DM/1"}, files=files, headers=service.auth("firm_b")
    )
    assert again.status_code == 409
    assert "DM/1" in again.json()["detail"]
    other = service.register("firm_a", 9, "DM/2")
    clash = service.client.patch(
        f"/api/v1/designs/{other['id']}", json={"registration_number": "DM/1"}, headers=service.auth("firm_a")
    )
    assert clash.status_code == 409
    service.client.delete(f"/api/v1/designs/{first['id']}", headers=service.auth("firm_a"))
    assert service.register("firm_b", 8, "DM/1")["registration_number"] == "DM/1"


def test_withdrawing_stops_matching_and_keeps_the_record(service: Service) -> None:
    kept = service.register("firm_a", 10)
    gone = service.register("firm_a", 11)
    before = service.inspect(jpeg_bytes(draw_design(11)))
    assert before.json()["matches"][0]["design_id"] == gone["id"]
    withdrawn = service.client.delete(f"/api/v1/designs/{gone['id']}", headers=service.auth("firm_a"))
    assert withdrawn.status_code == 200
    assert withdrawn.json()["status"] == "withdrawn" and withdrawn.json()["withdrawn_at"]
    after = service.inspect(jpeg_bytes(draw_design(11))).json()
    assert [m["design_id"] for m in after["matches"]] == [kept["id"]]
    record = service.client.get(f"/api/v1/designs/{gone['id']}", headers=service.auth("firm_a"))
    assert record.status_code == 200 and record.json()["status"] == "withdrawn"
    cited = service.client.get(
        f"/api/v1/inspections/{before.json()['id']}", headers=service.auth("inspector")
    )
    assert cited.json()["matches"][0]["design_id"] == gone["id"]
    assert cited.json()["matches"][0]["design_status"] == "withdrawn"
    path = f"/api/v1/designs/{gone['id']}"
    assert service.client.patch(path, json={"title": "x"}, headers=service.auth("firm_a")).status_code == 409
    files = {"images": ("v.jpg", view_bytes(11, 1), "image/jpeg")}
    assert (
        service.client.post(f"{path}/images", files=files, headers=service.auth("firm_a")).status_code == 409
    )


def test_views_are_added_up_to_seven(service: Service) -> None:
    design = service.register("firm_a", 12, views=2)
    path = f"/api/v1/designs/{design['id']}/images"
    files = [("images", (f"v{v}.jpg", view_bytes(12, v), "image/jpeg")) for v in (2, 3)]
    added = service.client.post(path, files=files, headers=service.auth("firm_a"))
    assert added.status_code == 201
    assert added.json()["image_count"] == 4 and len(added.json()["images"]) == 4
    files = [("images", (f"v{v}.jpg", view_bytes(12, v), "image/jpeg")) for v in (4, 5, 6, 7)]
    too_many = service.client.post(path, files=files, headers=service.auth("firm_a"))
    assert too_many.status_code == 400
    assert "at most 7 views" in too_many.json()["detail"]


def test_reference_images_are_served_to_those_who_may_see_them(service: Service) -> None:
    design = service.register("firm_a", 13)
    url = design["images"][0]["url"]
    for who in ("firm_a", "inspector", "admin"):
        response = service.client.get(url, headers=service.auth(who))
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/jpeg"
        assert response.content == view_bytes(13)
    assert service.client.get("/api/v1/images/999", headers=service.auth("inspector")).status_code == 404


GOOD = ("good.jpg", view_bytes(20), "image/jpeg")


def png_bytes(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    draw_design(1, size=(width, height)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("files", "status", "message"),
    [
        ([("images", ("notes.jpg", b"this is text", "image/jpeg"))], 422, "not an image"),
        ([("images", ("cut.jpg", view_bytes(21)[:600], "image/jpeg"))], 422, "damaged or truncated"),
        ([("images", ("empty.jpg", b"", "image/jpeg"))], 422, "empty (0 bytes)"),
        ([("images", ("doc.txt", view_bytes(21), "text/plain"))], 415, "not an image"),
        (
            [("images", ("huge.png", png_bytes(600, 400), "image/png"))],
            422,
            "over the limit of 200000 pixels",
        ),
        ([("images", GOOD), ("images", ("bad.jpg", b"garbage", "image/jpeg"))], 422, "bad.jpg"),
        ([("images", ("v.jpg", view_bytes(22), "image/jpeg"))] * 8, 400, "at most 7 views"),
        ([], 422, "images"),
    ],
    ids=["not-image", "truncated", "zero-bytes", "content-type", "pixels", "one-bad-view", "eight", "none"],
)
def test_bad_uploads_are_refused_and_change_nothing(
    service: Service, files: list, status: int, message: str
) -> None:
    before = stored_state(service)
    response = service.client.post(
        "/api/v1/designs",
        data={"registration_number": "R-1"},
        files=files or None,
        headers=service.auth("firm_a"),
    )
    assert response.status_code == status, response.text
    assert message in response.text
    assert stored_state(service) == before


def test_an_upload_over_the_size_limit_is_413(service: Service) -> None:
    big = view_bytes(3) + bytes(500_000)
    files = {"images": ("big.jpg", big, "image/jpeg")}
    before = stored_state(service)
    response = service.client.post(
        "/api/v1/designs", data={"registration_number": "R"}, files=files, headers=service.auth("firm_a")
    )
    assert response.status_code == 413
    assert "over the limit of 400000" in response.json()["detail"]
    assert stored_state(service) == before
