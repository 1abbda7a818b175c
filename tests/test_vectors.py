"""The FAISS index: exact results, ids kept, removal, and a checkpoint that round-trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.vectors import Sidecar, VectorIndex
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
    assert [p.name for p in tmp_path.glob("vectors-*")] == ["vectors-g2.faiss"]
    assert VectorIndex.load(tmp_path)[0].count == 1


def test_sidecar_disagreement_is_detected(tmp_path: Path) -> None:
    index = VectorIndex(4)
    index.add(np.array([5]), unit_rows(1, 4, 10))
    index.save(tmp_path, Sidecar("x", 4, 7, 1, 0, "t"), None)
    with pytest.raises(ValueError, match="does not agree"):
        VectorIndex.load(tmp_path)
