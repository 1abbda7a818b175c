"""The live index: the searchable vectors of a registry, kept in step with it and checkpointed."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from index.errors import CorruptDerivedData
from index.search.vectors import Sidecar, VectorIndex, now
from index.store.blobs import BlobStore
from index.store.registry import Registry
from model.embedder import Embedder
from model.errors import InvalidImage
from model.images import load_image
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


class LiveIndex:
    """The registry's searchable reference vectors (whitened once the registry is large enough).

    Derived data, checkpointed every `checkpoint_every` changes and at close (the registry is what
    is durable): at start it is loaded only when its sidecar agrees with the registry (fingerprint,
    generation, count) and otherwise rebuilt from the stored embeddings, embedding stored images
    that lack a vector of this model first. Every method runs under one lock.
    """

    def __init__(
        self, folder: Path, registry: Registry, blobs: BlobStore, embedder: Embedder, policy: IndexPolicy
    ) -> None:
        self.folder = folder
        self.registry = registry
        self.blobs = blobs
        self.embedder = embedder
        self.policy = policy
        self.fingerprint = embedder.config.fingerprint
        self.recipe = f"{self.fingerprint}|pcaw{policy.whitening_dim}^{policy.whitening_power:g}"
        self.lock = threading.RLock()
        self.whitening: Whitening | None = None
        self.design_of: dict[int, int] = {}
        self.sha_of: dict[int, str] = {}
        self._whitened_on = 0
        self._unsaved = 0
        self._index = VectorIndex(embedder.dim)
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
            )
            self._index.save(self.folder, sidecar, self.whitening)

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
            self.sha_of.update(self.registry.image_hashes(ids))
            self._unsaved += len(ids)

    def remove_design(self, design_pk: int) -> None:
        """Stop one design's reference images from matching."""
        with self.lock:
            gone = [i for i, pk in self.design_of.items() if pk == design_pk]
            self._index.remove(np.asarray(gone, dtype=np.int64))
            for image_id in gone:
                del self.design_of[image_id]
                self.sha_of.pop(image_id, None)
            self._unsaved += 1
            if self._unsaved >= self.policy.checkpoint_every:
                self.checkpoint()

    def search(self, descriptors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (scores, image ids) of the `k` nearest reference images of each raw descriptor."""
        return self._index.search(self.project(descriptors), k)
