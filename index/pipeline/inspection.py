"""Inspection: appearance search of a photo and its regions, verification of the best designs, verdict."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from index.errors import IndexNotReady
from index.matching.legal import legal_verdict, today
from index.matching.ranking import RankedHit, against_rivals, appearance_candidates, rerank
from index.matching.verdict import MAX_MATCHES, DesignHit, Thresholds, Verdict
from index.matching.verification import Verification, verify
from index.pipeline.cascade import Cascade, CascadeBounds
from index.pipeline.photos import Decoded, Decoder, Rejected
from index.pipeline.settings import EngineSettings
from index.search.live import LiveIndex
from index.store.blobs import BlobStore, sha256_of
from index.store.features import LocalFeatureStore
from index.store.registry import DesignRecord, Registry
from model.embedder import Embedder
from model.images import ImageSource
from model.local import LocalFeatures, extract_local


@dataclass(frozen=True)
class Match:
    """A registered design that an inspected photo resembles, with the view that resembles it most.

    `score` is what the verdict judges: `appearance` (the CNN cosine) + `keypoints` (the part from
    the photo keypoints that agree geometrically with that view: `inliers` of them, weighed by
    where they lie in the view; `verification` holds them) - `rival` (the same sum of the best
    other registered design, see index.matching.ranking.against_rivals).
    """

    design: DesignRecord
    score: float
    image_id: int
    appearance: float = 0.0
    inliers: int = 0
    verification: Verification | None = None
    keypoints: float = 0.0
    rival: float = 0.0


@dataclass(frozen=True)
class Inspection:
    """The outcome for one photo: verdict and matches, best first, and the thresholds that decided.

    `first_pass`: the photo's best first-pass score when the cascade ran (index/pipeline/cascade.py).
    `descriptor` (global), `regions` and `local` are what the photo was described by in full, so
    that the service can keep them for looking back (None where the cascade decided on its first pass).
    """

    source: str
    sha256: str
    verdict: Verdict
    matches: list[Match]
    thresholds: Thresholds | None = None
    first_pass: float | None = None
    descriptor: np.ndarray | None = field(default=None, compare=False, repr=False)
    regions: np.ndarray | None = field(default=None, compare=False, repr=False)
    local: LocalFeatures | None = field(default=None, compare=False, repr=False)


class Inspector:
    """Runs decoded photos through search, verification and the verdict of the current regime."""

    def __init__(
        self,
        settings: EngineSettings,
        decoder: Decoder,
        embedder: Embedder,
        registry: Registry,
        blobs: BlobStore,
        local: LocalFeatureStore,
        live: LiveIndex,
        thresholds: Callable[[], Thresholds],
        cascade: Callable[[], CascadeBounds | None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.decoder = decoder
        self.embedder = embedder
        self.registry = registry
        self.blobs = blobs
        self.local = local
        self.live = live
        self.thresholds = thresholds
        self.cascade_bounds = cascade
        self._cascade = Cascade(
            settings, embedder, live, decoder.pool.submit, self._search_regions, self._reference_features
        )

    def inspect_decoded(
        self, decoded: list[Decoded | Rejected], destination: str | None = None
    ) -> list[Inspection | Rejected]:
        """Inspect decoded photos in one batch; a Rejected stays in its place.

        `destination` (ISO 3166 alpha-2) is where the goods go: a design registered only elsewhere
        is not a `match` (index/matching/legal.py).

        Raises IndexNotReady when nothing is searchable.
        """
        good = [d for d in decoded if isinstance(d, Decoded)]
        if not good:
            return list(decoded)
        bounds = self.cascade_bounds()
        if bounds is not None:
            return self._finish(
                decoded, good, *self._cascade.rank(good, bounds, self.thresholds), destination
            )
        globals_, regions = self.embedder.describe([d.image for d in good])
        s = self.settings
        limit = max(MAX_MATCHES, s.verify_top_k)
        live = self.live
        with live.lock:
            if live.count == 0:
                raise IndexNotReady("no design is registered yet: register designs before inspecting")
            scores, ids = live.search(globals_, s.neighbours)
            region_hits = self._search_regions(regions)
            candidates = [
                appearance_candidates(
                    [scores[i], *region_hits[i][0]],
                    [ids[i], *region_hits[i][1]],
                    live.design_of,
                    limit,
                    live.votes(good[i].local, s.local_votes),
                    (s.verify_top_k, s.local_candidates),
                )
                for i in range(len(good))
            ]
            sha_of = dict(live.sha_of)
            thresholds = self.thresholds()
        ranked = list(
            self.decoder.pool.map(
                lambda pair: self._verify(pair[0], pair[1], sha_of), zip(good, candidates, strict=True)
            )
        )
        described = list(zip(globals_, regions or [None] * len(good), strict=True))
        return self._finish(decoded, good, ranked, thresholds, [None] * len(good), destination, described)

    def _finish(
        self,
        decoded: list[Decoded | Rejected],
        good: list[Decoded],
        ranked: list[list[RankedHit]],
        thresholds: Thresholds,
        first_pass: list[float] | list[None],
        destination: str | None,
        described: list[tuple[np.ndarray | None, np.ndarray | None]] | None = None,
    ) -> list[Inspection | Rejected]:
        described = described or [(None, None)] * len(good)
        records = self.registry.designs_by_pk(sorted({r.hit.design_pk for row in ranked for r in row}))
        inspections = iter(
            replace(_inspection(d, row, records, thresholds, destination, g, r), first_pass=first)
            for d, row, first, (g, r) in zip(good, ranked, first_pass, described, strict=True)
        )
        return [item if isinstance(item, Rejected) else next(inspections) for item in decoded]

    def _search_regions(self, regions: list[np.ndarray]) -> list[tuple[list[np.ndarray], list[np.ndarray]]]:
        if not regions:
            return []
        counts = [len(r) for r in regions]
        scores, ids = self.live.search(np.concatenate(regions), self.settings.region_neighbours)
        bounds = np.cumsum([0, *counts])
        return [(list(scores[a:b]), list(ids[a:b])) for a, b in itertools.pairwise(bounds)]

    def _reference_features(self, image_id: int, sha_of: dict[int, str]) -> LocalFeatures | None:
        sha = sha_of.get(image_id)
        if sha is None:
            return None
        return self.local.fetch(sha, self.blobs, self.settings.local)

    def _verify(
        self, decoded: Decoded, candidates: list[DesignHit], sha_of: dict[int, str]
    ) -> list[RankedHit]:
        s = self.settings
        if not s.verify_top_k:
            return against_rivals(rerank(candidates, [None] * len(candidates), s.scoring))
        local = decoded.local if decoded.local is not None else extract_local(decoded.image, s.local)
        top = candidates[: s.verified_candidates]
        references = [self._reference_features(c.image_id, sha_of) for c in top]
        checks = self._check(local, references)
        verifications: list[Verification | None] = [*checks, *([None] * (len(candidates) - len(top)))]
        return against_rivals(rerank(candidates, verifications, s.scoring))

    def _check(
        self, local: LocalFeatures, references: list[LocalFeatures | None]
    ) -> list[Verification | None]:
        """Verify a photo against reference views; retry mirrored when nothing agrees well."""
        checks = [verify(local, r) if r is not None else None for r in references]
        if max((c.inliers for c in checks if c is not None), default=0) < self.settings.mirror_retry_below:
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
        decoded = self.decoder.decode(photo)
        with self.live.lock:
            sha_of = dict(self.live.sha_of)
        reference = self._reference_features(image_id, sha_of)
        local = decoded.local or extract_local(decoded.image, self.settings.local)
        return self._check(local, [reference])[0]


def _inspection(
    decoded: Decoded,
    ranked: list[RankedHit],
    records: dict[int, DesignRecord],
    thresholds: Thresholds,
    destination: str | None,
    descriptor: np.ndarray | None,
    regions: np.ndarray | None,
) -> Inspection:
    matches = [
        Match(
            design=records[r.hit.design_pk],
            score=r.score,
            image_id=r.hit.image_id,
            appearance=r.appearance,
            inliers=r.inliers,
            verification=r.verification,
            keypoints=r.keypoints,
            rival=r.rival,
        )
        for r in ranked
    ]
    return Inspection(
        source=decoded.source,
        sha256=sha256_of(decoded.data),
        verdict=legal_verdict(((m.design, m.score) for m in matches), thresholds, today(), destination),
        matches=matches,
        thresholds=thresholds,
        descriptor=descriptor,
        regions=regions,
        local=decoded.local,
    )
