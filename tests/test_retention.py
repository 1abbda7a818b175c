"""Retention and the alert commands: old photos go with their descriptors; `retro` and `alerts` on the CLI."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from api.cli import main
from api.settings import embedder_config
from index.home.survey import survey
from model.embedder import DEFAULT_BACKBONE, Embedder
from tests.service_kit import photo_of, running


@pytest.fixture(scope="module")
def cli_embedder() -> Embedder:
    """The embedder the command line builds from the default settings, so that both see one model."""
    return Embedder(embedder_config(DEFAULT_BACKBONE, "auto"))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_retro_and_alerts_commands_then_retention_removes_old_photos(
    tmp_path: Path,
    cli_embedder: Embedder,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("LANTERNGUARD_HOME", str(home))
    with running(home, cli_embedder) as service:
        service.register("firm_b", 90)
        inspected = service.inspect(photo_of(7)).json()
        design = service.register("firm_a", 7)
        fingerprint = service.services.engine.fingerprint
    sha = inspected["photo_sha256"]
    blob = home / "images" / sha[:2] / sha
    assert blob.is_file()
    assert list((home / "features").glob(f"*/{sha[:2]}/{sha}.npz"))

    code, out = run(capsys, "retro", design["id"])
    assert code == 0, out
    assert "photos kept 1" in out and "1 alert(s) of this design" in out
    assert f"inspection {inspected['id']}" in out and "retro" in out

    code, out = run(capsys, "alerts", "--firm", "Zigong Lights")
    assert code == 0 and design["id"] in out and "1 of 1 alert(s)" in out
    code, out = run(capsys, "alerts", "--firm", "Nanjing Lanterns")
    assert code == 0 and "0 of 0 alert(s)" in out

    with closing(sqlite3.connect(home / "registry.sqlite3")) as db, db:
        db.execute("UPDATE inspections SET created_at = '2020-01-01T00:00:00+00:00'")
        db.execute("UPDATE photo_descriptors SET seen_at = '2020-01-01T00:00:00+00:00'")
    monkeypatch.setenv("LANTERNGUARD_RETAIN_DAYS", "30")
    code, out = run(capsys, "check", "--grace", "0")
    assert code == 0, out
    assert "retention: removed 1 photo(s)" in out and "clean" in out
    assert not blob.exists()
    assert not list((home / "features").glob(f"*/{sha[:2]}/{sha}.npz"))
    assert survey(home, fingerprint).clean
    with closing(sqlite3.connect(home / "registry.sqlite3")) as db:
        assert db.execute("SELECT count(*) FROM photo_descriptors").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM inspections").fetchone()[0] == 1

    code, out = run(capsys, "retro", design["id"])
    assert code == 0 and "photos kept 0" in out and "retention 30 days" in out

    with running(home, cli_embedder) as service:
        gone = service.client.get(
            f"/api/v1/inspections/{inspected['id']}/photo", headers=service.auth("admin")
        )
        assert gone.status_code == 404 and "no longer stored" in gone.json()["detail"]
