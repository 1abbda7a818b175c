"""Alerts, retroaction and reviewer feedback through the HTTP API, on a real engine and real photos."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from index.service.feedback import FeedbackCounts
from model.embedder import Embedder
from tests.conftest import draw_design, jpeg_bytes
from tests.service_kit import Service, photo_of, running, zip_bytes

DECOY = 90
"""A design of firm B registered first, so that inspections can run before firm A's design exists."""


@pytest.fixture
def service(tmp_path: Path, embedder: Embedder):
    with running(tmp_path / "home", embedder) as service:
        service.register("firm_b", DECOY)
        yield service


def retro_of(service: Service, design_id: str, who: str = "firm_a") -> dict:
    for _ in range(400):
        answer = service.client.get(f"/api/v1/designs/{design_id}/retro", headers=service.auth(who))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        if body["state"] in ("finished", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"the look-back of {design_id} did not finish: {body}")


def alerts_of(service: Service, who: str, **query: str) -> list[dict]:
    answer = service.client.get("/api/v1/alerts", headers=service.auth(who), params=query)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def test_a_design_registered_after_its_photo_was_inspected_alerts_its_owner_only(service: Service) -> None:
    inspected = service.inspect(photo_of(7)).json()
    assert inspected["verdict"] == "no_match"
    assert alerts_of(service, "firm_a") == []

    design = service.register("firm_a", 7)
    retro = retro_of(service, design["id"])

    assert retro["state"] == "finished", retro
    assert retro["reason"] == "registered"
    assert retro["counts"]["photos"] == 1 and retro["counts"]["alerts"] == 1
    assert retro["look_back"]["retain_days"] == 365 and retro["look_back"]["from"]
    (result,) = retro["results"]
    assert result["how"] == "retro" and result["design"] == design["id"]
    assert result["source"] == {"inspection_id": inspected["id"], "scan_id": None, "item": None}
    assert result["verdict"] in ("match", "review") and result["state"] == "new"

    mine = alerts_of(service, "firm_a")
    assert [a["id"] for a in mine] == [result["id"]]
    assert alerts_of(service, "firm_b") == []
    assert [a["id"] for a in alerts_of(service, "admin")] == [result["id"]]
    denied = service.client.get("/api/v1/alerts", headers=service.auth("inspector"))
    assert denied.status_code == 403
    other = service.client.get(f"/api/v1/alerts/{result['id']}", headers=service.auth("firm_b"))
    assert other.status_code == 403
    foreign = service.client.get(f"/api/v1/designs/{design['id']}/retro", headers=service.auth("firm_b"))
    assert foreign.status_code == 403

    evidence = service.client.get(result["evidence_url"], headers=service.auth("firm_a"))
    assert evidence.status_code == 200 and evidence.content.startswith(b"\x89PNG")


def test_a_retro_does_not_alert_for_a_photo_of_another_design(service: Service) -> None:
    service.inspect(photo_of(11))
    design = service.register("firm_a", 12)
    retro = retro_of(service, design["id"])
    assert retro["state"] == "finished" and retro["counts"]["photos"] == 1
    assert retro["counts"]["alerts"] == 0 and retro["results"] == []


def test_a_live_match_alerts_the_owner_and_marks_are_audited(service: Service) -> None:
    design = service.register("firm_a", 7)
    retro_of(service, design["id"])
    inspected = service.inspect(photo_of(7)).json()
    assert inspected["verdict"] == "match"
    (alert,) = alerts_of(service, "firm_a")
    assert alert["how"] == "inspection" and alert["source"]["inspection_id"] == inspected["id"]
    assert alert["verdict"] == "match" and alert["score"] == inspected["matches"][0]["score"]

    url = f"/api/v1/alerts/{alert['id']}"
    assert (
        service.client.patch(url, json={"state": "confirmed"}, headers=service.auth("firm_b")).status_code
        == 403
    )
    assert (
        service.client.patch(url, json={"state": "gone"}, headers=service.auth("firm_a")).status_code == 422
    )
    marked = service.client.patch(url, json={"state": "confirmed"}, headers=service.auth("firm_a"))
    assert marked.status_code == 200 and marked.json()["state"] == "confirmed"
    assert alerts_of(service, "firm_a", state="confirmed")[0]["id"] == alert["id"]
    marks = [e for e in service.services.audit.page(1000) if e.action == "alert.mark" and e.status == 200]
    assert [(e.actor, e.target, e.status) for e in marks] == [("zigong", str(alert["id"]), 200)]

    added = service.client.post(f"{url}/field-view", headers=service.auth("firm_a"))
    assert added.status_code == 201, added.text
    assert added.json()["image_count"] == 2


