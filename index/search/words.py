"""Visual words: a SIFT vocabulary and an inverted file over reference views (Video Google retrieval).

Why: a design that fills a fifth of a cluttered photo barely moves the photo's global descriptor
(nor any of its regions), so appearance search misses it; but its keypoints are in the photo's
SIFT features all the same. Each reference view's SIFT descriptors are quantised to the nearest
of `size` visual words (k-means, learned from the registry's own reference features); a photo's
words vote for the views that hold them, each word once per view (bursts of one texture count
once) and weighed by its idf squared, normalised by the view's own length (tf-idf cosine, Sivic &
Zisserman 2003). The best-voted designs join the appearance candidates and spatial verification
decides (index/matching/ranking.py `local_candidates`).
"""

from __future__ import annotations

import io
import itertools
import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import faiss
import numpy as np

from index.search.vectors import _one_thread
from index.store.features import seal, unseal
from index.store.files import write_bytes_atomic

logger = logging.getLogger(__name__)

WORDS_FILE = "words.npz"
ASSIGN_BATCH = 64
"""Views whose descriptors are assigned to words in one search."""
TRAIN_PER_WORD = 40
"""At most this many descriptors per word are sampled to learn the vocabulary (faiss' own advice)."""


def root_sift(descriptors: np.ndarray) -> np.ndarray:
    """Return RootSIFT rows (L1-normalised, square-rooted: Hellinger distance as Euclidean), float32."""
    values = np.asarray(descriptors, dtype=np.float32)
    return np.sqrt(values / np.maximum(values.sum(axis=1, keepdims=True), 1e-12))


@dataclass(frozen=True)
class Vocabulary:
    """Visual words in two levels: `coarse` cells (centroids of RootSIFT descriptors), each split
    into `fine` words (`fine[c * per_cell + j]` is word j of cell c), and what they were learned from.

    Why two levels: tens of thousands of words are needed for a word to say something (with 2,048
    words every reference view holds a third of them and votes hardly tell designs apart); a
    two-level vocabulary is learned and searched in the time of two small ones.
    """

    coarse: np.ndarray
    fine: np.ndarray
    learned_on: int

    @property
    def size(self) -> int:
        """Return the number of words."""
        return int(self.fine.shape[0])

    @cached_property
    def _index(self) -> faiss.Index:
        cells = len(self.coarse)
        quantizer = faiss.IndexFlatL2(self.coarse.shape[1])
        quantizer.add(self.coarse)
        index = faiss.IndexIVFFlat(quantizer, self.coarse.shape[1], cells)
        index.is_trained = True
        index.add_with_ids(self.fine, np.arange(self.size, dtype=np.int64))
        index.nprobe = 1
        return index

    def assign(self, descriptors: np.ndarray) -> np.ndarray:
        """Return the distinct words (sorted int32) of a view's or photo's SIFT descriptors."""
        return self.assign_many([descriptors])[0]

    def assign_many(self, descriptors: list[np.ndarray]) -> list[np.ndarray]:
        """Return the distinct words of several views at once (one search: faster than one by one)."""
        lengths = [len(d) for d in descriptors]
        if not sum(lengths):
            return [np.zeros(0, dtype=np.int32) for _ in descriptors]
        _, nearest = self._index.search(root_sift(np.concatenate(descriptors)), 1)
        bounds = np.cumsum([0, *lengths])
        return [
            np.unique(nearest[a:b, 0][nearest[a:b, 0] >= 0]).astype(np.int32)
            for a, b in itertools.pairwise(bounds)
        ]


