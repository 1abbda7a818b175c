"""Choosing, training and tuning the FAISS index kind for a number of vectors and a memory budget."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from enum import StrEnum

import faiss
import numpy as np

logger = logging.getLogger(__name__)

RECALL_K = 10
NPROBES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
FLAT_OVERHEAD = 56
"""Bytes per vector beside the floats in IndexIDMap2: the id array and the id -> slot hash map."""
IVF_OVERHEAD = 8
"""Bytes per vector beside the code in an IVF list: its int64 id."""
TRAIN_PER_LIST = 50
PQ_CENTROIDS = 256
"""Centroids per PQ sub-quantizer (8-bit codes): k-means needs at least this many vectors."""
KMEANS_ITERATIONS = 10
RECALL_MARGIN = 0.01
PHOTO_COSINE = 0.5
"""How close a synthetic 'photo' of a stored vector is to it: between the whitened review (0.40) and
match (0.55) thresholds, so tuning also checks that matches of that strength are found."""
"""Tuning aims this far above the target: about two standard errors of a 1000-query recall estimate."""


class IndexKind(StrEnum):
    """The index kinds a VectorIndex can hold; all keep the registry's int64 ids and support removal."""

    FLAT = "flat"
    IVF_SQ8 = "ivf-sq8"
    IVF_PQ = "ivf-pq"


@dataclass(frozen=True)
class IndexBudget:
    """How the index kind is chosen: exact while cheap, else the most precise IVF index that fits memory.

    Why these defaults (docs/performance.md, 2 cores): exact search over 100k vectors of 256 dimensions
    answers one query in about 2.5 ms and holds 1 KiB per vector; past that IVF with 8-bit scalar
    codes (264 bytes per vector) keeps recall@10 >= 0.95 at under 1 ms.
    """

    memory_bytes: int = 4 * 1024**3
    exact_max: int = 100_000
    recall_target: float = 0.95
    recall_queries: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.memory_bytes <= 0 or self.exact_max < 0 or self.recall_queries < 1:
            raise ValueError("memory_bytes and recall_queries must be positive, exact_max not negative")
        if not 0.0 < self.recall_target <= 1.0:
            raise ValueError(f"recall_target must be in (0, 1], got {self.recall_target}")


@dataclass(frozen=True)
class IndexPlan:
    """One index kind with its sizes: inverted lists and, for PQ, code bytes per vector."""

    kind: IndexKind
    nlist: int = 0
    pq_bytes: int = 0

    def factory(self) -> str:
        """Return the FAISS index_factory string of this plan."""
        if self.kind is IndexKind.FLAT:
            return "IDMap2,Flat"
        code = "SQ8" if self.kind is IndexKind.IVF_SQ8 else f"PQ{self.pq_bytes}np"
        return f"IVF{self.nlist},{code}"

    def bytes_per_vector(self, dimension: int) -> int:
        """Return the memory one stored vector takes (codes and id; lists and maps amortised)."""
        if self.kind is IndexKind.FLAT:
            return 4 * dimension + FLAT_OVERHEAD
        code = dimension if self.kind is IndexKind.IVF_SQ8 else self.pq_bytes
        return code + IVF_OVERHEAD


def list_count(count: int) -> int:
    """Return the number of IVF lists for `count` vectors: a power of two near 2*sqrt(count).

    Capped so that k-means sees at least 39 training points per list (FAISS's own floor).
    """
    nearest = 2 ** round(math.log2(max(1.0, 2.0 * math.sqrt(count))))
    ceiling = 2 ** int(math.log2(max(1.0, count / 39.0)))
    return min(nearest, ceiling, 65536)


def plan_index(count: int, dimension: int, budget: IndexBudget) -> IndexPlan:
    """Return the index kind for `count` vectors: flat while cheap and within memory, else IVF.

    IVF with 8-bit scalar codes is preferred; product-quantised codes (fewer bytes, lower recall)
    only when the memory budget demands them. Raises ValueError when nothing fits the budget.
    """
    flat = IndexPlan(IndexKind.FLAT)
    if count <= budget.exact_max and count * flat.bytes_per_vector(dimension) <= budget.memory_bytes:
        return flat
    nlist = list_count(count)
    fixed = 4 * dimension * nlist
    sq8 = IndexPlan(IndexKind.IVF_SQ8, nlist)
    if fixed + count * sq8.bytes_per_vector(dimension) <= budget.memory_bytes:
        return sq8
    for pq_bytes in (64, 32, 16, 8) if count >= PQ_CENTROIDS else ():
        pq = IndexPlan(IndexKind.IVF_PQ, nlist, pq_bytes)
        fits = fixed + count * pq.bytes_per_vector(dimension) <= budget.memory_bytes
        if dimension % pq_bytes == 0 and fits:
            return pq
    raise ValueError(
        f"no index kind holds {count} vectors of dimension {dimension} in {budget.memory_bytes} bytes"
    )


