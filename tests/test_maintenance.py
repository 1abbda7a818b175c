"""Check and repair, index rebuild, backup and restore of a home, with the real embedder."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from api.cli import main
from index.engine import Engine, EngineSettings
from index.errors import BackupError, HomeInUse
from index.home.backup import backup, restore, verify_backup
from index.home.maintenance import check, home_lock, rebuild_index
from index.home.survey import survey
from index.store.blobs import sha256_of
from index.store.registry import DesignFields
from model.embedder import Embedder
from tests.conftest import draw_design, jpeg_bytes


def _populate(settings: EngineSettings, embedder: Embedder, designs: int = 3) -> None:
    engine = Engine(settings, embedder)
    try:
        for seed in range(designs):
            views = [jpeg_bytes(draw_design(seed)), jpeg_bytes(draw_design(seed).rotate(5))]
            engine.register(DesignFields(f"D{seed}", title=f"Lantern {seed}"), views)
    finally:
        engine.close()


def _kinds(settings: EngineSettings) -> list[str]:
    return sorted(f.kind for f in survey(settings.home, settings.embedder.fingerprint).findings)


def _sql(settings: EngineSettings, statement: str, parameters: tuple = ()) -> list[tuple]:
    with closing(sqlite3.connect(settings.home / "registry.sqlite3", isolation_level=None)) as db:
        return db.execute(statement, parameters).fetchall()


def test_a_fresh_home_is_clean(settings: EngineSettings, embedder: Embedder) -> None:
    _populate(settings, embedder)
    found = survey(settings.home, settings.embedder.fingerprint)
    assert found.clean, [f.line() for f in found.findings]
    assert found.counts["designs"] == 3 and found.counts["images"] == 6 and found.counts["vectors"] == 6


def test_check_repairs_crash_debris_and_lost_files(settings: EngineSettings, embedder: Embedder) -> None:
    _populate(settings, embedder)
    home = settings.home
    orphan = home / "images" / "ab" / ("ab" + "0" * 62)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"a blob written before a crash")
    (home / "images" / "ab" / ".abcd.k2j4h5g6").write_bytes(b"half")
    (home / "index" / ".index.json.x1y2z3w4").write_text("{")
    (home / "images" / "notes.txt").write_text("someone's notes")
    stale = home / "features" / settings.local.fingerprint / "ef" / ("ef" + "2" * 62 + ".npz")
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"features of a view that was never stored")
    ((sha,),) = _sql(settings, "SELECT sha256 FROM images WHERE id = 1")
    (home / "images" / sha[:2] / sha).unlink()
    ((corrupt,),) = _sql(settings, "SELECT sha256 FROM images WHERE id = 3")
    (home / "images" / corrupt[:2] / corrupt).write_bytes(b"flipped bits")
    _sql(settings, "UPDATE meta SET value = value + 1 WHERE key = 'generation'")

    assert _kinds(settings) == [
        "corrupt-blob", "index", "missing-blob", "orphan-blob", "orphan-features", "stray-file",
        "temporary-file", "temporary-file",
    ]  # fmt: skip
    dry = check(settings, repair=False, grace_s=0, embedder=embedder)
    assert not dry.repaired and len(dry.after.findings) == 8 and orphan.exists() and stale.exists()

    report = check(settings, grace_s=0, embedder=embedder)
    assert report.repaired and report.clean, [f.line() for f in report.after.findings]
    assert not orphan.exists() and not stale.exists() and (home / "quarantine" / corrupt).exists()
    assert (home / "quarantine" / "notes.txt").read_text() == "someone's notes"
    assert _sql(settings, "SELECT count(*) FROM images") == [(4,)]
    assert report.after.counts["vectors"] == 4


def test_young_unreferenced_files_are_left_to_writes_in_progress(
    settings: EngineSettings, embedder: Embedder
) -> None:
    _populate(settings, embedder, designs=1)
    fresh = settings.home / "images" / "cd" / ("cd" + "1" * 62)
    fresh.parent.mkdir(parents=True, exist_ok=True)
    fresh.write_bytes(b"being registered right now")
    report = check(settings, grace_s=600, embedder=embedder)
    assert report.clean and fresh.exists() and report.after.deferred == [fresh]


def test_missing_embeddings_are_computed_and_the_index_rebuilt(
    settings: EngineSettings, embedder: Embedder
) -> None:
    _populate(settings, embedder)
    _sql(settings, "DELETE FROM embeddings WHERE image_id IN (2, 5)")
    assert _kinds(settings) == ["missing-embedding", "missing-embedding", "orphan-vector"]
    assert check(settings, grace_s=0, embedder=embedder).clean
    assert rebuild_index(settings, embedder) == 6


def test_repairs_wait_for_a_running_service(settings: EngineSettings, embedder: Embedder) -> None:
    _populate(settings, embedder, designs=1)
    (settings.home / "index" / ".index.json.a1b2c3d4").write_text("{")
    with home_lock(settings.home, exclusive=False), pytest.raises(HomeInUse):
        check(settings, grace_s=0, embedder=embedder)
    with home_lock(settings.home, exclusive=False):
        assert not check(settings, repair=False, grace_s=0).clean


def test_backup_and_restore_round_trip(settings: EngineSettings, embedder: Embedder, tmp_path: Path) -> None:
    _populate(settings, embedder)
    summary = backup(settings.home, tmp_path / "saved")
    assert summary.designs == 3 and summary.images == 6 and not summary.missing
    with pytest.raises(BackupError):
        backup(settings.home, tmp_path / "saved")
    before = _sql(settings, "SELECT design_id, title FROM designs ORDER BY id")

    engine = Engine(settings, embedder)
    engine.register(DesignFields("LATER"), [jpeg_bytes(draw_design(50))])
    engine.close()
    previous = restore(tmp_path / "saved", settings.home)
    assert previous is not None and (previous / "registry.sqlite3").exists()
    assert _sql(settings, "SELECT design_id, title FROM designs ORDER BY id") == before
    assert survey(settings.home, settings.embedder.fingerprint).clean

    engine = Engine(settings, embedder)
    try:
        best = engine.inspect(jpeg_bytes(draw_design(2))).matches[0]
        assert best.design.design_id == "D2" and engine.index_size == 6
        assert sha256_of(engine.blobs.get(engine.registry.image_sha256(best.image_id))) is not None
    finally:
        engine.close()


def test_a_damaged_backup_is_refused_before_anything_changes(
    settings: EngineSettings, embedder: Embedder, tmp_path: Path
) -> None:
    _populate(settings, embedder, designs=1)
    backup(settings.home, tmp_path / "saved")
    manifest = json.loads((tmp_path / "saved" / "backup.json").read_text())
    blob = next(name for name in manifest["files"] if name.startswith("images/"))
    (tmp_path / "saved" / blob).write_bytes(b"rotten")
    with pytest.raises(BackupError, match="missing or damaged"):
        restore(tmp_path / "saved", settings.home)
    with pytest.raises(BackupError, match="not a LanternGuard backup"):
        verify_backup(tmp_path)
    assert survey(settings.home, settings.embedder.fingerprint).clean


def test_cli_check_backup_restore_audit(
    settings: EngineSettings, embedder: Embedder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _populate(settings, embedder, designs=1)
    home = str(settings.home)
    backbone = ["--backbone", settings.embedder.backbone]
    # the CLI describes images with the default recipe, so the test home's vectors count as missing
    assert main(["check", "--home", home, "--dry-run", "--json", *backbone]) == 11
    found = json.loads(capsys.readouterr().out)
    assert {f["kind"] for f in found["found"]} == {"index", "missing-embedding", "orphan-vector"}
    assert main(["backup", "--home", home, str(tmp_path / "b1")]) == 0
    assert "backed up 1 design(s), 2 image(s)" in capsys.readouterr().out
    assert main(["restore", "--home", home, str(tmp_path / "b1")]) == 0
    assert "restored" in capsys.readouterr().out
    out = tmp_path / "audit.jsonl"
    assert main(["audit", "export", "--home", home, "--out", str(out)]) == 0
    actions = [json.loads(line)["action"] for line in out.read_text().splitlines()]
    assert actions == ["restore"]  # the backup's own entry was written after the snapshot
