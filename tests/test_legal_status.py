"""Legal status in the verdict: a look-alike of a design that is not in force, or registered for other
countries than the destination, is at most `review`; the thresholds in use come with the answer."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from index.matching.legal import LegalStatus, legal_status, legal_verdict
from index.matching.verdict import Thresholds, Verdict
from index.store.database import Database
from index.store.registry import DesignRecord
from model.embedder import Embedder
from tests.service_kit import Service, photo_of, running


def record(**fields: str | None) -> DesignRecord:
    base = dict(
        pk=1,
        design_id="LG-1",
        registration_number="R",
        title=None,
        owner=None,
        locarno_class=None,
        valid_from=None,
        valid_until=None,
        withdrawn_at=None,
        image_count=1,
    )
    return DesignRecord(**{**base, **fields})


def test_legal_status_on_a_date_includes_both_validity_bounds() -> None:
    design = record(valid_from="2020-01-01", valid_until="2024-12-31")
    assert legal_status(design, date(2019, 12, 31)) is LegalStatus.NOT_YET_VALID
    assert legal_status(design, date(2020, 1, 1)) is LegalStatus.IN_FORCE
    assert legal_status(design, date(2024, 12, 31)) is LegalStatus.IN_FORCE
    assert legal_status(design, date(2025, 1, 1)) is LegalStatus.EXPIRED
    withdrawn = record(withdrawn_at="2022-06-01T10:00:00+00:00")
    assert legal_status(withdrawn, date(2022, 5, 31)) is LegalStatus.IN_FORCE
    assert legal_status(withdrawn, date(2022, 6, 1)) is LegalStatus.WITHDRAWN


def test_the_verdict_is_a_match_only_for_an_enforceable_design() -> None:
    levels = Thresholds(match=1.0, review=0.5)
    on = date(2026, 1, 1)
    expired = record(valid_until="2001-01-01")
    in_force = record(pk=2, territories="CN,HK")
    assert legal_verdict([(expired, 1.5)], levels, on, None) is Verdict.REVIEW
    assert legal_verdict([(expired, 1.5), (in_force, 1.2)], levels, on, "CN") is Verdict.MATCH
    assert legal_verdict([(in_force, 1.2)], levels, on, "FR") is Verdict.REVIEW
    assert legal_verdict([(in_force, 1.2)], levels, on, None) is Verdict.MATCH
    assert legal_verdict([(in_force, 0.2)], levels, on, "CN") is Verdict.NO_MATCH


@pytest.fixture
def service(tmp_path: Path, embedder: Embedder):
    with running(tmp_path / "home", embedder) as service:
        yield service


def test_an_expired_design_gives_review_with_its_status(service: Service) -> None:
    service.register("firm_a", 1, valid_until="2001-01-01")
    body = service.inspect(photo_of(1)).json()
    best = body["matches"][0]
    assert best["level"] == "match", body
    assert best["legal_status"] == "expired"
    assert body["verdict"] == "review"
    assert body["thresholds"]["match"] >= body["thresholds"]["review"]
    assert body["model"] and body["index_generation"] >= 1


def test_territories_are_validated_and_checked_against_the_destination(service: Service) -> None:
    refused = service.client.post(
        "/api/v1/designs",
        data={"registration_number": "R-9", "territories": "CN, XX"},
        files=[("images", ("v.jpg", photo_of(9), "image/jpeg"))],
        headers=service.auth("firm_a"),
    )
    assert refused.status_code == 422 and "'XX' is not a two-letter country code" in refused.text
    design = service.register("firm_a", 2, territories="cn hk")
    assert design["territories"] == ["CN", "HK"]
    bound_for_france = service.inspect(photo_of(2), destination="fr").json()
    assert bound_for_france["destination"] == "FR"
    assert bound_for_france["matches"][0]["covers_destination"] is False
    assert bound_for_france["verdict"] == "review"
    bound_for_china = service.inspect(photo_of(2), destination="CN").json()
    assert bound_for_china["matches"][0]["covers_destination"] is True
    assert bound_for_china["verdict"] == "match"
    bad = service.inspect(photo_of(2), destination="Atlantis")
    assert bad.status_code == 400 and "destination" in bad.json()["detail"]


def test_an_older_home_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE designs (id INTEGER PRIMARY KEY, design_id TEXT NOT NULL, created_at TEXT)")
        db.execute("INSERT INTO designs(design_id, created_at) VALUES ('OLD-1', '2020-01-01')")
    Database(path).close()
    with sqlite3.connect(path) as db:
        columns = {r[1] for r in db.execute("PRAGMA table_info(designs)")}
        assert "territories" in columns
        assert db.execute("SELECT design_id, territories FROM designs").fetchall() == [("OLD-1", None)]
