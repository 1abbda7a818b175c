"""PCA whitening: decorrelates, reduces, normalises, and refuses too few samples."""

from __future__ import annotations

import numpy as np
import pytest

from model.whitening import Whitening, learn_whitening


def correlated(rows: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(dim, dim)) * np.linspace(3, 0.1, dim)
    return (rng.normal(size=(rows, dim)) @ mixing + 5.0).astype(np.float32)


def test_whitened_axes_are_decorrelated_with_equal_variance() -> None:
    data = correlated(4000, 16)
    whitening = learn_whitening(data, out_dim=16)
    projected = (data - whitening.mean) @ whitening.projection
    covariance = np.cov(projected, rowvar=False)
    np.testing.assert_allclose(covariance, np.eye(16), atol=0.05)


def test_apply_reduces_and_normalises() -> None:
    data = correlated(500, 32)
    out = learn_whitening(data, out_dim=8).apply(data)
    assert out.shape == (500, 8)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_round_trip_through_arrays() -> None:
    whitening = learn_whitening(correlated(100, 8), out_dim=4)
    again = Whitening.from_arrays(whitening.to_arrays())
    np.testing.assert_array_equal(again.projection, whitening.projection)


def test_too_few_samples_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 8 vectors"):
        learn_whitening(correlated(5, 16), out_dim=8)
