"""Registration: reference views decoded, embedded in batches, stored and made searchable at once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from index.errors import InvalidInput
from index.pipeline.photos import Decoded, Decoder, Rejected
from index.search.live import LiveIndex
from index.store.blobs import BlobStore, sha256_of
from index.store.features import LocalFeatureStore
from index.store.registry import DesignFields, DesignRecord, NewImage, Registry
from model.embedder import Embedder
from model.errors import InvalidImage, LanternGuardError
from model.images import ImageSource

MAX_VIEWS = 7


@dataclass(frozen=True)
class Registration:
    """What one registration stored: the design, the new image ids, and the inputs it skipped."""

    design: DesignRecord
    added: list[int]
    rejected: list[Rejected]


@dataclass(frozen=True)
class RegistrationFailed:
    """A design that was not registered, and the error that says why; nothing of it was stored."""

    design_id: str
    error: LanternGuardError


class Registrar:
    """Stores designs with their views: image bytes, local features, registry rows, index vectors."""

    def __init__(
        self,
        decoder: Decoder,
        embedder: Embedder,
        registry: Registry,
        blobs: BlobStore,
        local: LocalFeatureStore,
        live: LiveIndex,
    ) -> None:
        self.decoder = decoder
        self.embedder = embedder
        self.registry = registry
        self.blobs = blobs
        self.local = local
        self.live = live

    def register_many(
        self,
        items: Iterable[tuple[DesignFields, list[ImageSource]]],
        create_only: bool = False,
        progress: Callable[[int], None] | None = None,
        batch_images: int = 32,
    ) -> Iterator[Registration | RegistrationFailed]:
        """Register many designs, embedding their images in batches; yield one result per design.

        Images already stored for their design (a retry) are neither embedded nor stored again.
        A design that cannot be registered (no readable image, too many images, a duplicate with
        `create_only`) yields a RegistrationFailed and changes nothing; the others go on.
        `progress` is called with the number of images handled. The index settles at the end.
        """
        pending: list[tuple[DesignFields, list[ImageSource]]] = []
        try:
            for fields, sources in items:
                if not 1 <= len(sources) <= MAX_VIEWS:
                    yield RegistrationFailed(
                        fields.design_id,
                        InvalidInput(f"give 1 to {MAX_VIEWS} images per design, got {len(sources)}"),
                    )
                    continue
                pending.append((fields, sources))
                if sum(len(s) for _, s in pending) >= batch_images:
                    yield from self._register_batch(pending, create_only, progress)
                    pending = []
            if pending:
                yield from self._register_batch(pending, create_only, progress)
        finally:
            self.live.settle()

    def _register_batch(
        self,
        batch: list[tuple[DesignFields, list[ImageSource]]],
        create_only: bool,
        progress: Callable[[int], None] | None,
    ) -> Iterator[Registration | RegistrationFailed]:
        decoded = self.decoder.decode_all([s for _, sources in batch for s in sources])
        stored = self.registry.stored_hashes([fields.design_id for fields, _ in batch])
        fresh: list[Decoded] = []
        position = 0
        for fields, sources in batch:
            known = stored.get(fields.design_id.strip(), set())
            for d in decoded[position : position + len(sources)]:
                if isinstance(d, Decoded) and sha256_of(d.data) not in known:
                    fresh.append(d)
            position += len(sources)
        vectors = dict(zip(map(id, fresh), self.embedder.embed([d.image for d in fresh]), strict=True))
        position = 0
        for fields, sources in batch:
            mine = decoded[position : position + len(sources)]
            position += len(sources)
            rejected = [d for d in mine if isinstance(d, Rejected)]
            images = [d for d in mine if isinstance(d, Decoded)]
            new = [
                NewImage(sha256_of(d.data), d.image.width, d.image.height, vectors[id(d)])
                for d in images
                if id(d) in vectors
            ]
            if progress:
                progress(len(sources))
            if not images:
                reasons = "; ".join(r.reason for r in rejected)
                yield RegistrationFailed(fields.design_id, InvalidImage(f"no readable image: {reasons}"))
                continue
            try:
                yield self._store(fields, [d for d in images if id(d) in vectors], new, rejected, create_only)
            except LanternGuardError as exc:
                yield RegistrationFailed(fields.design_id, exc)

    def _store(
        self,
        fields: DesignFields,
        images: list[Decoded],
        new: list[NewImage],
        rejected: list[Rejected],
        create_only: bool,
    ) -> Registration:
        for decoded in images:
            digest = self.blobs.put(decoded.data)
            if decoded.local is not None:
                self.local.put(digest, decoded.local)
        with self.live.lock:
            design, added = self.registry.add_images(
                fields, new, self.live.fingerprint, create_only, max_images=MAX_VIEWS
            )
            if design.withdrawn_at is None and added:
                by_id = {image.sha256: image.vector for image in new}
                vectors = np.stack([by_id[self.registry.image_sha256(i)] for i in added])
                self.live.add(design.pk, added, vectors)
        return Registration(design=design, added=added, rejected=rejected)
