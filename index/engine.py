"""The engine: one facade wiring store, search, matching and the pipeline (registration, inspection)."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

from index.matching.calibration import DEFAULT_CALIBRATION
from index.matching.verdict import Thresholds
from index.matching.verification import Verification
from index.pipeline.cascade import CascadeBounds, regime_of
from index.pipeline.inspection import Inspection, Inspector, Match
from index.pipeline.photos import Decoder, Rejected, source_name
from index.pipeline.registration import MAX_VIEWS, Registrar, Registration, RegistrationFailed
from index.pipeline.retro import DEFAULT_SHORTLIST, LookBack, Retrospector, Traffic
from index.pipeline.selfcal import PHOTO_SIDE, SelfCalibration, self_calibrate
from index.pipeline.settings import EngineSettings
from index.search.live import LiveIndex
from index.search.photos import PhotoIndex
from index.store.blobs import BlobStore
from index.store.features import LocalFeatureStore
from index.store.photos import PhotoStore
from index.store.registry import DesignFields, DesignRecord, Registry
from index.store.schema import REGISTRY_FILE
from model.embedder import Embedder
from model.errors import InvalidImage
from model.images import ImageSource, load_image

logger = logging.getLogger(__name__)

RUNTIME_FOLDER = "runtime"
"""Under the home: the trunk exported for ONNX Runtime (derived data, see model/onnx_trunk.py)."""

__all__ = [
    "MAX_VIEWS",
    "Engine",
    "EngineSettings",
    "Inspection",
    "LookBack",
    "Match",
    "Registration",
    "RegistrationFailed",
    "Rejected",
    "source_name",
]


class Engine:
    """Owns the registry, the image store and the live index; every write keeps them consistent.

    Below `whitening_min_images` reference images the raw descriptors are searched with the `raw`
    thresholds; from then on PCA whitening is learned from the registry's own vectors (see
    `index.search.live.LiveIndex`). The thresholds belong to the model they were measured with:
    `calibration_warning` says when this engine's model differs.
    """

    def __init__(self, settings: EngineSettings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder if embedder is not None else Embedder(settings.embedder)
        self.embedder.use_runtime(settings.home / RUNTIME_FOLDER)
        self.fingerprint = self.embedder.config.fingerprint
        self.model = settings.model(self.fingerprint)
        self.calibration_warning = settings.calibration.mismatch(self.model)
        if self.calibration_warning:
            logger.warning(
                "%s: verdicts may not mean the precision they were fitted for", self.calibration_warning
            )
        self.registry = Registry(settings.home / REGISTRY_FILE)
        self.blobs = BlobStore(settings.home / "images")
        self.local = LocalFeatureStore(settings.home / "features", settings.local.fingerprint)
        self._decoder = Decoder(self.embedder.config.max_side, settings.local, bool(settings.verify_top_k))
        self._live = LiveIndex(
            settings.home / "index",
            self.registry,
            self.blobs,
            self.embedder,
            settings.index_policy,
            lambda sha: self.local.fetch(sha, self.blobs, settings.local),
        )
        self._registrar = Registrar(
            self._decoder, self.embedder, self.registry, self.blobs, self.local, self._live
        )
        self._inspector = Inspector(
            settings,
            self._decoder,
            self.embedder,
            self.registry,
            self.blobs,
            self.local,
            self._live,
            lambda: self.thresholds,
            lambda: self.cascade_bounds,
        )
        self.photo_store = PhotoStore(self.registry.db, self.fingerprint, self.embedder.dim)
        self.photos = PhotoIndex(self.photo_store)
        self._traffic = Traffic()
        self._retrospector = Retrospector(
            self._inspector, self.photos, self.photo_store, lambda: self.thresholds, self._traffic
        )

    def close(self) -> None:
        """Checkpoint unsaved index changes, then release the database and worker threads."""
        self._live.close()
        self._decoder.close()
        self.registry.close()

    @property
    def thresholds(self) -> Thresholds:
        """Return the thresholds of the current scoring regime.

        With `self_calibration="use"`, whitened registries judge with their own self-calibration
        when one belongs to the current whitening (and no LANTERNGUARD_* setting overrides the
        shipped thresholds); otherwise, and for registries too small to calibrate, the shipped
        calibration.
        """
        calibration = self.settings.calibration
        if self._live.whitening is None:
            return calibration.raw
        own = self.self_calibration if self._uses_own_thresholds else None
        return own.thresholds() if own is not None else calibration.whitened

    @property
    def _uses_own_thresholds(self) -> bool:
        s = self.settings
        return s.self_calibration == "use" and s.calibration == DEFAULT_CALIBRATION

    @property
    def self_calibration(self) -> SelfCalibration | None:
        """Return the registry's self-calibration when it belongs to the current whitening, else None."""
        payload = self._live.calibration
        if payload is None or self._live.whitening is None:
            return None
        try:
            own = SelfCalibration.from_json(payload)
        except (TypeError, ValueError):
            return None
        return own if own.whitening_samples == self._live.whitened_on else None

    def thresholds_source(self) -> str:
        """Return in words where the thresholds in use come from."""
        if self._live.whitening is None:
            return (
                f"shipped calibration, raw regime (fallback: the registry holds {self.index_size} views,"
                f" fewer than the {self.settings.whitening_min_images} whitening and self-calibration need)"
            )
        if self._uses_own_thresholds and self.self_calibration is not None:
            return "self-calibration of this registry"
        if self.settings.calibration != DEFAULT_CALIBRATION:
            return self.settings.calibration.source
        if self.settings.self_calibration == "report":
            return (
                "shipped calibration, whitened regime (the registry's self-calibration is reported,"
                " not used: self_calibration='report')"
            )
        return (
            "shipped calibration, whitened regime (fallback: no self-calibration for this whitening;"
            f" it needs {self.settings.self_calibration_min_designs} designs)"
        )

    def calibration_info(self) -> dict:
        """Return the thresholds in use, where they come from, and the self-calibration's figures."""
        thresholds = self.thresholds
        own = self.self_calibration
        return {
            "views_searchable": self.index_size,
            "whitened_on": self._live.whitened_on,
            "thresholds": {"match": thresholds.match, "review": thresholds.review},
            "thresholds_from": self.thresholds_source(),
            "self_calibration": own.to_json() if own is not None else None,
        }

    def recalibrate(self, force: bool = False) -> SelfCalibration | None:
        """Derive the verdict thresholds from this registry (index.pipeline.selfcal); store them.

        Runs when the current whitening has no self-calibration yet (or `force`); returns the one in
        force, or None when the registry is not whitened or has too few designs.
        """
        s = self.settings
        if s.self_calibration == "off" or self._live.whitening is None:
            return None
        if not force and self.self_calibration is not None:
            return self.self_calibration
        with self._live.lock:
            first_view: dict[int, int] = {}
            for image_id, design_pk in sorted(self._live.design_of.items()):
                first_view.setdefault(design_pk, image_id)
            sha_of = dict(self._live.sha_of)
            whitened_on = self._live.whitened_on
        if len(first_view) < s.self_calibration_min_designs:
            return None
        designs = random.Random(whitened_on).sample(
            sorted(first_view), min(s.self_calibration_designs, len(first_view))
        )
        views = [(pk, load_image(self.blobs.get(sha_of[first_view[pk]]), PHOTO_SIDE)) for pk in designs]

        def inspect(photos: list[bytes]) -> list[Inspection | None]:
            found = [r for batch in self.inspect_batches(photos, 32) for r in batch]
            return [r if isinstance(r, Inspection) else None for r in found]

        own = self_calibrate(views, inspect, s.targets, whitened_on)
        self._live.set_calibration(own.to_json())
        logger.info(
            "self-calibration: match >= %s, review >= %s from %d photos in %.1f s",
            own.match,
            own.review,
            own.positives + own.negatives,
            own.seconds,
        )
        return own

    @property
    def cascade_bounds(self) -> CascadeBounds | None:
        """Return the cascade's bounds for this model and regime, or None: inspect every photo in full."""
        return self.settings.cascade.bounds(self.model, self.regime)

    @property
    def regime(self) -> str:
        """Return the scoring regime: "whitened" once whitening is learned, else "raw"."""
        return regime_of(self._live.whitening is not None)

    @property
    def index_size(self) -> int:
        """Return the number of reference images that can match now."""
        return self._live.count

    def rebuild(self) -> None:
        """Rebuild the index (and relearn whitening when due) from the registry's stored embeddings;
        then self-calibrate when the whitening has no calibration yet."""
        self._live.rebuild()
        self.recalibrate()

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

        A design that cannot be registered yields a RegistrationFailed and changes nothing; the
        others go on. `progress` is called with the number of images handled. Once all are
        handled, the registry self-calibrates when whitening was (re)learned (see recalibrate).
        """
        yield from self._registrar.register_many(items, create_only, progress, batch_images)
        self.recalibrate()

    def withdraw(self, design_id: str) -> DesignRecord:
        """Withdraw a design: it stops matching at once, its record stays. Raises UnknownDesign."""
        with self._live.lock:
            design = self.registry.withdraw(design_id)
            self._live.remove_design(design.pk)
        return design

    # ---- inspection ------------------------------------------------------------------------

    def inspect(self, source: ImageSource, destination: str | None = None) -> Inspection:
        """Inspect one photo (goods bound for `destination`, ISO 3166 alpha-2, when known).

        Returns the Inspection. Raises InvalidImage or IndexNotReady.
        """
        (result,) = self.inspect_many([source], destination)
        if isinstance(result, Rejected):
            raise InvalidImage(result.reason)
        return result

    def inspect_many(
        self, sources: Sequence[ImageSource], destination: str | None = None
    ) -> list[Inspection | Rejected]:
        """Inspect photos in one batch; an unreadable one gives a Rejected in its place.

        Stages: appearance search of the whole photo and of its regions, geometric verification of
        the best `verify_top_k` designs, fused scores, verdict (a `match` only of a design in force,
        index/matching/legal.py). Raises IndexNotReady when empty.
        """
        local = self.cascade_bounds is None
        with self._traffic.inspecting():
            return self._inspector.inspect_decoded(self._decoder.decode_all(sources, local), destination)

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
        local = self.cascade_bounds is None
        ahead = self._decoder.decode_later(chunks[0], local)
        for following in [*chunks[1:], None]:
            with self._traffic.inspecting():
                decoded = [future.result() for future in ahead]
                ahead = self._decoder.decode_later(following, local) if following is not None else []
                results = self._inspector.inspect_decoded(decoded)
            yield results

    def explain(self, photo: ImageSource, image_id: int) -> Verification | None:
        """Return how a photo agrees geometrically with one reference view (for evidence pictures).

        Returns None when the view is not searchable. Raises InvalidImage for an unreadable photo.
        """
        return self._inspector.explain(photo, image_id)

    # ---- looking back ----------------------------------------------------------------------

    def keep_photo(self, result: Inspection, data: bytes) -> np.ndarray:
        """Keep an inspected photo's descriptors and local features for later look-backs.

        The photo's bytes are the caller's to store (blobs.put). When the cascade decided on its
        first pass (no full descriptor, no local features), the photo is described in full here,
        after its verdict: the cost of looking back later. Returns the kept global descriptor.
        Raises InvalidImage for bytes that cannot be decoded.
        """
        descriptor, regions, local = result.descriptor, result.regions, result.local
        kept = self.photo_store.vectors_by_sha([result.sha256]).get(result.sha256)
        if kept is not None:
            self.photo_store.put(result.sha256, kept, np.zeros((0, self.embedder.dim)))
            return kept
        if descriptor is None or local is None:
            decoded = self._decoder.decode(data)
            globals_, described = self.embedder.describe([decoded.image])
            descriptor, regions, local = globals_[0], described[0] if described else None, decoded.local
        if local is not None:
            self.local.put(result.sha256, local)
        regions = regions if regions is not None else np.zeros((0, self.embedder.dim))
        photo_id, new = self.photo_store.put(result.sha256, descriptor, regions)
        if new:
            self.photos.add(photo_id, descriptor)
        return descriptor

    def look_back(self, design_pk: int, shortlist: int = DEFAULT_SHORTLIST) -> LookBack:
        """Score one design's searchable views against every kept photo (see index/pipeline/retro.py)."""
        return self._retrospector.look_back(design_pk, shortlist)
