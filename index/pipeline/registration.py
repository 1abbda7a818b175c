"""Registration: reference views decoded, embedded in batches, stored and made searchable at once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
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
        ahead: tuple[list[tuple[DesignFields, list[ImageSource]]], list[Future[Decoded | Rejected]]] | None
        ahead = None
        try:
            for entry in self._grouped(items, batch_images):
                if isinstance(entry, RegistrationFailed):
                    yield entry
                    continue
                started = (
                    entry,
                    self.decoder.decode_later([s for _, sources in entry for s in sources], reference=True),
                )
                if ahead is not None:
                    yield from self._register_batch(*ahead, create_only, progress)
                ahead = started
            if ahead is not None:
                yield from self._register_batch(*ahead, create_only, progress)
        finally:
            self.live.settle()

    def _grouped(
        self, items: Iterable[tuple[DesignFields, list[ImageSource]]], batch_images: int
    ) -> Iterator[list[tuple[DesignFields, list[ImageSource]]] | RegistrationFailed]:
        """Yield batches of designs of about `batch_images` images, and a failure per bad design."""
        pending: list[tuple[DesignFields, list[ImageSource]]] = []
        for fields, sources in items:
            if not 1 <= len(sources) <= MAX_VIEWS:
                yield RegistrationFailed(
                    fields.design_id,
                    InvalidInput(f"give 1 to {MAX_VIEWS} images per design, got {len(sources)}"),
                )
                continue
            pending.append((fields, sources))
            if sum(len(s) for _, s in pending) >= batch_images:
                yield pending
                pending = []
        if pending:
            yield pending

    def _register_batch(
        self,
        batch: list[tuple[DesignFields, list[ImageSource]]],
        futures: list[Future[Decoded | Rejected]],
        create_only: bool,
        progress: Callable[[int], None] | None,
    ) -> Iterator[Registration | RegistrationFailed]:
        """Embed a decoded batch, store it durably, commit it in one transaction, make it searchable.

        Images already stored for their design (a retry) are neither embedded nor stored again. The
        image bytes and local features of the whole batch are made durable together before the
        registry commit that acknowledges the batch's designs (acknowledged means durable).
        """
        decoded = [future.result() for future in futures]
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
        ready: list[tuple[DesignFields, list[Decoded], list[NewImage], list[Rejected]]] = []
        failed: list[RegistrationFailed] = []
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
                failed.append(
                    RegistrationFailed(fields.design_id, InvalidImage(f"no readable image: {reasons}"))
                )
                continue
            ready.append((fields, [d for d in images if id(d) in vectors], new, rejected))
        yield from failed
        if not ready:
            return
        kept = [d for _, images, _, _ in ready for d in images]
        self.blobs.put_many([d.data for d in kept])
        self.local.put_many([(sha256_of(d.data), d.local) for d in kept if d.local is not None])
        with self.live.lock:
            outcomes = self.registry.add_many(
                [(fields, new) for fields, _, new, _ in ready],
                self.live.fingerprint,
                create_only,
                max_images=MAX_VIEWS,
            )
            for (_, _, new, _), outcome in zip(ready, outcomes, strict=True):
                if isinstance(outcome, LanternGuardError):
                    continue
                design, added = outcome
                if design.withdrawn_at is None and added:
                    by_id = {image.sha256: image.vector for image in new}
                    vectors_added = np.stack([by_id[self.registry.image_sha256(i)] for i in added])
                    self.live.add(design.pk, added, vectors_added)
        for (fields, _, _, rejected), outcome in zip(ready, outcomes, strict=True):
            if isinstance(outcome, LanternGuardError):
                yield RegistrationFailed(fields.design_id, outcome)
            else:
                yield Registration(design=outcome[0], added=outcome[1], rejected=rejected)
