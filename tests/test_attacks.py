"""The attack and fault run of issue 14 replayed: each test reproduces what was seen, then the fix.

Loopback only and bounded in time (docs/reliability.md, "Attacks and what answers them", lists each
attack with the test here that proves its answer). Service-level attacks live in
tests/test_attacks_service.py.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
import struct
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from api.cli import main
from api.terminal import printable
from index.batch.reports import scan_csv
from index.engine import Engine, EngineSettings
from index.errors import CorruptDerivedData, InvalidDesignData, PayloadTooLarge, ScoreOutOfRange
from index.home.backup import backup, restore
from index.home.maintenance import check, home_lock
from index.home.survey import survey
from index.matching.ranking import fuse
from index.matching.verdict import Verdict
from index.search.vectors import SIDECAR, Sidecar, VectorIndex
from index.service.archives import plan_archive
from index.service.audit import Actor, AuditLog
from index.service.audit_seal import anchor_path
from index.store.database import Database
from index.store.files import file_sha256
from index.store.registry import DesignFields
from model.embedder import Embedder
from model.whitening import learn_whitening
from tests.conftest import draw_design, jpeg_bytes
from tests.service_kit import zip_bytes


def _register(engine: Engine, seeds: range) -> None:
    for seed in seeds:
        engine.register(DesignFields(f"D{seed}", title=f"Design {seed}"), [jpeg_bytes(draw_design(seed))])


def _vectors_file(home: Path) -> tuple[Path, dict]:
    sidecar = json.loads((home / "index" / SIDECAR).read_text())
    return home / "index" / sidecar["files"]["vectors"]["name"], sidecar


def _overwrite_vectors(home: Path, engine_vectors: np.ndarray) -> None:
    """Overwrite the float payload of the checkpoint in place (size and FAISS header intact)."""
    path, _ = _vectors_file(home)
    data = bytearray(path.read_bytes())
    start = bytes(data).index(engine_vectors[0].astype(np.float32).tobytes())
    end = start + engine_vectors.size * 4
    data[start:end] = b"\x7e" * (end - start)
    path.write_bytes(bytes(data))


def _kinds(settings: EngineSettings) -> list[str]:
    return sorted(f.kind for f in survey(settings.home, settings.embedder.fingerprint).findings)


# ---- 1. corrupted derived data -------------------------------------------------------------------


def test_1_an_overwritten_vector_payload_is_found_by_check_and_rebuilt(
    settings: EngineSettings, embedder: Embedder
) -> None:
    engine = Engine(settings, embedder)
    _register(engine, range(3))
    _, _, vectors = engine.registry.active_embeddings(engine.fingerprint)
    before = engine.inspect(jpeg_bytes(draw_design(1))).matches[0]
    engine.close()
    _overwrite_vectors(settings.home, vectors)

    assert "corrupt-index" in _kinds(settings)
    report = check(settings, repair=False, grace_s=0)
    assert not report.clean
    repaired = check(settings, repair=True, grace_s=0)
    assert repaired.clean, [f.line() for f in repaired.after.findings]

    _overwrite_vectors(settings.home, vectors)
    reopened = Engine(settings, embedder)
    try:
        after = reopened.inspect(jpeg_bytes(draw_design(1))).matches[0]
    finally:
        reopened.close()
    assert after.design.design_id == before.design.design_id
    assert round(after.score, 4) == round(before.score, 4)
    assert after.score <= 2.0


def test_1_damaged_vectors_behind_a_recomputed_checksum_raise_instead_of_a_verdict(
    settings: EngineSettings, embedder: Embedder
) -> None:
    engine = Engine(settings, embedder)
    _register(engine, range(3))
    _, _, vectors = engine.registry.active_embeddings(engine.fingerprint)
    engine.close()
    _overwrite_vectors(settings.home, vectors)
    path, sidecar = _vectors_file(settings.home)
    sidecar["files"]["vectors"]["sha256"] = file_sha256(path)
    (settings.home / "index" / SIDECAR).write_text(json.dumps(sidecar))

    reopened = Engine(settings, embedder)
    try:
        with pytest.raises(ScoreOutOfRange, match="outside"):
            reopened.inspect(jpeg_bytes(draw_design(1)))
    finally:
        reopened.close()


def test_1_scores_outside_their_range_are_an_error_never_a_verdict() -> None:
    assert fuse(1.0, 40, 20) == 2.0 and fuse(-1.0, 0, 20) == -1.0
    for appearance in (2.06e35, float("nan"), -1.5, 1.01):
        with pytest.raises(ScoreOutOfRange):
            fuse(appearance, 0, 20)
    index = VectorIndex(4)
    index.add(np.array([7]), np.full((1, 4), 1e17, dtype=np.float32))
    with pytest.raises(ScoreOutOfRange):
        index.search(np.full((1, 4), 0.5, dtype=np.float32), 1)
    assert {v.value for v in Verdict} == {"match", "review", "no_match"}


def test_1_a_damaged_whitening_file_is_refused_by_its_checksum(tmp_path: Path) -> None:
    rows = np.random.default_rng(3).normal(size=(40, 16)).astype(np.float32)
    index = VectorIndex(8)
    index.save(tmp_path, Sidecar("t", 8, 0, 1, 40, "t"), learn_whitening(rows, 8))
    (whitening,) = tmp_path.glob("whitening-g1-*.npz")
    data = bytearray(whitening.read_bytes())
    data[-40] ^= 0xFF
    whitening.write_bytes(bytes(data))
    with pytest.raises(CorruptDerivedData, match="sha256"):
        VectorIndex.load(tmp_path)


def test_1_a_same_generation_rebuild_never_overwrites_the_files_the_sidecar_names(tmp_path: Path) -> None:
    index = VectorIndex(4)
    index.add(np.array([1]), np.eye(4, dtype=np.float32)[:1])
    index.save(tmp_path, Sidecar("t", 4, 1, 5, 0, "t"), None)
    first = json.loads((tmp_path / SIDECAR).read_text())["files"]["vectors"]["name"]
    index.save(tmp_path, Sidecar("t", 4, 1, 5, 0, "t"), None)
    second = json.loads((tmp_path / SIDECAR).read_text())["files"]["vectors"]["name"]
    assert first != second and first.startswith("vectors-g5-") and second.startswith("vectors-g5-")
    assert [p.name for p in tmp_path.glob("vectors-*")] == [second]


def test_1_damaged_local_features_are_found_and_re_extracted(
    settings: EngineSettings, embedder: Embedder
) -> None:
    engine = Engine(settings, embedder)
    _register(engine, range(2))
    engine.close()
    stored = sorted((settings.home / "features").rglob("*.npz"))
    for features in stored:
        data = bytearray(features.read_bytes())
        data[len(data) // 2] ^= 0xFF
        features.write_bytes(bytes(data))
    assert _kinds(settings).count("corrupt-features") == len(stored) == 2

    reopened = Engine(settings, embedder)
    try:
        best = reopened.inspect(jpeg_bytes(draw_design(0))).matches[0]
    finally:
        reopened.close()
    assert best.design.design_id == "D0" and best.inliers > 0
    assert "corrupt-features" not in _kinds(settings)


# ---- 7. zip central directory bigger than its end record says ---------------------------------------


def test_7_a_directory_hiding_entries_behind_a_small_count_is_refused_from_its_size() -> None:
    data = bytearray(zip_bytes({f"n/{i}.txt": b"" for i in range(5_000)}))
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = struct.pack("<HH", 5, 5)  # the end record claims 5 entries
    with pytest.raises(PayloadTooLarge, match=r"directory is .* bytes"):
        plan_archive(io.BytesIO(bytes(data)), max_bytes=10**9, max_images=10)
    honest = plan_archive(io.BytesIO(zip_bytes({"a.jpg": b"1", "b.jpg": b"2"})), 10**9, 10)
    assert sorted(honest.names) == ["a.jpg", "b.jpg"]


# ---- 8. CSV formula injection -------------------------------------------------------------------


def test_8_scan_csv_cells_never_start_a_formula() -> None:
    names = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd", "plain.jpg"]
    lines = [
        {"image": n, "verdict": "review", "matches": [{"design_id": "-D1", "score": -0.25}]} for n in names
    ]
    rows = list(csv.reader(io.StringIO(scan_csv(lines), newline="")))[1:]
    assert [r[0] for r in rows] == ["'" + n for n in names[:-1]] + ["plain.jpg"]
    assert {r[2] for r in rows} == {"'-D1"} and {r[3] for r in rows} == {"-0.25"}


# ---- 10. control characters --------------------------------------------------------------------


def test_10_control_characters_are_refused_at_registration(engine: Engine) -> None:
    for fields in (
        DesignFields("D1", title="Lantern\x1b[2J\x07"),
        DesignFields("D\x00", title="ok"),
        DesignFields("D2", owner="Firm\u202eevil"),
    ):
        with pytest.raises(InvalidDesignData, match="control character"):
            engine.register(fields, [jpeg_bytes(draw_design(1))])
    assert engine.registry.designs() == []


def test_10_stored_control_characters_are_escaped_on_cli_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    photo = tmp_path / "p.jpg"
    photo.write_bytes(jpeg_bytes(draw_design(3)))
    assert main(["register", "--home", str(home), str(photo), "--design-id", "D3", "--title", "Lantern"]) == 0
    with closing(sqlite3.connect(home / "registry.sqlite3", isolation_level=None)) as db:
        db.execute("UPDATE designs SET title = ? WHERE design_id = 'D3'", ("Lan\x1b[2J\x07tern\x00",))
    capsys.readouterr()
    assert main(["inspect", "--home", str(home), str(photo)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\x00" not in out
    assert "Lan\\x1b[2J\\x07tern\\x00" in out
    assert printable("a\u202eb") == "a\\u202eb"


# ---- 11. two writers on one home ---------------------------------------------------------------


def test_11_cli_register_refuses_a_home_a_service_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    photo = tmp_path / "p.jpg"
    photo.write_bytes(jpeg_bytes(draw_design(4)))
    with home_lock(home, exclusive=False):  # what a running service holds
        code = main(["register", "--home", str(home), str(photo), "--design-id", "D4"])
    err = capsys.readouterr().err
    assert code == 6 and "POST /api/v1/designs" in err and "running service" in err
    assert not (home / "registry.sqlite3").exists()


# ---- 6. audit tampering -----------------------------------------------------------------------


def _audit_home(tmp_path: Path, entries: int = 4) -> Path:
    home = tmp_path / "home"
    database = Database(home / "registry.sqlite3")
    try:
        log = AuditLog(database)
        for i in range(entries):
            log.record(Actor("anna", 1, "inspector"), "inspection.create", str(i), 201, {"n": i})
    finally:
        database.close()
    return home


def _tamper(home: Path, *statements: str) -> None:
    with closing(sqlite3.connect(home / "registry.sqlite3", isolation_level=None)) as db:
        db.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        db.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        for statement in statements:
            db.execute(statement)


def _recompute_unkeyed_chain(home: Path) -> None:
    """What the attack run did: rewrite every digest as the unkeyed sha256 chain of the rows left."""
    with closing(sqlite3.connect(home / "registry.sqlite3", isolation_level=None)) as db:
        previous = "0" * 64
        rows = db.execute(
            "SELECT id, at, actor, key_id, role, firm, action, target, status, detail FROM audit_log"
        )
        for row in rows.fetchall():
            canonical = json.dumps(
                [previous, *row[1:]], sort_keys=True, separators=(",", ":"), ensure_ascii=False
            )
            digest = hashlib.sha256(canonical.encode()).hexdigest()
            db.execute(
                "UPDATE audit_log SET previous = ?, digest = ? WHERE id = ?", (previous, digest, row[0])
            )
            previous = digest


def _verify(home: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["audit", "verify", "--home", str(home)])
    return code, capsys.readouterr().out


def test_6_an_edited_row_is_found_by_audit_verify_and_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = _audit_home(tmp_path)
    assert (home / ".audit-key").stat().st_mode & 0o777 == 0o600
    assert _verify(home, capsys) == (
        0,
        f"the audit log of {home} is intact: 4 entr(ies), keyed chain and head anchor agree\n",
    )
    _tamper(home, "UPDATE audit_log SET target = '99' WHERE id = 2")
    code, out = _verify(home, capsys)
    assert code == 11 and "entry 2 was changed" in out
    audit = [f for f in survey(home, "unused").findings if f.kind == "audit"]
    assert audit and not any(f.repairable for f in audit)


def test_6_a_recomputed_chain_with_its_tail_cut_is_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = _audit_home(tmp_path)
    _tamper(
        home, "UPDATE audit_log SET actor = 'mallory' WHERE id = 1", "DELETE FROM audit_log WHERE id >= 3"
    )
    _recompute_unkeyed_chain(home)
    code, out = _verify(home, capsys)
    assert code == 11 and "entry 1 was changed" in out and "anchor names entry 4" in out


def test_6_truncation_of_an_intact_chain_is_caught_by_the_anchor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = _audit_home(tmp_path)
    _tamper(home, "DELETE FROM audit_log WHERE id = 4")
    code, out = _verify(home, capsys)
    assert code == 11 and "ends at entry 3, its anchor names entry 4" in out


def test_6_a_home_from_before_the_key_keeps_verifying_and_is_keyed_from_then_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = _audit_home(tmp_path, entries=2)
    _tamper(home)
    _recompute_unkeyed_chain(home)  # what an earlier version wrote: plain sha256 digests
    (home / ".audit-key").unlink()
    anchor_path(home).unlink()
    assert _verify(home, capsys)[0] == 0
    database = Database(home / "registry.sqlite3")
    try:
        AuditLog(database).record(Actor("cli:root"), "backup", None, 0)
    finally:
        database.close()
    assert json.loads((home / ".audit-key").read_text())["keyed_from"] == 3
    assert _verify(home, capsys)[0] == 0
    _tamper(home, "UPDATE audit_log SET target = 'x' WHERE id = 1")
    _recompute_unkeyed_chain(home)
    code, out = _verify(home, capsys)
    assert code == 11 and "entry 3 was changed" in out


def test_6_backups_carry_the_anchor_and_a_restore_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = _audit_home(tmp_path)
    backup(home, tmp_path / "saved")
    assert json.loads((tmp_path / "saved" / "audit-head.json").read_text())["id"] == 4
    _tamper(home, "DELETE FROM audit_log WHERE id >= 3")
    restore(tmp_path / "saved", home)
    assert not (home / "audit-head.json").exists()
    assert _verify(home, capsys)[0] == 0


# ---- open point: retries ------------------------------------------------------------------------


def test_retries_do_not_embed_stored_images_again(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    views = [jpeg_bytes(draw_design(6)), jpeg_bytes(draw_design(6).rotate(5))]
    engine.register(DesignFields("D6", title="Six"), views)
    embedded: list[int] = []
    embed = engine.embedder.embed

    def counted(images: list) -> object:
        embedded.append(len(images))
        return embed(images)

    monkeypatch.setattr(engine.embedder, "embed", counted)
    retry = engine.register(DesignFields("D6", title="Six"), views)
    assert retry.added == [] and sum(embedded) == 0
    grown = engine.register(DesignFields("D6"), [*views, jpeg_bytes(draw_design(6).rotate(9))])
    assert len(grown.added) == 1 and sum(embedded) == 1
    assert engine.registry.design("D6").image_count == 3
