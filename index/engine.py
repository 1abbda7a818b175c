"""The engine: registers designs and inspects photos by wiring embedder, registry, index and matcher."""

from __future__ import annotations

import itertools
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from index.blobs import BlobStore, sha256_of
from index.config import DEFAULT_CALIBRATION, Calibration, EngineSettings
from index.errors import IndexNotReady, InvalidInput
from index.localstore import LocalFeatureStore
from index.matcher import MAX_MATCHES, DesignHit, Thresholds, Verdict
from index.ranking import RankedHit, appearance_candidates, rerank
from index.registry import DesignFields, DesignRecord, NewImage, Registry
from index.vectors import Sidecar, VectorIndex, now
from index.verification import Verification, verify
from model.embedder import Embedder
from model.errors import InvalidImage, LanternGuardError
from model.images import ImageSource, load_image
from model.local import LocalFeatures, extract_local
from model.whitening import Whitening, learn_whitening

logger = logging.getLogger(__name__)

MAX_VIEWS = 7
_WORKERS = max(2, os.cpu_count() or 1)
"""Threads that decode photos, extract SIFT and verify (OpenCV and NumPy release the GIL): one per core."""

__all__ = [
    "DEFAULT_CALIBRATION",
    "MAX_VIEWS",
    "Calibration",
    "Engine",
    "EngineSettings",
    "Inspection",
    "Match",
    "Rejected",
]


@dataclass(frozen=True)
class Match:
    """A registered design that an inspected photo resembles, with the view that resembles it most.

    `score` is the fused score the verdict uses; `appearance` the CNN cosine and `inliers` the
    photo keypoints that agree geometrically with that view (`verification` holds them).
    """

    design: DesignRecord
    score: float
    image_id: int
    appearance: float = 0.0
    inliers: int = 0
    verification: Verification | None = None


@dataclass(frozen=True)
class Inspection:
    """The outcome for one photo: verdict and matches, best first."""

    source: str
    sha256: str
    verdict: Verdict
    matches: list[Match]


@dataclass(frozen=True)
class Rejected:
    """An input that could not be used, and why."""

    source: str
    reason: str


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


@dataclass(frozen=True)
class _Decoded:
    source: str
    data: bytes
    image: Image.Image
    local: LocalFeatures | None


def source_name(source: ImageSource) -> str:
    """Return how an input is named in reports."""
    return "uploaded image" if isinstance(source, bytes) else str(source)


