"""The FAISS index: integer ids and vectors only, exact or IVF by size, checkpointed with a sidecar."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from index.errors import CorruptDerivedData, ScoreOutOfRange
from index.search.ann import IndexBudget, IndexKind, IndexPlan, compact, plan_index, train_ivf, tune_nprobe
from index.store.files import ensure_folder, file_sha256, write_atomic, write_json_atomic
from model.whitening import Whitening

logger = logging.getLogger(__name__)

SIDECAR = "index.json"
ADD_BLOCK = 65_536
SINGLE_THREAD_MAX = 64
"""Searches of at most this many queries run on the calling thread only (see `_one_thread`)."""
EXACT_SLACK = 1e-3
"""How far past [-1, 1] float rounding may put an exact inner product of unit vectors."""
APPROXIMATE_SLACK = 0.25
"""How far past [-1, 1] an IVF-PQ estimate may stray (its codes approximate the vectors); beyond it the
index is damaged. Scores within the slack are clipped to [-1, 1]."""


@dataclass(frozen=True)
class Sidecar:
    """What a saved index was built from; an index whose sidecar disagrees with the registry is rebuilt.

    The fields after `built_at` describe the index itself and are filled in by `VectorIndex.save`;
    their defaults describe an exact index, so sidecars written before they existed still load.
    `recall_at_10` is measured against exact search when the index is built (1.0 for exact search);
    `planted_recall` is the share of synthetic photos of stored vectors (cosine 0.5) that found them.
    """

    fingerprint: str
    dimension: int
    count: int
    generation: int
    whitening_samples: int
    built_at: str
    kind: str = IndexKind.FLAT.value
    factory: str = "IDMap2,Flat"
    nprobe: int = 0
    trained_on: int = 0
    recall_at_10: float = 1.0
    planted_recall: float = 1.0
    recall_queries: int = 0
    files: dict[str, dict[str, str]] | None = field(default=None, compare=False)
    """Each checkpoint file (`vectors`, `whitening`) by role: its `name` and `sha256`; filled in by
    `VectorIndex.save`. None in a sidecar written before checksums (such a checkpoint is rebuilt)."""

    @property
    def verified(self) -> bool:
        """Return whether this sidecar records the checksum of every file it names."""
        return self.files is not None and "vectors" in self.files

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> Sidecar:
        """Return the sidecar of a JSON object, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in payload.items() if k in known})