def test_a_rejected_photo_does_not_alert_again(service: Service) -> None:
    design = service.register("firm_a", 7)
    retro_of(service, design["id"])
    photo = photo_of(7)
    first = service.inspect(photo).json()
    assert len(alerts_of(service, "firm_a")) == 1
    rejected = service.client.patch(
        f"/api/v1/inspections/{first['id']}/matches/1",
        json={"review": "rejected"},
        headers=service.auth("inspector"),
    )
    assert rejected.status_code == 200

    again = service.inspect(photo).json()
    near_duplicate = service.inspect(jpeg_bytes(draw_design(7).resize((300, 225)), quality=70)).json()
    assert again["verdict"] == near_duplicate["verdict"] == "match"
    assert len(alerts_of(service, "firm_a")) == 1

    counts = service.client.get(f"/api/v1/designs/{design['id']}/feedback", headers=service.auth("firm_a"))
    assert counts.status_code == 200
    assert counts.json()["rejected"] == 1 and counts.json()["pending"] == 2
    assert counts.json()["likely_generic"] is False
    foreign = service.client.get(f"/api/v1/designs/{design['id']}/feedback", headers=service.auth("firm_b"))
    assert foreign.status_code == 403

    service.client.post(
        f"/api/v1/designs/{design['id']}/images",
        files=[("images", ("v.jpg", jpeg_bytes(draw_design(7).rotate(3)), "image/jpeg"))],
        headers=service.auth("firm_a"),
    )
    retro = retro_of(service, design["id"])
    assert retro["reason"] == "views added" and retro["counts"]["alerts"] == 0
    assert len(alerts_of(service, "firm_a")) == 1


def scanned(service: Service, entries: dict[str, bytes]) -> int:
    files = {"archive": ("day.zip", zip_bytes(entries), "application/zip")}
    scan = service.client.post("/api/v1/scans", files=files, headers=service.auth("inspector")).json()
    for _ in range(200):
        body = service.client.get(f"/api/v1/scans/{scan['id']}", headers=service.auth("inspector")).json()
        if body["status"] == "finished":
            return scan["id"]
        time.sleep(0.05)
    raise AssertionError(f"scan {scan['id']} did not finish: {body}")


def test_a_scan_keeps_its_images_for_a_later_retro_and_alerts_live(service: Service) -> None:
    first = scanned(service, {"crate/a.jpg": photo_of(21), "crate/b.jpg": photo_of(22)})
    design = service.register("firm_a", 22)
    retro = retro_of(service, design["id"])
    assert retro["counts"]["photos"] == 2
    # the other design's photo may share a few drawn shapes with it (at most a `review`)
    (result,) = [r for r in retro["results"] if r["verdict"] == "match"]
    assert result["source"] == {"inspection_id": None, "scan_id": first, "item": "1:crate/b.jpg"}

    second = scanned(
        service, {"x.jpg": photo_of(23), "y.jpg": jpeg_bytes(draw_design(22).resize((280, 210)))}
    )
    (live,) = [a for a in alerts_of(service, "firm_a") if a["how"] == "scan"]
    assert live["source"] == {"inspection_id": None, "scan_id": second, "item": "1:y.jpg"}


def test_a_design_rejected_again_and_again_is_flagged_as_generic() -> None:
    assert not FeedbackCounts(1, rejected=4).likely_generic
    assert FeedbackCounts(1, rejected=3, alerts_dismissed=2).likely_generic
    assert not FeedbackCounts(1, rejected=5, confirmed=3).likely_generic


def test_the_admin_sees_flagged_designs(service: Service) -> None:
    design = service.register("firm_a", 7)
    retro_of(service, design["id"])
    for quality in (60, 65, 70, 75, 80):
        inspected = service.inspect(jpeg_bytes(draw_design(7).resize((300, 225)), quality=quality)).json()
        service.client.patch(
            f"/api/v1/inspections/{inspected['id']}/matches/1",
            json={"review": "rejected"},
            headers=service.auth("inspector"),
        )
    flagged = service.client.get("/api/v1/feedback?flagged=true", headers=service.auth("admin")).json()
    assert [f["design_id"] for f in flagged["data"]] == [design["id"]]
    own = service.client.get("/api/v1/feedback", headers=service.auth("firm_a")).json()
    assert own["data"][0]["likely_generic"] is True and own["data"][0]["rejected"] == 5
    assert (
        service.client.get("/api/v1/feedback?flagged=true", headers=service.auth("firm_b")).json()["data"]
        == []
    )


def test_an_expired_designs_look_alike_alerts_at_most_review(service: Service) -> None:
    design = service.register("firm_a", 8, valid_from="1990-01-01", valid_until="2001-01-01")
    retro_of(service, design["id"])
    inspected = service.inspect(photo_of(8)).json()
    assert inspected["verdict"] == "review"
    assert inspected["matches"][0]["legal_status"] == "expired"
    (alert,) = alerts_of(service, "firm_a")
    assert alert["how"] == "inspection" and alert["verdict"] == "review"