class Engine:
    """Owns the registry, the image store and the live index; every write keeps them consistent.

    The FAISS index is derived data, checkpointed every `checkpoint_every` changes and at close
    (the registry is what is durable): at start it is loaded only when its sidecar agrees with the
    registry (fingerprint, generation) and otherwise rebuilt from the stored embeddings. Below
    `whitening_min_images` reference images the raw descriptors are searched with the `raw`
    thresholds; from then on PCA whitening is learned from the registry's own vectors, and relearned
    whenever the registry has grown by `whitening_regrowth` since.
    """

    def __init__(self, settings: EngineSettings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder if embedder is not None else Embedder(settings.embedder)
        self.fingerprint = self.embedder.config.fingerprint
        self.registry = Registry(settings.home / "registry.sqlite3")
        self.blobs = BlobStore(settings.home / "images")
        self._index_dir = settings.home / "index"
        self._lock = threading.RLock()
        self._decoder = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="decode")
        self.local = LocalFeatureStore(settings.home / "features", settings.local.fingerprint)
        s = settings
        self._index_recipe = f"{self.fingerprint}|pcaw{s.whitening_dim}^{s.whitening_power:g}"
        self._whitening: Whitening | None = None
        self._whitened_on = 0
        self._design_of: dict[int, int] = {}
        self._sha_of: dict[int, str] = {}
        self._unsaved = 0
        self._index = VectorIndex(self.embedder.dim)
        self._open_index()

    def close(self) -> None:
        """Checkpoint unsaved index changes, then release the database and worker threads."""
        with self._lock:
            if self._unsaved:
                self._checkpoint()
        self._decoder.shutdown()
        self.registry.close()

    @property
    def thresholds(self) -> Thresholds:
        """Return the thresholds of the current scoring regime."""
        calibration = self.settings.calibration
        return calibration.whitened if self._whitening is not None else calibration.raw

    @property
    def index_size(self) -> int:
        """Return the number of reference images that can match now."""
        return self._index.count

    # ---- index lifecycle -------------------------------------------------------------------

    def _open_index(self) -> None:
        try:
            index, sidecar, whitening = VectorIndex.load(self._index_dir)
        except (OSError, ValueError, TypeError, RuntimeError) as exc:
            logger.info("no usable index checkpoint (%s): rebuilding from the registry", exc)
            self.rebuild()
            return
        if sidecar.fingerprint != self._index_recipe or sidecar.generation != self.registry.generation():
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
        self._index, self._whitening = index, whitening
        self._whitened_on = sidecar.whitening_samples
        self._set_active(ids, designs)
        if self._whitening_due(len(ids)):
            self.rebuild()

    def _set_active(self, ids: np.ndarray, designs: np.ndarray) -> None:
        self._design_of = dict(zip(ids.tolist(), designs.tolist(), strict=True))
        self._sha_of = self.registry.image_hashes(ids.tolist())

    def _whitening_due(self, count: int) -> bool:
        s = self.settings
        if count < s.whitening_min_images:
            return False
        return self._whitening is None or count >= s.whitening_regrowth * self._whitened_on

    def rebuild(self) -> None:
        """Rebuild the index (and relearn whitening when due) from the registry's stored embeddings."""
        with self._lock:
            self._embed_missing()
            ids, designs, vectors = self.registry.active_embeddings(self.fingerprint)
            s = self.settings
            whitening = None
            if len(ids) >= s.whitening_min_images:
                whitening = learn_whitening(vectors, s.whitening_dim, s.whitening_power)
            dimension = whitening.out_dim if whitening else self.embedder.dim
            projected = (
                whitening.apply(vectors)
                if whitening
                else vectors.reshape(len(ids), -1 if len(ids) else dimension)
            )
            index = VectorIndex.build(ids, projected, dimension=dimension)
            self._index, self._whitening = index, whitening
            self._whitened_on = len(ids) if whitening else 0
            self._set_active(ids, designs)
            self._checkpoint()
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

    def _checkpoint(self) -> None:
        self._unsaved = 0
        sidecar = Sidecar(
            fingerprint=self._index_recipe,
            dimension=self._index.dimension,
            count=self._index.count,
            generation=self.registry.generation(),
            whitening_samples=self._whitened_on,
            built_at=now(),
        )
        self._index.save(self._index_dir, sidecar, self._whitening)

    def _project(self, vectors: np.ndarray) -> np.ndarray:
        return self._whitening.apply(vectors) if self._whitening is not None else vectors

    # ---- decoding --------------------------------------------------------------------------

    def _decode(self, source: ImageSource) -> _Decoded:
        name = source_name(source)
        data = source if isinstance(source, bytes) else _read(source)
        image = load_image(
            data, max_side=max(self.embedder.config.max_side, self.settings.local.max_side), name=name
        )
        local = extract_local(image, self.settings.local) if self.settings.verify_top_k else None
        return _Decoded(name, data, image, local)

    def _attempt(self, source: ImageSource) -> _Decoded | Rejected:
        try:
            return self._decode(source)
        except InvalidImage as exc:
            return Rejected(source_name(source), str(exc))

    def _decode_all(self, sources: Sequence[ImageSource]) -> list[_Decoded | Rejected]:
        return [future.result() for future in self._decode_later(sources)]

    def _decode_later(self, sources: Sequence[ImageSource]) -> list[Future[_Decoded | Rejected]]:
        return [self._decoder.submit(self._attempt, source) for source in sources]

    # ---- registration ----------------------------------------------------------------------

    def register(
        self, fields: DesignFields, sources: Sequence[ImageSource], create_only: bool = False
    ) -> Registration:
        """Register a design with its reference images (1 to 7 per call), skipping unreadable ones.

        Returns the Registration. Raises InvalidImage when no image could be read (nothing is
        stored), InvalidInput for a bad number of images, DuplicateDesign with `create_only`.
        """
        (result,) = self.register_many([(fields, list(sources))], create_only=create_only)
        if isinstance(result, RegistrationFailed):
            raise result.error
        return result

    def register_many(
        self,
        items: Iterable[tuple[DesignFields, list[ImageSource]]],
        create_only: bool = False,
        progress: Callable[[int], None] | None = None,
        batch_images: int = 32,
    ) -> Iterator[Registration | RegistrationFailed]:
        """Register many designs, embedding their images in batches; yield one result per design.

        A design that cannot be registered (no readable image, too many images, a duplicate with
        `create_only`) yields a RegistrationFailed and changes nothing; the others go on.
        `progress` is called with the number of images handled. The index is checkpointed at the end.
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
            with self._lock:
                if self._whitening_due(self._index.count):
                    self.rebuild()
                elif self._unsaved >= self.settings.checkpoint_every:
                    self._checkpoint()

    def _register_batch(
        self,
        batch: list[tuple[DesignFields, list[ImageSource]]],
        create_only: bool,
        progress: Callable[[int], None] | None,
    ) -> Iterator[Registration | RegistrationFailed]:
        decoded = self._decode_all([s for _, sources in batch for s in sources])
        good = [d for d in decoded if isinstance(d, _Decoded)]
        vectors = iter(self.embedder.embed([d.image for d in good]))
        position = 0
        for fields, sources in batch:
            mine = decoded[position : position + len(sources)]
            position += len(sources)
            rejected = [d for d in mine if isinstance(d, Rejected)]
            images = [d for d in mine if isinstance(d, _Decoded)]
            new = [NewImage(sha256_of(d.data), d.image.width, d.image.height, next(vectors)) for d in images]
            if progress:
                progress(len(sources))
            if not images:
                reasons = "; ".join(r.reason for r in rejected)
                yield RegistrationFailed(fields.design_id, InvalidImage(f"no readable image: {reasons}"))
                continue
            try:
                yield self._store(fields, images, new, rejected, create_only)
            except LanternGuardError as exc:
                yield RegistrationFailed(fields.design_id, exc)

    def _store(
        self,
        fields: DesignFields,
        images: list[_Decoded],
        new: list[NewImage],
        rejected: list[Rejected],
        create_only: bool,
    ) -> Registration:
        for decoded in images:
            digest = self.blobs.put(decoded.data)
            if decoded.local is not None:
                self.local.put(digest, decoded.local)
        with self._lock:
            design, added = self.registry.add_images(fields, new, self.fingerprint, create_only)
            if design.withdrawn_at is None and added:
                by_id = {image.sha256: image.vector for image in new}
                vectors = np.stack([by_id[self.registry.image_sha256(i)] for i in added])
                self._index.add(np.asarray(added, dtype=np.int64), self._project(vectors))
                self._design_of.update({i: design.pk for i in added})
                self._sha_of.update(self.registry.image_hashes(added))
                self._unsaved += len(added)
        return Registration(design=design, added=added, rejected=rejected)

    def withdraw(self, design_id: str) -> DesignRecord:
        """Withdraw a design: it stops matching at once, its record stays. Raises UnknownDesign."""
        with self._lock:
            design = self.registry.withdraw(design_id)
            gone = [i for i, pk in self._design_of.items() if pk == design.pk]
            self._index.remove(np.asarray(gone, dtype=np.int64))
            for image_id in gone:
                del self._design_of[image_id]
                self._sha_of.pop(image_id, None)
            self._unsaved += 1
            if self._unsaved >= self.settings.checkpoint_every:
                self._checkpoint()
        return design

    # ---- inspection ------------------------------------------------------------------------

    def inspect(self, source: ImageSource) -> Inspection:
        """Inspect one photo. Returns the Inspection. Raises InvalidImage or IndexNotReady."""
        (result,) = self.inspect_many([source])
        if isinstance(result, Rejected):
            raise InvalidImage(result.reason)
        return result

    def inspect_many(self, sources: Sequence[ImageSource]) -> list[Inspection | Rejected]:
        """Inspect photos in one batch; an unreadable one gives a Rejected in its place.

        Stages: appearance search of the whole photo and of its regions, geometric verification of
        the best `verify_top_k` designs, fused scores, verdict. Raises IndexNotReady when empty.
        """
        return self._inspect_decoded(self._decode_all(sources))

    def inspect_batches(
        self, sources: Sequence[ImageSource], batch: int
    ) -> Iterator[list[Inspection | Rejected]]:
        """Inspect photos `batch` at a time, as inspect_many would; yield each batch's results in order.

        While one batch runs through the network and verification, the worker threads already decode
        the next one and extract its SIFT features. Raises IndexNotReady when the index is empty.
        """
        chunks = [sources[start : start + batch] for start in range(0, len(sources), batch)]
        if not chunks:
            return
        ahead = self._decode_later(chunks[0])
        for following in [*chunks[1:], None]:
            decoded = [future.result() for future in ahead]
            ahead = self._decode_later(following) if following is not None else []
            yield self._inspect_decoded(decoded)

    def _inspect_decoded(self, decoded: list[_Decoded | Rejected]) -> list[Inspection | Rejected]:
        good = [d for d in decoded if isinstance(d, _Decoded)]
        if not good:
            return list(decoded)
        globals_, regions = self.embedder.describe([d.image for d in good])
        s = self.settings
        limit = max(MAX_MATCHES, s.verify_top_k)
        with self._lock:
            if self._index.count == 0:
                raise IndexNotReady("no design is registered yet: register designs before inspecting")
            scores, ids = self._index.search(self._project(globals_), s.neighbours)
            region_hits = self._search_regions(regions)
            candidates = [
                appearance_candidates(
                    [scores[i], *region_hits[i][0]], [ids[i], *region_hits[i][1]], self._design_of, limit
                )
                for i in range(len(good))
            ]
            sha_of = dict(self._sha_of)
            thresholds = self.thresholds
        ranked = list(
            self._decoder.map(
                lambda pair: self._verify(pair[0], pair[1], sha_of), zip(good, candidates, strict=True)
            )
        )
        records = self.registry.designs_by_pk(sorted({r.hit.design_pk for row in ranked for r in row}))
        inspections = iter(
            self._inspection(d, row, records, thresholds) for d, row in zip(good, ranked, strict=True)
        )
        return [item if isinstance(item, Rejected) else next(inspections) for item in decoded]

    def _search_regions(self, regions: list[np.ndarray]) -> list[tuple[list[np.ndarray], list[np.ndarray]]]:
        if not regions:
            return []
        counts = [len(r) for r in regions]
        scores, ids = self._index.search(
            self._project(np.concatenate(regions)), self.settings.region_neighbours
        )
        bounds = np.cumsum([0, *counts])
        return [(list(scores[a:b]), list(ids[a:b])) for a, b in itertools.pairwise(bounds)]

    def _reference_features(self, image_id: int, sha_of: dict[int, str]) -> LocalFeatures | None:
        sha = sha_of.get(image_id)
        if sha is None:
            return None
        features = self.local.get(sha)
        if features is None:
            features = extract_local(
                load_image(self.blobs.get(sha), self.settings.local.max_side, sha), self.settings.local
            )
            self.local.put(sha, features)
        return features

    def _verify(
        self, decoded: _Decoded, candidates: list[DesignHit], sha_of: dict[int, str]
    ) -> list[RankedHit]:
        s = self.settings
        if decoded.local is None or not s.verify_top_k:
            return rerank(candidates, [None] * len(candidates), s.inlier_saturation)
        top = candidates[: s.verify_top_k]
        references = [self._reference_features(c.image_id, sha_of) for c in top]
        checks = self._check(decoded.local, references)
        verifications: list[Verification | None] = [*checks, *([None] * (len(candidates) - len(top)))]
        return rerank(candidates, verifications, s.inlier_saturation)

    def _check(
        self, local: LocalFeatures, references: list[LocalFeatures | None]
    ) -> list[Verification | None]:
        """Verify a photo against reference views; retry mirrored when nothing agrees well."""
        s = self.settings
        checks = [verify(local, r) if r is not None else None for r in references]
        if max((c.inliers for c in checks if c is not None), default=0) < s.mirror_retry_below:
            mirrored = local.mirrored()
            for i, reference in enumerate(references):
                if reference is not None:
                    again = verify(mirrored, reference, mirrored=True)
                    previous = checks[i]
                    if previous is None or again.inliers > previous.inliers:
                        checks[i] = again
        return checks

    def explain(self, photo: ImageSource, image_id: int) -> Verification | None:
        """Return how a photo agrees geometrically with one reference view (for evidence pictures).

        Returns None when the view is not searchable. Raises InvalidImage for an unreadable photo.
        """
        decoded = self._decode(photo)
        with self._lock:
            sha_of = dict(self._sha_of)
        reference = self._reference_features(image_id, sha_of)
        local = decoded.local or extract_local(decoded.image, self.settings.local)
        return self._check(local, [reference])[0]

    @staticmethod
    def _inspection(
        decoded: _Decoded, ranked: list[RankedHit], records: dict[int, DesignRecord], thresholds: Thresholds
    ) -> Inspection:
        matches = [
            Match(
                design=records[r.hit.design_pk],
                score=r.score,
                image_id=r.hit.image_id,
                appearance=r.appearance,
                inliers=r.inliers,
                verification=r.verification,
            )
            for r in ranked
        ]
        return Inspection(
            source=decoded.source,
            sha256=sha256_of(decoded.data),
            verdict=thresholds.verdict(matches[0].score if matches else None),
            matches=matches,
        )


def _read(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise InvalidImage(f"{path}: no such file") from exc
    except OSError as exc:
        raise InvalidImage(f"{path}: cannot be read ({exc.strerror})") from exc
