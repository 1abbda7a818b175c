"""The history's filters, and the hits a firm sees on its designs: its own, never another firm's data
nor the other designs the same photo resembled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from model.embedder import Embedder
from tests.service_kit import Service, photo_of, running, zip_bytes
from tests.test_api_scans import finished


@pytest.fixture
def service(tmp_path: Path, embedder: Embedder):
    with running(tmp_path / "home", embedder) as service:
        yield service


def listing(service: Service, query: str, who: str = "inspector") -> dict:
    response = service.client.get(f"/api/v1/inspections?{query}", headers=service.auth(who))
    assert response.status_code == 200, response.text
    return response.json()


def test_the_history_filters_by_verdict_dates_shipment_and_design(service: Service) -> None:
    a = service.register("firm_a", 1)
    b = service.register("firm_b", 2)
    first = service.inspect(photo_of(1), shipment_ref="MSKU 100").json()
    second = service.inspect(photo_of(2), shipment_ref="CMAU 200", note="blue crate").json()
    today = datetime.now(UTC).date()
    assert listing(service, "")["count"] == 2
    assert [i["id"] for i in listing(service, "shipment_ref=msku")["data"]] == [first["id"]]
    assert [i["id"] for i in listing(service, f"design={b['id']}")["data"]] == [second["id"]]
    assert [i["id"] for i in listing(service, f"design={a['id']}")["data"]] == [first["id"]]
    assert listing(service, f"verdict={first['verdict']}")["count"] >= 1
    assert listing(service, f"from={today}&to={today}")["count"] == 2
    assert listing(service, f"from={today + timedelta(days=1)}")["count"] == 0
    assert listing(service, f"to={today - timedelta(days=1)}")["count"] == 0
    assert listing(service, "shipment_ref=CMAU")["data"][0]["note"] == "blue crate"
    reversed_dates = service.client.get(
        f"/api/v1/inspections?from={today}&to={today - timedelta(days=3)}", headers=service.auth("inspector")
    )
    assert reversed_dates.status_code == 400 and "before the start date" in reversed_dates.json()["detail"]
    unknown = service.client.get("/api/v1/inspections?design=LG-NOPE", headers=service.auth("inspector"))
    assert unknown.status_code == 404
    bad_date = service.client.get("/api/v1/inspections?from=yesterday", headers=service.auth("inspector"))
    assert (
        bad_date.status_code == 422 and bad_date.json()["message"] == "From: give a date such as 2026-05-01"
    )


def test_a_firm_sees_its_hits_and_nothing_of_other_firms(service: Service) -> None:
    a = service.register("firm_a", 1)
    b = service.register("firm_b", 2)
    hit_a = service.inspect(photo_of(1), shipment_ref="MSKU 1", note="secret note").json()
    hit_b = service.inspect(photo_of(2)).json()
    archive = zip_bytes({"one.jpg": photo_of(1), "two.jpg": photo_of(2)})
    scan = service.client.post(
        "/api/v1/scans",
        files={"archive": ("s.zip", archive, "application/zip")},
        headers=service.auth("inspector"),
    ).json()
    finished(service, scan["id"])
    hits_a = service.client.get("/api/v1/hits", headers=service.auth("firm_a")).json()
    hits_b = service.client.get("/api/v1/hits", headers=service.auth("firm_b")).json()
    assert {h["design_id"] for h in hits_a["data"]} == {a["id"]}
    assert {h["design_id"] for h in hits_b["data"]} == {b["id"]}
    kinds_a = {(h["kind"], h["id"]) for h in hits_a["data"]}
    assert ("inspection", hit_a["id"]) in kinds_a and ("scan", scan["id"]) in kinds_a
    assert ("inspection", hit_b["id"]) not in kinds_a
    assert "secret note" not in str(hits_a) and "MSKU" not in str(hits_a) and "anna" not in str(hits_a)
    first = next(h for h in hits_a["data"] if h["kind"] == "inspection")
    assert first["verdict"] in ("match", "review") and first["legal_status"] == "in_force"
    evidence = service.client.get(first["evidence_url"], headers=service.auth("firm_a"))
    assert evidence.status_code == 200 and evidence.headers["content-type"] == "image/png"
    stolen = service.client.get(first["evidence_url"], headers=service.auth("firm_b"))
    assert stolen.status_code == 404
    assert service.client.get("/api/v1/hits", headers=service.auth("inspector")).status_code == 403


def test_a_hit_on_an_expired_design_is_at_most_review(service: Service) -> None:
    design = service.register("firm_a", 5, valid_from="1990-01-01", valid_until="2001-01-01")
    inspected = service.inspect(photo_of(5)).json()
    assert inspected["matches"][0]["design_id"] == design["id"]
    assert inspected["matches"][0]["score"] >= inspected["thresholds"]["match"]
    (hit,) = service.client.get("/api/v1/hits", headers=service.auth("firm_a")).json()["data"]
    assert hit["legal_status"] == "expired" and hit["verdict"] == "review"