class VectorIndex:
    """Inner-product search over unit vectors keyed by registry image ids, exact or IVF by size.

    Why a wrapper: callers never see FAISS types, ids are always the registry's int64 ids, and every
    kind adds and removes vectors in place (IVF lists hold the ids; removal scans them), so designs
    come and go without a rebuild. `VectorIndex(dimension)` is an empty exact index; `build` picks
    the kind for a whole registry and measures an approximate index's recall against exact search.
    """

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self.kind = IndexKind.FLAT
        self.trained_on = 0
        self.recall_at_10 = 1.0
        self.planted_recall = 1.0
        self.recall_queries = 0
        self._factory = IndexPlan(IndexKind.FLAT).factory()
        self._index: faiss.Index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

    @classmethod
    def build(
        cls,
        ids: np.ndarray,
        vectors: np.ndarray,
        budget: IndexBudget | None = None,
        dimension: int | None = None,
    ) -> VectorIndex:
        """Return an index holding these (n, dimension) vectors under their int64 ids.

        The kind comes from `plan_index` (exact while cheap, else IVF trained on these vectors,
        with nprobe tuned to the budget's recall target). `dimension` is needed only when there
        are no vectors. Raises ValueError for mismatched shapes or when nothing fits the budget.
        """
        budget = budget or IndexBudget()
        ids = np.asarray(ids, dtype=np.int64)
        dimension = int(vectors.shape[1]) if dimension is None else dimension
        index = cls(dimension)
        if len(ids) == 0:
            return index
        index._check(ids, vectors)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        plan = plan_index(len(ids), dimension, budget)
        if plan.kind is IndexKind.FLAT:
            index.add(ids, vectors)
            return index
        started = time.perf_counter()
        raw = train_ivf(plan, vectors, budget.seed)
        trained = time.perf_counter()
        for start in range(0, len(ids), ADD_BLOCK):
            raw.add_with_ids(vectors[start : start + ADD_BLOCK], ids[start : start + ADD_BLOCK])
        raw = compact(raw)
        tuning = tune_nprobe(raw, ids, vectors, budget)
        index._index, index.kind, index._factory = raw, plan.kind, plan.factory()
        index.trained_on, index.recall_at_10 = len(ids), round(tuning.recall, 4)
        index.planted_recall, index.recall_queries = round(tuning.planted, 4), tuning.queries
        logger.info(
            "built %s of %d vectors: train %.1fs, add and tune %.1fs; nprobe=%d, recall@10=%.3f, photos %.3f",
            index._factory,
            len(ids),
            trained - started,
            time.perf_counter() - trained,
            tuning.nprobe,
            tuning.recall,
            tuning.planted,
        )
        return index

    @property
    def count(self) -> int:
        """Return the number of vectors held."""
        return int(self._index.ntotal)

    @property
    def nprobe(self) -> int:
        """Return the number of IVF lists a search visits (0 for exact search)."""
        ivf = faiss.try_extract_index_ivf(self._index)
        return 0 if ivf is None else int(ivf.nprobe)

    def outgrown(self, budget: IndexBudget | None = None) -> bool:
        """Return whether a rebuild would now pick another kind, or the IVF lists were trained on
        less than half the vectors they hold (new vectors are only assigned, never re-clustered)."""
        plan = plan_index(max(self.count, 1), self.dimension, budget or IndexBudget())
        return plan.kind is not self.kind or (
            self.kind is not IndexKind.FLAT and self.count > 2 * self.trained_on
        )

    def _check(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if vectors.shape != (len(ids), self.dimension):
            raise ValueError(
                f"expected {len(ids)} vectors of dimension {self.dimension}, got {vectors.shape}"
            )

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add (n, dimension) vectors under the given int64 ids. Raises ValueError for a wrong shape."""
        self._check(ids, vectors)
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))

    def remove(self, ids: np.ndarray) -> int:
        """Remove the vectors with these ids; return how many were removed."""
        return int(self._index.remove_ids(np.asarray(ids, dtype=np.int64)))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (scores, ids) of the k nearest vectors per query row, best first; id -1 pads."""
        k = max(1, min(k, self.count))
        if self.count == 0:
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if len(queries) > SINGLE_THREAD_MAX:
            scores, ids = self._index.search(queries, k)
        else:
            with _one_thread():
                scores, ids = self._index.search(queries, k)
        return self._bounded(scores, ids), ids

    def _bounded(self, scores: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Return the scores clipped to [-1, 1] once they are shown to be cosines of unit vectors.

        Raises ScoreOutOfRange when a found neighbour's score is not finite or lies beyond the
        slack of this index kind: damaged vectors must never become a verdict.
        """
        found = scores[ids >= 0]
        slack = EXACT_SLACK if self.kind is IndexKind.FLAT else APPROXIMATE_SLACK
        wrong = found[~(np.abs(found) <= 1 + slack)]
        if wrong.size:
            raise ScoreOutOfRange(
                f"the index returned a similarity of {float(wrong[0]):.4g}, outside [-1, 1]: its vectors"
                " are damaged; run `lanternguard check` to rebuild it"
            )
        return np.clip(scores, -1.0, 1.0)

    def ids(self) -> set[int] | None:
        """Return the registry image ids this index holds (None for a kind that cannot list them).

        An exact index keeps them in its IDMap, an IVF index in its inverted lists.
        """
        raw = self._index
        if hasattr(raw, "id_map"):
            return {int(i) for i in faiss.vector_to_array(raw.id_map)}
        try:
            ivf = faiss.extract_index_ivf(raw)
        except RuntimeError:
            return None
        lists, found = ivf.invlists, set()
        for number in range(ivf.nlist):
            size = lists.list_size(number)
            if size:
                pointer = lists.get_ids(number)
                found.update(int(i) for i in faiss.rev_swig_ptr(pointer, size))
                lists.release_ids(number, pointer)
        return found

    def describe(self) -> dict[str, Any]:
        """Return the sidecar fields that describe this index (kind, factory, nprobe, recall)."""
        return {
            "kind": self.kind.value,
            "factory": self._factory,
            "nprobe": self.nprobe,
            "trained_on": self.trained_on,
            "recall_at_10": self.recall_at_10,
            "planted_recall": self.planted_recall,
            "recall_queries": self.recall_queries,
        }

    def save(self, folder: Path, sidecar: Sidecar, whitening: Whitening | None) -> None:
        """Write the index and whitening under new names of this generation, then the sidecar last.

        Every save picks fresh file names (`vectors-g<generation>-<random>.faiss`), so a rebuild of
        the same generation never overwrites the files the current sidecar names. The sidecar, with
        this index's description and each file's sha256, is the commit point: a crash before it
        leaves the previous checkpoint intact. Files the new sidecar does not name are removed after.
        """
        ensure_folder(folder)
        stem = f"g{sidecar.generation}-{secrets.token_hex(4)}"
        vectors = folder / f"vectors-{stem}.faiss"
        write_atomic(vectors, lambda p: faiss.write_index(self._index, str(p)))
        files = {"vectors": {"name": vectors.name, "sha256": file_sha256(vectors)}}
        if whitening is not None:
            matrix = folder / f"whitening-{stem}.npz"
            write_atomic(matrix, lambda p: np.savez(p.open("wb"), **whitening.to_arrays()))
            files["whitening"] = {"name": matrix.name, "sha256": file_sha256(matrix)}
        write_json_atomic(folder / SIDECAR, asdict(replace(sidecar, **self.describe(), files=files)))
        named = {entry["name"] for entry in files.values()}
        for old in checkpoint_files(folder):
            if old.name not in named:
                old.unlink(missing_ok=True)

    @classmethod
    def load(cls, folder: Path) -> tuple[VectorIndex, Sidecar, Whitening | None]:
        """Return the last saved checkpoint, each file checked against the sha256 its sidecar records.

        A sidecar written before checksums loads unverified (`Sidecar.verified` is False). Raises
        CorruptDerivedData when a file's bytes differ from its recorded sha256, FileNotFoundError or
        ValueError when the checkpoint is otherwise unusable.
        """
        sidecar = Sidecar.from_json(json.loads((folder / SIDECAR).read_text()))
        raw = faiss.read_index(str(_checked(folder, sidecar, "vectors")))
        index = cls(raw.d)
        index._index, index.kind, index._factory = raw, IndexKind(sidecar.kind), sidecar.factory
        index.trained_on, index.recall_at_10 = sidecar.trained_on, sidecar.recall_at_10
        index.planted_recall, index.recall_queries = sidecar.planted_recall, sidecar.recall_queries
        ivf = faiss.try_extract_index_ivf(raw)
        if (ivf is None) != (index.kind is IndexKind.FLAT):
            raise ValueError(f"the index file does not hold the {sidecar.kind} index its sidecar names")
        if ivf is not None and sidecar.nprobe:
            ivf.nprobe = sidecar.nprobe
        if index.count != sidecar.count or index.dimension != sidecar.dimension:
            raise ValueError("the index file does not agree with its sidecar")
        whitening = None
        if sidecar.whitening_samples:
            with np.load(_checked(folder, sidecar, "whitening"), allow_pickle=False) as arrays:
                whitening = Whitening.from_arrays(dict(arrays))
        return index, sidecar, whitening


def checkpoint_files(folder: Path) -> list[Path]:
    """Return every vectors and whitening file in a checkpoint folder, named by a sidecar or not."""
    return sorted([*folder.glob("vectors-g*.faiss"), *folder.glob("whitening-g*.npz")])


def named_files(folder: Path, sidecar: Sidecar) -> set[str]:
    """Return the names of the checkpoint files a sidecar uses (those of an unverified one: by generation)."""
    if sidecar.files is not None:
        return {entry["name"] for entry in sidecar.files.values()}
    return {p.name for p in (_legacy(folder, sidecar, role) for role in ("vectors", "whitening")) if p}


def _legacy(folder: Path, sidecar: Sidecar, role: str) -> Path | None:
    """Return the one file of `role` of the sidecar's generation (sidecars without a `files` map)."""
    suffix = "faiss" if role == "vectors" else "npz"
    exact = folder / f"{role}-g{sidecar.generation}.{suffix}"
    found = [exact] if exact.exists() else sorted(folder.glob(f"{role}-g{sidecar.generation}-*.{suffix}"))
    return found[0] if len(found) == 1 else None


def _checked(folder: Path, sidecar: Sidecar, role: str) -> Path:
    """Return the path of a checkpoint file once its bytes match the sha256 the sidecar records."""
    if sidecar.files is None:
        path = _legacy(folder, sidecar, role)
        if path is None:
            raise FileNotFoundError(f"no {role} file of generation {sidecar.generation} in {folder}")
        return path
    entry = sidecar.files.get(role)
    if entry is None:
        raise ValueError(f"the sidecar names no {role} file")
    path = folder / Path(entry["name"]).name
    actual = file_sha256(path)
    if actual != entry["sha256"]:
        raise CorruptDerivedData(
            f"{path.name}: its sha256 is {actual[:12]}..., its sidecar recorded {entry['sha256'][:12]}..."
        )
    return path


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run FAISS's OpenMP regions opened from this thread on this thread alone, then restore.

    Why: a small search split across OpenMP threads waits at a barrier for a core; on a busy
    2-core machine that wait is a scheduler slice (measured: exact search over 100k vectors,
    p50 55 ms with 2 threads, 7.7 ms with 1). libgomp keeps the setting per calling thread.
    """
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def now() -> str:
    """Return the current UTC time for sidecars."""
    return datetime.now(UTC).isoformat(timespec="seconds")
