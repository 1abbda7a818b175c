"""The FAISS index: exact and IVF results equal brute force, ids kept, removal, checkpoints round-trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.search.ann import IndexBudget, IndexKind, plan_index, recall_at
from index.search.vectors import Sidecar, VectorIndex
from model.whitening import learn_whitening


def unit_rows(rows: int, dim: int, seed: int) -> np.ndarray:
    data = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return data / np.linalg.norm(data, axis=1, keepdims=True)


def sidecar(index: VectorIndex, generation: int = 3, samples: int = 0) -> Sidecar:
    return Sidecar("test/v1", index.dimension, index.count, generation, samples, "2026-01-01T00:00:00")


def test_search_equals_brute_force_cosine() -> None:
    base, queries = unit_rows(500, 32, 1), unit_rows(20, 32, 2)
    ids = np.arange(1000, 1500, dtype=np.int64)
    index = VectorIndex(32)
    index.add(ids, base)
    scores, found = index.search(queries, 10)
    exact = queries @ base.T
    order = np.argsort(-exact, axis=1)[:, :10]
    np.testing.assert_array_equal(found, ids[order])
    np.testing.assert_allclose(scores, np.take_along_axis(exact, order, axis=1), atol=1e-5)


def test_remove_drops_exactly_those_ids() -> None:
    index = VectorIndex(8)
    index.add(np.array([1, 2, 3]), unit_rows(3, 8, 3))
    assert index.remove(np.array([2, 99])) == 1
    _, found = index.search(unit_rows(1, 8, 4), 5)
    assert sorted(found[0].tolist()) == [1, 3]


def test_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="dimension 8"):
        VectorIndex(8).add(np.array([1]), unit_rows(1, 9, 5))


def test_checkpoint_round_trip_with_whitening(tmp_path: Path) -> None:
    index = VectorIndex(16)
    index.add(np.arange(50), unit_rows(50, 16, 6))
    whitening = learn_whitening(unit_rows(40, 32, 7), 16)
    index.save(tmp_path, sidecar(index, samples=40), whitening)
    loaded, meta, loaded_whitening = VectorIndex.load(tmp_path)
    query = unit_rows(3, 16, 8)
    np.testing.assert_array_equal(loaded.search(query, 5)[1], index.search(query, 5)[1])
    assert meta == sidecar(index, samples=40)
    assert loaded_whitening is not None
    np.testing.assert_array_equal(loaded_whitening.projection, whitening.projection)


def test_new_checkpoint_replaces_old_files(tmp_path: Path) -> None:
    index = VectorIndex(4)
    index.save(tmp_path, sidecar(index, generation=1), None)
    index.add(np.array([5]), unit_rows(1, 4, 9))
    index.save(tmp_path, sidecar(index, generation=2), None)
    named = json.loads((tmp_path / "index.json").read_text())["files"]["vectors"]["name"]
    assert [p.name for p in tmp_path.glob("vectors-*")] == [named]
    assert named.startswith("vectors-g2-")
    assert VectorIndex.load(tmp_path)[0].count == 1


def test_sidecar_disagreement_is_detected(tmp_path: Path) -> None:
    index = VectorIndex(4)
    index.add(np.array([5]), unit_rows(1, 4, 10))
    index.save(tmp_path, Sidecar("x", 4, 7, 1, 0, "t"), None)
    with pytest.raises(ValueError, match="does not agree"):
        VectorIndex.load(tmp_path)


# ---- index kinds chosen by size -------------------------------------------------------------------

DIM = 64
SQ8 = IndexBudget(exact_max=0)
PQ = IndexBudget(exact_max=0, memory_bytes=3000 * 16 + 4 * DIM * 64)
KINDS = {IndexKind.FLAT: IndexBudget(), IndexKind.IVF_SQ8: SQ8, IndexKind.IVF_PQ: PQ}
RECALL_FLOOR = {IndexKind.FLAT: 1.0, IndexKind.IVF_SQ8: 0.9, IndexKind.IVF_PQ: 0.4}


def clustered_rows(rows: int, dim: int, seed: int, centres: int = 40, spread: float = 0.6) -> np.ndarray:
    """Unit vectors drawn around `centres` random directions (seeded, like real descriptors, clustered)."""
    rng = np.random.default_rng(seed)
    middle = np.random.default_rng(0).normal(size=(centres, dim))
    middle /= np.linalg.norm(middle, axis=1, keepdims=True)
    data = middle[rng.integers(0, centres, rows)] + rng.normal(size=(rows, dim)) * spread / np.sqrt(dim)
    return (data / np.linalg.norm(data, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def registry_vectors() -> tuple[np.ndarray, np.ndarray]:
    return np.arange(10_000, 13_000, dtype=np.int64), clustered_rows(3000, DIM, 11)


@pytest.fixture(scope="module", params=list(KINDS), ids=[k.value for k in KINDS])
def built(request: pytest.FixtureRequest, registry_vectors: tuple[np.ndarray, np.ndarray]) -> VectorIndex:
    ids, vectors = registry_vectors
    return VectorIndex.build(ids, vectors, KINDS[request.param])


def brute_force(ids: np.ndarray, vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return ids[np.argsort(-(queries @ vectors.T), axis=1)[:, :k]]


def test_build_picks_the_kind_and_records_its_recall(built: VectorIndex) -> None:
    expected = next(kind for kind, budget in KINDS.items() if built.kind is kind)
    assert built.count == 3000
    described = built.describe()
    assert described["kind"] == expected.value
    if built.kind is IndexKind.FLAT:
        assert (described["recall_at_10"], described["recall_queries"], built.nprobe) == (1.0, 0, 0)
    else:
        assert described["recall_queries"] == 1000 and described["trained_on"] == 3000
        assert described["recall_at_10"] >= RECALL_FLOOR[built.kind]
        assert described["planted_recall"] >= RECALL_FLOOR[built.kind]
        assert described["factory"].startswith("IVF64,")
    if built.kind is IndexKind.IVF_SQ8:
        assert min(described["recall_at_10"], described["planted_recall"]) >= SQ8.recall_target


def test_each_kind_finds_the_brute_force_neighbours(
    built: VectorIndex, registry_vectors: tuple[np.ndarray, np.ndarray]
) -> None:
    ids, vectors = registry_vectors
    queries = clustered_rows(200, DIM, 12)
    _, found = built.search(queries, 10)
    exact = brute_force(ids, vectors, queries, 10)
    assert recall_at(found, exact) >= RECALL_FLOOR[built.kind]
    if built.kind is not IndexKind.IVF_PQ:
        assert np.mean(found[:, 0] == exact[:, 0]) >= RECALL_FLOOR[built.kind]


def test_each_kind_adds_and_removes_in_place(
    built: VectorIndex, registry_vectors: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    ids, vectors = registry_vectors
    built.save(tmp_path, sidecar(built), None)
    index = VectorIndex.load(tmp_path)[0]
    gone = ids[:50]
    assert index.remove(gone) == 50
    _, found = index.search(vectors[:50], 10)
    assert not set(found.ravel().tolist()) & set(gone.tolist())
    fresh = clustered_rows(5, DIM, 13)
    index.add(np.arange(5, dtype=np.int64), fresh)
    assert index.count == 2955
    _, found = index.search(fresh, 1)
    assert found[:, 0].tolist() == [0, 1, 2, 3, 4]


def test_each_kind_round_trips_through_a_checkpoint(built: VectorIndex, tmp_path: Path) -> None:
    built.save(tmp_path, sidecar(built), None)
    loaded, meta, _ = VectorIndex.load(tmp_path)
    queries = clustered_rows(20, DIM, 14)
    np.testing.assert_array_equal(loaded.search(queries, 10)[1], built.search(queries, 10)[1])
    assert (loaded.kind, loaded.nprobe, loaded.describe()) == (built.kind, built.nprobe, built.describe())
    assert (meta.kind, meta.nprobe, meta.recall_at_10) == (built.kind.value, built.nprobe, built.recall_at_10)


def test_a_sidecar_from_before_index_kinds_still_loads(tmp_path: Path) -> None:
    index = VectorIndex(4)
    index.add(np.array([5]), unit_rows(1, 4, 15))
    index.save(tmp_path, sidecar(index, generation=1), None)
    payload = json.loads((tmp_path / "index.json").read_text())
    old = {k: payload[k] for k in ("fingerprint", "dimension", "count", "generation", "whitening_samples")}
    (tmp_path / "index.json").write_text(json.dumps({**old, "built_at": "t", "unknown": 1}))
    loaded, meta, _ = VectorIndex.load(tmp_path)
    assert (loaded.kind, meta.kind, meta.recall_at_10, loaded.count) == (IndexKind.FLAT, "flat", 1.0, 1)


def test_build_without_vectors_is_an_empty_exact_index() -> None:
    index = VectorIndex.build(np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32), dimension=8)
    assert (index.count, index.dimension, index.kind) == (0, 8, IndexKind.FLAT)


@pytest.mark.parametrize(
    ("count", "budget", "factory"),
    [
        (10_000, IndexBudget(), "IDMap2,Flat"),
        (100_000, IndexBudget(), "IDMap2,Flat"),
        (100_001, IndexBudget(), "IVF512,SQ8"),
        (1_000_000, IndexBudget(), "IVF2048,SQ8"),
        (50_000, IndexBudget(memory_bytes=40_000_000), "IVF512,SQ8"),
        (1_000_000, IndexBudget(memory_bytes=100_000_000), "IVF2048,PQ64np"),
        (1_000_000, IndexBudget(memory_bytes=30_000_000), "IVF2048,PQ16np"),
    ],
)
def test_plan_follows_size_and_memory(count: int, budget: IndexBudget, factory: str) -> None:
    assert plan_index(count, 256, budget).factory() == factory


def test_plan_refuses_a_budget_nothing_fits() -> None:
    with pytest.raises(ValueError, match="no index kind"):
        plan_index(1_000_000, 256, IndexBudget(memory_bytes=1_000_000))


def test_outgrown_when_the_size_calls_for_another_kind() -> None:
    index = VectorIndex(8)
    index.add(np.arange(20), unit_rows(20, 8, 16))
    assert not index.outgrown(IndexBudget(exact_max=20))
    assert index.outgrown(IndexBudget(exact_max=10))