def vocabulary_shape(size: int) -> tuple[int, int]:
    """Return (coarse cells, words per cell) of a vocabulary of about `size` words: isqrt(size) cells."""
    cells = max(1, math.isqrt(size))
    return cells, max(1, size // cells)


def _kmeans(points: np.ndarray, k: int, seed: int) -> np.ndarray:
    kmeans = faiss.Kmeans(
        points.shape[1],
        k,
        niter=10,
        seed=seed,
        max_points_per_centroid=TRAIN_PER_WORD * 8,
        min_points_per_centroid=1,  # a cell's few points per word are expected: no warning per cell
    )
    kmeans.train(points)
    return np.ascontiguousarray(kmeans.centroids, dtype=np.float32)


def learn_vocabulary(views: Iterable[np.ndarray], size: int, count: int, seed: int = 0) -> Vocabulary:
    """Learn about `size` words by two-level k-means from a seeded sample of `count` views' descriptors.

    `vocabulary_shape(size)` gives the cells and the words per cell; each cell's words are k-means
    centroids of its own points (a cell with fewer points than words repeats them). Each view gives
    at most its share of `size * TRAIN_PER_WORD` descriptors, so memory stays bounded however large
    the registry. Raises ValueError when there are fewer descriptors than words.
    """
    rng = np.random.default_rng(seed)
    share = -(-size * TRAIN_PER_WORD // max(count, 1))
    sampled = [d[rng.choice(len(d), min(len(d), share), replace=False)] for d in views if len(d)]
    sample = root_sift(np.concatenate(sampled)) if sampled else np.zeros((0, 128), dtype=np.float32)
    cells, per_cell = vocabulary_shape(size)
    if len(sample) < cells * per_cell:
        raise ValueError(f"a vocabulary of {size} words needs at least {size} descriptors, got {len(sample)}")
    coarse = _kmeans(sample, cells, seed)
    quantizer = faiss.IndexFlatL2(sample.shape[1])
    quantizer.add(coarse)
    _, cell_of = quantizer.search(sample, 1)
    fine = np.empty((cells * per_cell, sample.shape[1]), dtype=np.float32)
    for cell in range(cells):
        points = sample[cell_of[:, 0] == cell]
        if len(points) > per_cell:
            words = _kmeans(points, per_cell, seed + cell)
        else:
            words = np.resize(points if len(points) else coarse[cell : cell + 1], (per_cell, sample.shape[1]))
        fine[cell * per_cell : (cell + 1) * per_cell] = words
    return Vocabulary(coarse, fine, count)


class InvertedFile:
    """Which reference views hold which visual words; ranks views by tf-idf votes of a photo's words.

    Views are added and removed in place; the posting lists and idf weights are rebuilt lazily at
    the next search after a change (one sort of all postings).
    """

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary
        self._words: dict[int, np.ndarray] = {}
        self._dirty = True
        self._views = np.zeros(0, dtype=np.int64)
        self._offsets = np.zeros(vocabulary.size + 1, dtype=np.int64)
        self._postings = np.zeros(0, dtype=np.int64)
        self._idf2 = np.zeros(vocabulary.size, dtype=np.float32)
        self._norms = np.zeros(0, dtype=np.float32)

    @property
    def count(self) -> int:
        """Return the number of views it holds."""
        return len(self._words)

    def add(self, views: Iterable[tuple[int, np.ndarray]]) -> None:
        """Hold reference views by their SIFT descriptors (replacing what was held for those ids)."""
        for batch in _batches(views, ASSIGN_BATCH):
            assigned = self.vocabulary.assign_many([d for _, d in batch])
            for (image_id, _), words in zip(batch, assigned, strict=True):
                self.add_words(image_id, words)

    def add_words(self, image_id: int, words: np.ndarray) -> None:
        """Hold one reference view by its distinct words."""
        self._words[int(image_id)] = np.asarray(words, dtype=np.int32)
        self._dirty = True

    def remove(self, image_ids: list[int]) -> None:
        """Stop holding these views."""
        for image_id in image_ids:
            self._words.pop(int(image_id), None)
        self._dirty = True

    def _refresh(self) -> None:
        self._views = np.asarray(sorted(self._words), dtype=np.int64)
        lists = [self._words[int(v)] for v in self._views]
        words = np.concatenate(lists) if lists else np.zeros(0, dtype=np.int32)
        owners = np.repeat(np.arange(len(lists)), [len(w) for w in lists])
        order = np.argsort(words, kind="stable")
        self._postings = owners[order]
        frequency = np.bincount(words, minlength=self.vocabulary.size)
        self._offsets = np.concatenate([[0], np.cumsum(frequency)])
        idf = np.log(max(len(lists), 1) / np.maximum(frequency, 1))
        self._idf2 = (idf * idf).astype(np.float32)
        sums = np.bincount(owners, weights=self._idf2[words], minlength=len(lists))
        self._norms = np.sqrt(np.maximum(sums, 1e-12)).astype(np.float32)
        self._dirty = False

    def search(self, descriptors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (votes, image ids) of the `k` best-voted views for a photo's SIFT descriptors.

        votes = sum of idf^2 over the words the photo and the view share / the view's tf-idf
        length (views sharing no word are left out). One photo's words are found on the calling
        thread alone (see index.search.vectors._one_thread: a busy machine's OpenMP barrier costs more).
        """
        if self._dirty:
            self._refresh()
        with _one_thread():
            words = self.vocabulary.assign(descriptors)
        starts, ends = self._offsets[words], self._offsets[words + 1]
        if not len(words) or not (ends > starts).any():
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        hits = np.concatenate([self._postings[a:b] for a, b in zip(starts, ends, strict=True)])
        weights = np.repeat(self._idf2[words], ends - starts)
        votes = np.bincount(hits, weights=weights, minlength=len(self._views)) / self._norms
        best = np.argsort(-votes, kind="stable")[:k]
        best = best[votes[best] > 0]
        return votes[best].astype(np.float32), self._views[best]

    def save(self, path: Path, generation: int) -> None:
        """Write the vocabulary and every view's words to one sealed file (sha256 inside)."""
        ids = np.asarray(sorted(self._words), dtype=np.int64)
        lists = [self._words[int(i)] for i in ids]
        buffer = io.BytesIO()
        np.savez(
            buffer,
            coarse=self.vocabulary.coarse,
            fine=self.vocabulary.fine,
            learned_on=np.asarray(self.vocabulary.learned_on),
            generation=np.asarray(generation),
            ids=ids,
            lengths=np.asarray([len(w) for w in lists], dtype=np.int64),
            words=np.concatenate(lists) if lists else np.zeros(0, dtype=np.int32),
        )
        write_bytes_atomic(path, seal(buffer.getvalue()))

    @classmethod
    def load(cls, path: Path) -> tuple[InvertedFile, int]:
        """Return the inverted file saved by `save` and the registry generation it was saved at.

        Raises OSError when missing, ValueError when damaged (the sha256 disagrees) or malformed.
        """
        try:
            with np.load(io.BytesIO(unseal(path.read_bytes())), allow_pickle=False) as arrays:
                vocabulary = Vocabulary(
                    np.ascontiguousarray(arrays["coarse"], dtype=np.float32),
                    np.ascontiguousarray(arrays["fine"], dtype=np.float32),
                    int(arrays["learned_on"]),
                )
                inverted = cls(vocabulary)
                bounds = np.concatenate([[0], np.cumsum(arrays["lengths"])])
                words = arrays["words"]
                for image_id, start, end in zip(arrays["ids"], bounds[:-1], bounds[1:], strict=True):
                    inverted.add_words(int(image_id), words[start:end])
                return inverted, int(arrays["generation"])
        except KeyError as exc:
            raise ValueError(f"the words file lacks {exc}") from exc


def _batches(items: Iterable[tuple[int, np.ndarray]], size: int) -> Iterator[list[tuple[int, np.ndarray]]]:
    batch: list[tuple[int, np.ndarray]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
