"""The live index: the searchable vectors of a registry, kept in step with it and checkpointed."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from index.errors import CorruptDerivedData
from index.search.vectors import Sidecar, VectorIndex, now
from index.search.words import WORDS_FILE, InvertedFile, learn_vocabulary, vocabulary_shape
from index.store.blobs import BlobStore
from index.store.registry import Registry
from model.embedder import Embedder
from model.errors import InvalidImage
from model.images import load_image
from model.local import LocalFeatures
from model.whitening import Whitening, learn_whitening

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexPolicy:
    """When whitening is learned and relearned, and how often unsaved changes are checkpointed."""

    whitening_dim: int = 512
    whitening_power: float = 0.25
    whitening_min_images: int = 512
    whitening_regrowth: float = 1.25
    checkpoint_every: int = 256
    words: int = 0
    """Visual words of the local-feature path (index.search.words), learned with the whitening; 0: off."""


class LiveIndex:
    """The registry's searchable reference vectors (whitened once the registry is large enough).

    Derived data, checkpointed every `checkpoint_every` changes and at close (the registry is what
    is durable): at start it is loaded only when its sidecar agrees with the registry (fingerprint,
    generation, count) and otherwise rebuilt from the stored embeddings, embedding stored images
    that lack a vector of this model first. With `policy.words`, a whitened index also keeps an
    inverted file of the views' visual words (`words`, from their local features: `features` of an
    image sha256), checkpointed beside it and learned again when it does not prove itself. Every
    method runs under one lock.
    """

    def __init__(
        self,
        folder: Path,
        registry: Registry,
        blobs: BlobStore,
        embedder: Embedder,
        policy: IndexPolicy,
        features: Callable[[str], LocalFeatures | None] = lambda _: None,
    ) -> None:
        self.folder = folder
        self.registry = registry
        self.blobs = blobs
        self.embedder = embedder
        self.policy = policy
        self.features = features
        self.words: InvertedFile | None = None
        self.fingerprint = embedder.config.fingerprint
        self.recipe = f"{self.fingerprint}|pcaw{policy.whitening_dim}^{policy.whitening_power:g}"
        self.lock = threading.RLock()
        self.whitening: Whitening | None = None
        self.design_of: dict[int, int] = {}
        self.sha_of: dict[int, str] = {}
        self._whitened_on = 0
        self._unsaved = 0
        self._index = VectorIndex(embedder.dim)
        self.calibration: dict | None = None
        self._open()

    @property
    def count(self) -> int:
        """Return the number of searchable reference images."""
        return self._index.count

    def _open(self) -> None:
        try:
            index, sidecar, whitening = VectorIndex.load(self.folder)
        except CorruptDerivedData as exc:
            logger.warning("the index checkpoint is damaged (%s): rebuilding from the registry", exc)
            self.rebuild()
            return
        except (OSError, ValueError, TypeError, RuntimeError) as exc:
            logger.info("no usable index checkpoint (%s): rebuilding from the registry", exc)
            self.rebuild()
            return
        if not sidecar.verified:
            logger.info("the index checkpoint carries no checksums (an earlier version): rebuilding")
            self.rebuild()
            return
        if sidecar.fingerprint == self.recipe:
            self.calibration = sidecar.calibration
        if sidecar.fingerprint != self.recipe or sidecar.generation != self.registry.generation():
            logger.info("index checkpoint is stale or from another model: rebuilding from the registry")
            self.rebuild()
            return
        ids, designs, _ = self.registry.active_embeddings(self.fingerprint)
        if index.count != len(ids):
            logger.info(
                "index checkpoint holds %d vectors, the registry %d: rebuilding", index.count, len(ids)
            )
            self.rebuild()
            return
        self._index, self.whitening = index, whitening
        self._whitened_on = sidecar.whitening_samples
        self._set_active(ids, designs)
        if self._whitening_due(len(ids)):
            self.rebuild()
            return
        self._open_words()

    def _open_words(self) -> None:
        """Take the checkpoint's visual words when they prove themselves, else learn them again."""
        if self.whitening is None or not self.policy.words:
            return
        try:
            words, generation = InvertedFile.load(self.folder / WORDS_FILE)
        except (OSError, ValueError) as exc:
            logger.info("no usable visual words in the checkpoint (%s): learning them", exc)
        else:
            size = math.prod(vocabulary_shape(self.policy.words))
            fits = words.vocabulary.size == size and words.count == len(self.design_of)
            if fits and generation == self.registry.generation():
                self.words = words
                return
            logger.info("the checkpoint's visual words are stale: learning them again")
        self._learn_words()
        self.checkpoint()

    def _descriptors(self, hashes: dict[int, str]) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (image id, SIFT descriptors) of these views, skipping (and naming) unreadable ones."""
        for image_id, sha in sorted(hashes.items()):
            try:
                features = self.features(sha)
            except (FileNotFoundError, InvalidImage) as exc:
                features = None
                logger.warning(
                    "reference image %d has no local features (%s); run `lanternguard check`", image_id, exc
                )
            if features is not None:
                yield image_id, features.descriptors

    def _learn_words(self) -> None:
        """Learn the vocabulary from the views' own local features and index every view's words."""
        self.words = None
        if self.whitening is None or not self.policy.words:
            return
        count, size = len(self.sha_of), self.policy.words
        try:
            vocabulary = learn_vocabulary(
                (d for _, d in self._descriptors(self.sha_of)), size, count, seed=count
            )
        except ValueError as exc:
            logger.warning("no visual words for this registry: %s", exc)
            return
        words = InvertedFile(vocabulary)
        words.add(self._descriptors(self.sha_of))
        self.words = words

    def _set_active(self, ids: np.ndarray, designs: np.ndarray) -> None:
        self.design_of = dict(zip(ids.tolist(), designs.tolist(), strict=True))
        self.sha_of = self.registry.image_hashes(ids.tolist())

    def _whitening_due(self, count: int) -> bool:
        p = self.policy
        if count < p.whitening_min_images:
            return False
        return self.whitening is None or count >= p.whitening_regrowth * self._whitened_on

    def rebuild(self) -> None:
        """Rebuild the index (and relearn whitening when due) from the registry's stored embeddings."""
        with self.lock:
            self._embed_missing()
            ids, designs, vectors = self.registry.active_embeddings(self.fingerprint)
            p = self.policy
            whitening = None
            if len(ids) >= p.whitening_min_images:
                whitening = learn_whitening(vectors, p.whitening_dim, p.whitening_power)
            dimension = whitening.out_dim if whitening else self.embedder.dim
            projected = (
                whitening.apply(vectors)
                if whitening
                else vectors.reshape(len(ids), -1 if len(ids) else dimension)
            )
            self._index = VectorIndex.build(ids, projected, dimension=dimension)
            self.whitening = whitening
            self._whitened_on = len(ids) if whitening else 0
            self._set_active(ids, designs)
            self._learn_words()
            self.checkpoint()
            logger.info("index rebuilt: %d vectors, whitening=%s", len(ids), whitening is not None)

    def _embed_missing(self, batch: int = 32) -> None:
        """Embed stored images that lack a vector of this model (the backbone or recipe changed)."""
        missing = self.registry.images_without_embedding(self.fingerprint)
        if missing:
            logger.warning("embedding %d stored image(s) with %s", len(missing), self.fingerprint)
        for start in range(0, len(missing), batch):
            readable: list[tuple[int, Image.Image]] = []
            for image_id, sha in missing[start : start + batch]:
                try:
                    readable.append(
                        (image_id, load_image(self.blobs.get(sha), self.embedder.config.max_side, sha))
                    )
                except (FileNotFoundError, InvalidImage) as exc:
                    logger.warning(
                        "reference image %d cannot be re-embedded (%s); run `lanternguard check`",
                        image_id,
                        exc,
                    )
            vectors = self.embedder.embed([image for _, image in readable])
            by_id = {image_id: v for (image_id, _), v in zip(readable, vectors, strict=True)}
            if by_id:
                self.registry.add_embeddings(self.fingerprint, by_id)

    def checkpoint(self) -> None:
        """Save the index, its whitening and a sidecar that ties them to the registry's generation."""
        with self.lock:
            self._unsaved = 0
            sidecar = Sidecar(
                fingerprint=self.recipe,
                dimension=self._index.dimension,
                count=self._index.count,
                generation=self.registry.generation(),
                whitening_samples=self._whitened_on,
                built_at=now(),
                calibration=self.calibration,
            )
            self._index.save(self.folder, sidecar, self.whitening)
            if self.words is not None:
                self.words.save(self.folder / WORDS_FILE, sidecar.generation)

    @property
    def whitened_on(self) -> int:
        """Return how many reference vectors the current whitening was learned from (0: none)."""
        return self._whitened_on

    def set_calibration(self, payload: dict) -> None:
        """Keep the registry's self-calibration (a JSON object) and checkpoint it with the index."""
        with self.lock:
            self.calibration = payload
            self.checkpoint()

    def settle(self) -> None:
        """After a batch of changes: rebuild when whitening is due, else checkpoint when many are unsaved."""
        with self.lock:
            if self._whitening_due(self._index.count):
                self.rebuild()
            elif self._unsaved >= self.policy.checkpoint_every:
                self.checkpoint()

    def close(self) -> None:
        """Checkpoint unsaved changes."""
        with self.lock:
            if self._unsaved:
                self.checkpoint()

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """Return descriptors in the index's space (whitened when whitening is learned)."""
        return self.whitening.apply(vectors) if self.whitening is not None else vectors

    def add(self, design_pk: int, ids: list[int], vectors: np.ndarray) -> None:
        """Make the reference images `ids` of one design searchable by their raw descriptors."""
        with self.lock:
            self._index.add(np.asarray(ids, dtype=np.int64), self.project(vectors))
            self.design_of.update({i: design_pk for i in ids})
            hashes = self.registry.image_hashes(ids)
            self.sha_of.update(hashes)
            if self.words is not None:
                self.words.add(self._descriptors(hashes))
            self._unsaved += len(ids)

    def remove_design(self, design_pk: int) -> None:
        """Stop one design's reference images from matching."""
        with self.lock:
            gone = [i for i, pk in self.design_of.items() if pk == design_pk]
            self._index.remove(np.asarray(gone, dtype=np.int64))
            for image_id in gone:
                del self.design_of[image_id]
                self.sha_of.pop(image_id, None)
            if self.words is not None:
                self.words.remove(gone)
            self._unsaved += 1
            if self._unsaved >= self.policy.checkpoint_every:
                self.checkpoint()

    def search(self, descriptors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (scores, image ids) of the `k` nearest reference images of each raw descriptor."""
        return self._index.search(self.project(descriptors), k)

    def votes(self, local: LocalFeatures | None, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Return (votes, image ids) of the `k` views best voted by a photo's local features
        (index.search.words), or None while the registry has no visual words (or the photo no features)."""
        if self.words is None or local is None:
            return None
        return self.words.search(local.descriptors, k)
