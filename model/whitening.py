"""PCA whitening learned from the registry's own descriptors (Jegou & Chum, ECCV 2012)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Whitening:
    """Centre, rotate onto the principal axes, rescale them, reduce, and re-normalise.

    Why: raw CNN descriptors of unrelated images share a large common component, so their cosine
    is high and varies from query to query; whitening removes it and makes scores comparable.
    """

    mean: np.ndarray
    projection: np.ndarray

    @property
    def in_dim(self) -> int:
        """Return the dimension of the raw descriptors it takes."""
        return int(self.projection.shape[0])

    @property
    def out_dim(self) -> int:
        """Return the dimension of the whitened descriptors it gives."""
        return int(self.projection.shape[1])

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """Return whitened, unit-norm float32 rows for (n, in_dim) raw descriptors."""
        projected = (vectors.astype(np.float32) - self.mean) @ self.projection
        norms = np.linalg.norm(projected, axis=1, keepdims=True)
        return (projected / np.maximum(norms, 1e-12)).astype(np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return the arrays that fully describe it (for an .npz file)."""
        return {"mean": self.mean, "projection": self.projection}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Whitening:
        """Return the whitening stored by `to_arrays`."""
        return cls(
            mean=np.asarray(arrays["mean"], dtype=np.float32),
            projection=np.asarray(arrays["projection"], dtype=np.float32),
        )


def learn_whitening(vectors: np.ndarray, out_dim: int, power: float = 0.5) -> Whitening:
    """Learn PCA whitening from (n, d) descriptors, keeping `out_dim` axes.

    Each axis is divided by its eigenvalue to the `power` (0.5 is full whitening, smaller values
    shrink it). Returns the Whitening. Raises ValueError when there are fewer rows than `out_dim`.
    """
    count, dim = vectors.shape
    if out_dim > dim:
        raise ValueError(f"cannot keep {out_dim} axes of {dim}-dimensional descriptors")
    if count < out_dim:
        raise ValueError(f"whitening to {out_dim} dimensions needs at least {out_dim} vectors, got {count}")
    data = vectors.astype(np.float64)
    mean = data.mean(axis=0)
    centred = data - mean
    covariance = centred.T @ centred / max(count - 1, 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    order = np.argsort(eigenvalues)[::-1][:out_dim]
    scale = np.maximum(eigenvalues[order], 1e-9 * eigenvalues[order[0]]) ** power
    projection = eigenvectors[:, order] / scale
    return Whitening(mean=mean.astype(np.float32), projection=projection.astype(np.float32))
