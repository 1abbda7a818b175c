"""The engine: registers designs and inspects photos by wiring embedder, registry, index and matcher."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from index.blobs import BlobStore, sha256_of
from index.errors import IndexNotReady, InvalidInput
from index.matcher import DesignHit, Thresholds, Verdict, rank_designs
from index.registry import DesignFields, DesignRecord, NewImage, Registry
from index.vectors import Sidecar, VectorIndex, now
from model.embedder import Embedder, EmbedderConfig
from model.errors import InvalidImage, LanternGuardError
from model.images import ImageSource, load_image
from model.whitening import Whitening, learn_whitening

logger = logging.getLogger(__name__)

MAX_VIEWS = 7


@dataclass(frozen=True)
class Calibration:
    """Verdict thresholds for each scoring regime (whitened once the registry is large enough, else raw)."""

    whitened: Thresholds
    raw: Thresholds


DEFAULT_CALIBRATION = Calibration(
    whitened=Thresholds(match=0.55, review=0.40),
    raw=Thresholds(match=0.80, review=0.70),
)


@dataclass(frozen=True)
class EngineSettings:
    """Where state lives and how descriptors are made, whitened and judged."""

    home: Path
    embedder: EmbedderConfig = field(default_factory=EmbedderConfig)
    whitening_dim: int = 256
    whitening_power: float = 0.5
    whitening_min_images: int = 512
    whitening_regrowth: float = 1.25
    calibration: Calibration = DEFAULT_CALIBRATION
    neighbours: int = 100

    def __post_init__(self) -> None:
        if self.whitening_min_images < self.whitening_dim:
            raise ValueError("whitening_min_images must be at least whitening_dim")
        if self.whitening_regrowth <= 1.0:
            raise ValueError("whitening_regrowth must be above 1")


@dataclass(frozen=True)
class Match:
    """A registered design that an inspected photo resembles, with the view that resembles it most."""

    design: DesignRecord
    score: float
    image_id: int


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


def source_name(source: ImageSource) -> str:
    """Return how an input is named in reports."""
    return "uploaded image" if isinstance(source, bytes) else str(source)


class Engine:
    """Owns the registry, the image store and the live index; every write keeps them consistent.

    The FAISS index is derived data: at start it is loaded only when its sidecar agrees with the
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
        self._decoder = ThreadPoolExecutor(max_workers=2, thread_name_prefix="decode")
        self._whitening: Whitening | None = None
        self._whitened_on = 0
        self._design_of: dict[int, int] = {}
        self._index = VectorIndex(self.embedder.dim)
        self._open_index()

    def close(self) -> None:
        """Release the database and worker threads."""
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
        if sidecar.fingerprint != self.fingerprint or sidecar.generation != self.registry.generation():
            logger.info("index checkpoint is stale or from another model: rebuilding from the registry")
            self.rebuild()
            return
        ids, designs, _ = self.registry.active_embeddings(self.fingerprint)
        self._index, self._whitening = index, whitening
        self._whitened_on = sidecar.whitening_samples
        self._design_of = dict(zip(ids.tolist(), designs.tolist(), strict=True))
        if self._whitening_due(len(ids)):
            self.rebuild()

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
            index = VectorIndex(whitening.out_dim if whitening else self.embedder.dim)
            if len(ids):
                index.add(ids, whitening.apply(vectors) if whitening else vectors)
            self._index, self._whitening = index, whitening
            self._whitened_on = len(ids) if whitening else 0
            self._design_of = dict(zip(ids.tolist(), designs.tolist(), strict=True))
            self._checkpoint()
            logger.info("index rebuilt: %d vectors, whitening=%s", len(ids), whitening is not None)

    def _embed_missing(self, batch: int = 32) -> None:
        """Embed stored images that lack a vector of this model (the backbone or recipe changed)."""
        missing = self.registry.images_without_embedding(self.fingerprint)
        if missing:
            logger.warning("embedding %d stored image(s) with %s", len(missing), self.fingerprint)
        for start in range(0, len(missing), batch):
            chunk = missing[start : start + batch]
            images = [load_image(self.blobs.get(sha), self.embedder.config.max_side, sha) for _, sha in chunk]
            vectors = self.embedder.embed(images)
            self.registry.add_embeddings(
                self.fingerprint, {i: v for (i, _), v in zip(chunk, vectors, strict=True)}
            )

    def _checkpoint(self) -> None:
        sidecar = Sidecar(
            fingerprint=self.fingerprint,
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
        image = load_image(data, max_side=self.embedder.config.max_side, name=name)
        return _Decoded(name, data, image)

    def _decode_all(self, sources: Sequence[ImageSource]) -> list[_Decoded | Rejected]:
        def attempt(source: ImageSource) -> _Decoded | Rejected:
            try:
                return self._decode(source)
            except InvalidImage as exc:
                return Rejected(source_name(source), str(exc))

        return list(self._decoder.map(attempt, sources))

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
                else:
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
            self.blobs.put(decoded.data)
        with self._lock:
            design, added = self.registry.add_images(fields, new, self.fingerprint, create_only)
            if design.withdrawn_at is None and added:
                by_id = {image.sha256: image.vector for image in new}
                vectors = np.stack([by_id[self.registry.image_sha256(i)] for i in added])
                self._index.add(np.asarray(added, dtype=np.int64), self._project(vectors))
                self._design_of.update({i: design.pk for i in added})
        return Registration(design=design, added=added, rejected=rejected)

    def withdraw(self, design_id: str) -> DesignRecord:
        """Withdraw a design: it stops matching at once, its record stays. Raises UnknownDesign."""
        with self._lock:
            design = self.registry.withdraw(design_id)
            gone = [i for i, pk in self._design_of.items() if pk == design.pk]
            self._index.remove(np.asarray(gone, dtype=np.int64))
            for image_id in gone:
                del self._design_of[image_id]
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
        """Inspect photos in one batch; an unreadable one gives a Rejected in its place."""
        decoded = self._decode_all(sources)
        good = [d for d in decoded if isinstance(d, _Decoded)]
        vectors = self.embedder.embed([d.image for d in good])
        with self._lock:
            if self._index.count == 0:
                raise IndexNotReady("no design is registered yet: register designs before inspecting")
            scores, ids = self._index.search(self._project(vectors), self.settings.neighbours)
            hits = [rank_designs(s, i, self._design_of) for s, i in zip(scores, ids, strict=True)]
            thresholds = self.thresholds
        records = self.registry.designs_by_pk(sorted({h.design_pk for row in hits for h in row}))
        inspections = iter(
            self._inspection(d, row, records, thresholds) for d, row in zip(good, hits, strict=True)
        )
        return [item if isinstance(item, Rejected) else next(inspections) for item in decoded]

    @staticmethod
    def _inspection(
        decoded: _Decoded, hits: list[DesignHit], records: dict[int, DesignRecord], thresholds: Thresholds
    ) -> Inspection:
        matches = [Match(records[h.design_pk], h.score, h.image_id) for h in hits]
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
