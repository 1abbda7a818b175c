"""The attack and fault run of issue 14 replayed: each test reproduces what was seen, then the fix.

Loopback only and bounded in time (docs/reliability.md, "Attacks and what answers them", lists each
attack with the test here that proves its answer). Service-level attacks live in
tests/test_attacks_service.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.engine import Engine, EngineSettings
from index.errors import CorruptDerivedData, ScoreOutOfRange
from index.home.maintenance import check
from index.home.survey import survey
from index.matching.ranking import fuse
from index.matching.verdict import Verdict
from index.search.vectors import SIDECAR, Sidecar, VectorIndex
from index.store.files import file_sha256
from index.store.registry import DesignFields
from model.embedder import Embedder
from model.whitening import learn_whitening
from tests.conftest import draw_design, jpeg_bytes


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
