"""The audit log: append-only, hash-chained, fed by every API write and inspection, read by admins only."""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from api.cli import main
from index.errors import InvalidInput
from index.service.audit import Actor, AuditLog
from index.store.database import Database
from model.embedder import Embedder
from tests.service_kit import Service, photo_of, running, view_bytes, zip_bytes
from tests.test_security import app_routes


@pytest.fixture
def log(tmp_path: Path):
    database = Database(tmp_path / "registry.sqlite3")
    yield AuditLog(database)
    database.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder):
    with running(tmp_path_factory.mktemp("home"), embedder) as service:
        yield service


def test_entries_are_appended_and_never_changed(log: AuditLog, tmp_path: Path) -> None:
    first = log.record(Actor("anna", 3, "inspector"), "inspection.create", "7", 201, {"verdict": "match"})
    second = log.record(Actor("cli:root"), "backup", "/backups/1", 0)
    assert (first.id, second.id) == (1, 2) and second.previous == first.digest
    assert [e.action for e in log.entries()] == ["inspection.create", "backup"] and log.verify() == []
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(InvalidInput, match="append-only"), log._db.transaction() as db:
            db.execute(statement)
    assert log.count() == 2


def test_the_hash_chain_shows_edits_made_behind_the_service(log: AuditLog, tmp_path: Path) -> None:
    for i in range(3):
        log.record(Actor("anna"), "inspection.create", str(i), 201)
    with closing(sqlite3.connect(tmp_path / "registry.sqlite3", isolation_level=None)) as db:
        db.execute("DROP TRIGGER audit_log_no_update")
        db.execute("DROP TRIGGER audit_log_no_delete")
        db.execute("UPDATE audit_log SET target = '99' WHERE id = 2")
        db.execute("DELETE FROM audit_log WHERE id = 3")
        db.execute("DELETE FROM audit_log WHERE id = 1")
    problems = log.verify()
    assert any("entry 2 was changed" in p for p in problems)
    assert any("entry 2 does not follow" in p for p in problems)


def _audit(service: Service, who: str = "admin", **params: object) -> list[dict]:
    response = service.client.get(
        "/api/v1/audit", params={"limit": 1000, **params}, headers=service.auth(who)
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_every_write_and_inspection_is_audited_with_who_what_and_when(service: Service) -> None:
    start = len(_audit(service))
    design = service.register("firm_a", 31, views=1)
    c, firm, inspector = service.client, service.auth("firm_a"), service.auth("inspector")
    c.patch(f"/api/v1/designs/{design['id']}", json={"title": "New title"}, headers=firm)
    c.post(
        f"/api/v1/designs/{design['id']}/images", files={"images": ("v.jpg", view_bytes(31, 1))}, headers=firm
    )
    inspection = service.inspect(photo_of(31), shipment_ref="SHIP-1").json()
    c.patch(
        f"/api/v1/inspections/{inspection['id']}/matches/1", json={"review": "confirmed"}, headers=inspector
    )
    c.post(
        "/api/v1/scans", files={"archive": ("a.zip", zip_bytes({"a.jpg": photo_of(31)}))}, headers=inspector
    )
    issued = c.post(
        "/api/v1/keys", json={"role": "inspector", "label": "bo"}, headers=service.auth("admin")
    ).json()
    c.delete(f"/api/v1/keys/{issued['id']}", headers=service.auth("admin"))
    c.post("/api/v1/firms", json={"name": "Suzhou Paper"}, headers=service.auth("admin"))
    c.delete(f"/api/v1/designs/{design['id']}", headers=service.auth("firm_b"))
    c.delete(f"/api/v1/designs/{design['id']}", headers=firm)

    entries = _audit(service)[start:]
    assert [(e["action"], e["actor"], e["status"]) for e in entries] == [
        ("design.register", "zigong", 201),
        ("design.update", "zigong", 200),
        ("design.add_views", "zigong", 201),
        ("inspection.create", "anna", 201),
        ("inspection.review", "anna", 200),
        ("scan.start", "anna", 202),
        ("key.issue", "root", 201),
        ("key.revoke", "root", 200),
        ("firm.add", "root", 201),
        ("design.withdraw", "nanjing", 403),
        ("design.withdraw", "zigong", 200),
    ]
    by_action = {e["action"]: e for e in entries}
    assert by_action["design.register"]["target"] == design["id"]
    assert by_action["design.register"]["firm"] == "Zigong Lights" and by_action["design.register"]["key_id"]
    assert by_action["design.update"]["detail"]["request"] == {"title": "New title"}
    created = by_action["inspection.create"]
    assert (
        created["target"] == str(inspection["id"]) and created["detail"]["verdict"] == inspection["verdict"]
    )
    assert created["detail"]["best_match"]["design_id"] == design["id"] and created["role"] == "inspector"
    assert by_action["inspection.review"]["detail"]["request"] == {"review": "confirmed"}
    assert "another firm" in entries[-2]["detail"]["error"]
    assert all(re.match(r"^\d{4}-\d\d-\d\dT", e["at"]) for e in entries)
    raw = json.dumps(_audit(service))
    assert issued["key"] not in raw and "key" not in by_action["key.issue"]["detail"]


def test_refused_and_anonymous_writes_are_audited_too(service: Service) -> None:
    """Changed on purpose (issue 14, item 3): failed authentication is counted and audited once per
    client and minute, no longer one stored entry per request."""
    start = len(_audit(service))
    failures = service.client.app.state.auth_failures.total
    writes = sorted(
        (method, path)
        for path, route in app_routes(service.client.app)
        for method in getattr(route, "methods", None) or ()
        if method in ("POST", "PATCH", "PUT", "DELETE") and path.startswith("/api/")
    )
    for method, template in writes:
        service.client.request(method, re.sub(r"\{[^}]+\}", "1", template))
    entries = _audit(service)[start:]
    assert service.client.app.state.auth_failures.total - failures == len(writes) >= 9
    assert len(entries) <= 1
    assert {(e["actor"], e["action"], e["status"]) for e in entries} <= {("anonymous", "auth.failed", 401)}


def test_only_admins_read_and_export_the_log(service: Service) -> None:
    for who in ("inspector", "firm_a"):
        response = service.client.get("/api/v1/audit", headers=service.auth(who))
        assert response.status_code == 403
    assert service.client.get("/api/v1/audit").status_code == 401
    service.inspect(photo_of(1))
    export = service.client.get("/api/v1/audit?format=jsonl", headers=service.auth("admin"))
    assert export.status_code == 200 and export.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in export.text.splitlines()]
    assert lines and lines == _audit(service)
    assert service.services.audit.verify() == []


def test_command_line_writes_are_audited(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = str(tmp_path / "home")
    assert main(["keys", "create", "--home", home, "--role", "inspector", "--label", "night-shift"]) == 0
    key_id = capsys.readouterr().err.split(" key ")[1].split()[0].rstrip(":")
    assert main(["keys", "revoke", "--home", home, key_id]) == 0
    out = tmp_path / "audit.jsonl"
    assert main(["audit", "export", "--home", home, "--out", str(out)]) == 0
    entries = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(e["action"], e["target"]) for e in entries] == [("key.issue", key_id), ("key.revoke", key_id)]
    assert all(e["actor"].startswith("cli:") and e["role"] == "operator" for e in entries)
    assert entries[0]["detail"]["label"] == "night-shift"