def train_ivf(plan: IndexPlan, vectors: np.ndarray, seed: int) -> faiss.Index:
    """Return an empty, trained IVF index of `plan` learned from a sample of `vectors`."""
    index = faiss.index_factory(vectors.shape[1], plan.factory(), faiss.METRIC_INNER_PRODUCT)
    ivf = faiss.extract_index_ivf(index)
    ivf.cp.niter = KMEANS_ITERATIONS
    ivf.cp.seed = seed
    if plan.kind is IndexKind.IVF_PQ:
        faiss.downcast_index(ivf).pq.cp.niter = KMEANS_ITERATIONS
    take = min(len(vectors), TRAIN_PER_LIST * plan.nlist)
    rows = np.sort(np.random.default_rng(seed).choice(len(vectors), take, replace=False))
    index.train(np.ascontiguousarray(vectors[rows]))
    return index


def compact(index: faiss.Index) -> faiss.Index:
    """Return a copy whose inverted lists hold no spare capacity (growth while adding leaves ~25 %)."""
    return faiss.deserialize_index(faiss.serialize_index(index))


@dataclass(frozen=True)
class Tuning:
    """The search breadth chosen at build, the recall@10 against exact search measured at it, and the
    share of synthetic photos (PHOTO_COSINE to a stored vector) whose stored vector was found."""

    nprobe: int
    recall: float
    planted: float
    queries: int


def _without_self(found: np.ndarray, own: np.ndarray, k: int) -> np.ndarray:
    rows = [row[row != me][:k] for row, me in zip(found, own, strict=True)]
    return np.stack([np.pad(r, (0, k - len(r)), constant_values=-1) for r in rows])


def recall_at(approx: np.ndarray, exact: np.ndarray) -> float:
    """Return the mean share of each exact row's ids (not -1) that the approximate row also holds."""
    shares = []
    for a, e in zip(approx, exact, strict=True):
        truth = set(e[e >= 0].tolist())
        if truth:
            shares.append(len(truth & set(a.tolist())) / len(truth))
    return float(np.mean(shares)) if shares else 1.0


def photos_of(vectors: np.ndarray, cosine: float, rng: np.random.Generator) -> np.ndarray:
    """Return unit vectors at about `cosine` to each row: the row plus isotropic noise, renormalised."""
    spread = math.sqrt(1.0 / cosine**2 - 1.0) / math.sqrt(vectors.shape[1])
    noisy = vectors + rng.standard_normal(vectors.shape, dtype=np.float32) * spread
    return np.ascontiguousarray(noisy / np.linalg.norm(noisy, axis=1, keepdims=True), dtype=np.float32)


def tune_nprobe(index: faiss.Index, ids: np.ndarray, vectors: np.ndarray, budget: IndexBudget) -> Tuning:
    """Pick the smallest nprobe at which both recall@10 against exact search and the share of found
    photos reach the budget's target (plus RECALL_MARGIN, so that new queries stay above it).

    The queries are stored vectors themselves, each with its own id left out of both lists, so the
    recall is that of its other neighbours; the photos are the same vectors moved to PHOTO_COSINE,
    counted only where exact search finds their vector among the first 10.
    Sets the chosen nprobe on `index`; returns the Tuning.
    """
    rng = np.random.default_rng(budget.seed + 1)
    rows = rng.choice(len(vectors), min(len(vectors), budget.recall_queries), replace=False)
    queries, own = np.ascontiguousarray(vectors[rows]), ids[rows]
    photos = photos_of(queries, PHOTO_COSINE, rng)
    k = min(RECALL_K, len(vectors) - 1)
    if k < 1:
        return Tuning(nprobe=1, recall=1.0, planted=1.0, queries=0)
    _, slots = faiss.knn(queries, vectors, k + 1, metric=faiss.METRIC_INNER_PRODUCT)
    exact = _without_self(np.where(slots >= 0, ids[np.maximum(slots, 0)], -1), own, k)
    _, photo_slots = faiss.knn(photos, vectors, k, metric=faiss.METRIC_INNER_PRODUCT)
    findable = np.array([row in found for row, found in zip(rows, photo_slots, strict=True)])
    ivf = faiss.extract_index_ivf(index)
    tuning = Tuning(nprobe=1, recall=0.0, planted=0.0, queries=len(rows))
    goal = min(1.0, budget.recall_target + RECALL_MARGIN)
    candidates = sorted({p for p in NPROBES if p < ivf.nlist} | ({ivf.nlist} & set(NPROBES)))
    for nprobe in candidates:
        ivf.nprobe = nprobe
        approx = _without_self(index.search(queries, k + 1)[1], own, k)
        found = index.search(photos, k)[1]
        hits = [me in row for me, row in zip(own[findable], found[findable], strict=True)]
        planted = float(np.mean(hits)) if hits else 1.0
        tuning = Tuning(nprobe, recall_at(approx, exact), planted, len(rows))
        if tuning.recall >= goal and tuning.planted >= goal:
            break
    if min(tuning.recall, tuning.planted) < budget.recall_target:
        logger.warning(
            "recall@10 %.3f (photos found %.3f) is below the target %.3f even at nprobe=%d (%d lists)",
            tuning.recall,
            tuning.planted,
            budget.recall_target,
            tuning.nprobe,
            ivf.nlist,
        )
    ivf.nprobe = tuning.nprobe
    return tuning
