"""Looking back: one design's views against every kept photo, scored as a live inspection would score them.

Three steps, cheapest first. (1) The photo index gives the `shortlist` photos whose global
descriptor is nearest any of the design's views (raw descriptors, exact search). (2) Each of those
searches the live index with its stored global and regional descriptors, exactly as a live
inspection's appearance stage does: when the design is not among the photo's candidates, a live
inspection would not list it; otherwise its rank and appearance score are the inspection's. (3)
When it ranks within `verify_top_k`, the photo's kept SIFT features are verified against the
design's best view and the best other candidate design's view with the same `verify` (and mirrored
retry) a live inspection uses, and scored with the same `rerank` and `against_rivals` (the
design's lead over that rival, issue 11); the verdict uses the thresholds of the current regime. Nothing is
re-embedded and only this design and its rival are verified, so a look-back costs one search of
the photos, a small live search per shortlisted photo and at most 2 x `shortlist` verifications,
not a re-inspection. What can differ from a re-inspection: a live inspection weighs its rival
among all its verified top designs; a look-back only against the best other one by appearance.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from index.matching.ranking import against_rivals, appearance_candidates, rerank
from index.matching.verdict import MAX_MATCHES, DesignHit, Thresholds, Verdict
from index.matching.verification import Verification
from index.pipeline.inspection import Inspector
from index.search.photos import PhotoIndex
from index.store.photos import PhotoDescriptor, PhotoStore

DEFAULT_SHORTLIST = 200
GIVE_WAY_S = 0.5
"""Longest a look-back waits for live inspections to finish before it takes its next step."""
QUIET_S = 0.05
"""How long no inspection must have run before a look-back steps in (inspections come in bursts)."""


class Traffic:
    """Counts live inspections in flight, so that a look-back gives way to them.

    Why: a look-back runs Python between its NumPy, FAISS and OpenCV calls, and with the GIL a
    lower thread priority alone does not keep it from slowing an inspection on another core. So
    before each step (each shard of the photo search, each photo's ranking and verification) it
    waits until no
    inspection has run for QUIET_S, at most GIVE_WAY_S: under a steady stream of inspections it
    still advances by one step each GIVE_WAY_S.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._idle = threading.Event()
        self._idle.set()
        self._ended = 0.0

    @contextmanager
    def inspecting(self) -> Iterator[None]:
        """Mark a live inspection in flight for the length of the block."""
        with self._lock:
            self._running += 1
            self._idle.clear()
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0:
                    self._ended = time.monotonic()
                    self._idle.set()

    def give_way(self) -> None:
        """Wait until no live inspection has run for QUIET_S (at most GIVE_WAY_S)."""
        deadline = time.monotonic() + GIVE_WAY_S
        while (left := deadline - time.monotonic()) > 0:
            if not self._idle.wait(left):
                return
            quiet = QUIET_S - (time.monotonic() - self._ended)
            if quiet <= 0:
                return
            time.sleep(min(quiet, left))


@dataclass(frozen=True)
class LookBackHit:
    """A kept photo that a design's views match: its photo id and sha256, the view, scores, verdict."""

    photo_id: int
    sha256: str
    image_id: int
    appearance: float
    inliers: int
    score: float
    verdict: Verdict


@dataclass(frozen=True)
class LookBack:
    """What one look-back searched, verified and found (`hits`: verdict match or review, best first)."""

    design_pk: int
    photos: int
    shortlisted: int
    verified: int
    hits: list[LookBackHit]
    seconds: float


class Retrospector:
    """Scores one design against the kept photos with the inspector's own verification and fusion."""

    def __init__(
        self,
        inspector: Inspector,
        photos: PhotoIndex,
        store: PhotoStore,
        thresholds: Callable[[], Thresholds],
        traffic: Traffic,
    ) -> None:
        self.traffic = traffic
        self.inspector = inspector
        self.photos = photos
        self.store = store
        self.thresholds = thresholds

    def look_back(self, design_pk: int, shortlist: int = DEFAULT_SHORTLIST) -> LookBack:
        """Return the kept photos that the design's searchable views match (none for a withdrawn design)."""
        started = time.perf_counter()
        live, registry = self.inspector.live, self.inspector.registry
        with live.lock:
            view_ids = sorted(i for i, pk in live.design_of.items() if pk == design_pk)
            raw = registry.vectors_of(view_ids, live.fingerprint)
            view_ids = [i for i in view_ids if i in raw]
            sha_of = dict(live.sha_of)
            raw_views = np.stack([raw[i] for i in view_ids]) if view_ids else np.zeros((0, 0), np.float32)
            thresholds = self.thresholds()
        total = self.photos.count
        if not view_ids or total == 0:
            return LookBack(design_pk, total, 0, 0, [], time.perf_counter() - started)
        _, ids = self.photos.nearest(raw_views, shortlist, between=self.traffic.give_way)
        kept = self.store.get(ids.tolist())
        hits: list[LookBackHit] = []
        verified = 0
        settings = self.inspector.settings
        for photo in kept:
            self.traffic.give_way()
            rank, hit, other = self._candidate(photo, design_pk)
            if hit is None:
                continue
            appearance, image_id = hit.score, hit.image_id
            pair = [hit] if other is None else [hit, other]
            checks: list[Verification | None] = [None] * len(pair)
            if rank < settings.verify_top_k:
                checks = [self._verification(photo.sha256, c.image_id, sha_of) for c in pair]
                verified += sum(c is not None for c in checks)
            ranked = against_rivals(rerank(pair, checks, settings.scoring))
            mine = next(r for r in ranked if r.hit.design_pk == design_pk)
            score, inliers = mine.score, mine.inliers
            verdict = thresholds.verdict(score)
            if verdict is not Verdict.NO_MATCH:
                hit = LookBackHit(photo.id, photo.sha256, image_id, appearance, inliers, score, verdict)
                hits.append(hit)
        hits.sort(key=lambda h: -h.score)
        return LookBack(design_pk, total, len(kept), verified, hits, time.perf_counter() - started)

    def _candidate(
        self, photo: PhotoDescriptor, design_pk: int
    ) -> tuple[int, DesignHit | None, DesignHit | None]:
        """Return where the design ranks among the photo's appearance candidates, as a live inspection
        ranks them (its global and regional descriptors against the live index), its hit there, and
        the best other candidate design: the rival whose fused score the verdict score subtracts
        (index.matching.ranking.against_rivals), None when there is none.

        (0, None, None) when the design is not among them: a live inspection would not list it.
        """
        s = self.inspector.settings
        live = self.inspector.live
        with live.lock:
            scores, ids = live.search(photo.vector[None, :], s.neighbours)
            score_rows, id_rows = [scores[0]], [ids[0]]
            if len(photo.regions):
                region_scores, region_ids = live.search(photo.regions, s.region_neighbours)
                score_rows += list(region_scores)
                id_rows += list(region_ids)
            limit = max(MAX_MATCHES, s.verify_top_k)
            candidates = appearance_candidates(score_rows, id_rows, live.design_of, limit)
        others = [c for c in candidates if c.design_pk != design_pk]
        for rank, hit in enumerate(candidates):
            if hit.design_pk == design_pk:
                return rank, hit, max(others, key=lambda c: c.score, default=None)
        return 0, None, None

    def _verification(self, sha256: str, image_id: int, sha_of: dict[int, str]) -> Verification | None:
        """Return the photo's verification against one view as a live inspection checks it, or None."""
        inspector = self.inspector
        local = inspector.local.get(sha256)
        if local is None or not inspector.settings.verify_top_k:
            return None
        reference = inspector._reference_features(image_id, sha_of)
        if reference is None:
            return None
        return inspector._check(local, [reference])[0]
