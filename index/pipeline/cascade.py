"""The inspection cascade: second scale, regions, SIFT and verification only where the verdict is in doubt.

Most photos at a border show nothing registered, and the full inspection spends most of its time on
them: two network scales, nine regions, SIFT extraction and ten (often twenty, mirrored)
verifications. The cascade cuts that work where a calibration run showed it never changed a verdict:

1. **First pass**: the global descriptor at the smallest scale only, searched. A photo whose best
   first-pass score is below `first_pass` (below every photo that ended at `review` or `match` in
   the calibration run, less a margin) is decided `no_match` there, its matches ranked by that score.
2. The other photos get the other scales and the regions (the first scale's descriptor is reused:
   the global descriptor is the same as without the cascade), their SIFT features, and
   verification of the candidates whose appearance is at least `verify` (below it no candidate
   ever verified in the calibration run); verification stops early once the best design leads
   its best rival by the `match` threshold even against every remaining candidate at its largest
   inlier bonus (the verdict is `match` whatever they show); the mirrored retry runs only for
   candidates with appearance at least `mirror`.

The bounds are measured per model and scoring regime by `fit_bounds` (scripts/fit_cascade.py) and
stored beside the calibration (index/matching/cascade.json). Without bounds for the engine's model
and regime the inspection runs in full.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.errors import IndexNotReady
from index.matching.ranking import RankedHit, against_rivals, appearance_candidates, fuse, rerank
from index.matching.verdict import MAX_MATCHES, DesignHit, Thresholds
from index.matching.verification import Verification, verify
from index.pipeline.photos import Decoded
from index.search.live import LiveIndex
from model.embedder import Embedder
from model.local import LocalFeatures, extract_local

if TYPE_CHECKING:
    from index.pipeline.settings import EngineSettings

CASCADE_FILE = "cascade.json"
Regions = Callable[[list[np.ndarray]], list[tuple[list[np.ndarray], list[np.ndarray]]]]
References = Callable[[int, dict[int, str]], LocalFeatures | None]


@dataclass(frozen=True)
class CascadeBounds:
    """Where the cascade may cut work, for one model and scoring regime (see the module docstring)."""

    first_pass: float
    verify: float
    mirror: float
    margin: float = 0.0
    source: str = ""

    @classmethod
    def from_json(cls, payload: Mapping) -> CascadeBounds:
        """Return bounds stored by `to_json`."""
        return cls(**{k: payload[k] for k in ("first_pass", "verify", "mirror", "margin", "source")})

    def to_json(self) -> dict:
        """Return the bounds as a JSON-ready object."""
        return asdict(self)


OPEN = CascadeBounds(-math.inf, -math.inf, -math.inf, 0.0, "open: cuts nothing, records first-pass scores")
"""Bounds that cut nothing: the full inspection, with each photo's first-pass score recorded."""


@dataclass(frozen=True)
class CascadeTable:
    """Bounds per model fingerprint and scoring regime ("whitened", "raw"), where they were measured."""

    models: Mapping[str, Mapping[str, CascadeBounds]]

    def bounds(self, model: str, regime: str) -> CascadeBounds | None:
        """Return the bounds measured for this model and regime, or None (inspect in full)."""
        return self.models.get(model, {}).get(regime)

    def with_bounds(self, model: str, regime: str, bounds: CascadeBounds) -> CascadeTable:
        """Return a table with `bounds` stored for this model and regime."""
        models = {m: dict(r) for m, r in self.models.items()}
        models.setdefault(model, {})[regime] = bounds
        return CascadeTable(models)

    def to_json(self) -> dict:
        """Return the table as a JSON-ready object."""
        return {"models": {m: {r: b.to_json() for r, b in rs.items()} for m, rs in self.models.items()}}


NO_CASCADE = CascadeTable({})
"""No bounds anywhere: every photo is inspected in full (LANTERNGUARD_CASCADE=off)."""


def load_cascade(path: Path | None = None) -> CascadeTable:
    """Return the bounds in `path`, or those shipped beside the calibration (index/matching)."""
    if path is not None:
        payload = json.loads(path.read_text())
    else:
        payload = json.loads(resources.files("index.matching").joinpath(CASCADE_FILE).read_text())
    return CascadeTable(
        {
            model: {regime: CascadeBounds.from_json(b) for regime, b in regimes.items()}
            for model, regimes in payload.get("models", {}).items()
        }
    )


DEFAULT_CASCADE = load_cascade()
"""The bounds shipped with this build (index/matching/cascade.json)."""


@dataclass(frozen=True)
class Trace:
    """What one photo's full inspection says about where the cascade could have cut.

    `candidates`: (appearance, inliers, mirrored) of each verified candidate.
    """

    first_pass: float
    verdict: str
    candidates: Sequence[tuple[float, int, bool]]


def fit_bounds(traces: Sequence[Trace], verified_inliers: int, margin: float, source: str) -> CascadeBounds:
    """Return bounds below everything that mattered in full inspections, less `margin`.

    first_pass: the lowest first-pass score of a photo that ended at review or match. verify: the
    lowest appearance of a candidate that verified (at least `verified_inliers` inliers, the
    engine's own "something agrees" count). mirror: the lowest appearance of a candidate whose
    mirrored retry found more inliers than the photo itself, however few (verify when none did):
    the verdict judges a design's lead over its best rival, so a rival's few mirrored inliers
    count too (a band fitted on mirrored verifications of `verified_inliers` changed 18 of 1,925
    dev verdicts). With nothing to go by, a bound cuts nothing.
    """
    kept = [t.first_pass for t in traces if t.verdict in ("review", "match")]
    verified = [a for t in traces for a, n, _ in t.candidates if n >= verified_inliers]
    mirrored = [a for t in traces for a, _, m in t.candidates if m]
    first = min(kept, default=-math.inf) - margin
    verify_floor = min(verified, default=-math.inf) - margin
    mirror = min(mirrored, default=verify_floor + margin) - margin
    return CascadeBounds(first, verify_floor, max(mirror, verify_floor), margin, source)


class Cascade:
    """Runs decoded photos through the cascade; returns what the Inspector turns into Inspections."""

    def __init__(
        self,
        settings: EngineSettings,
        embedder: Embedder,
        live: LiveIndex,
        pool: Callable[..., object],
        search_regions: Regions,
        references: References,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.live = live
        self.pool = pool
        self.search_regions = search_regions
        self.references = references

    def rank(
        self, good: list[Decoded], bounds: CascadeBounds, thresholds: Callable[[], Thresholds]
    ) -> tuple[list[list[RankedHit]], Thresholds, list[float]]:
        """Return per photo its ranked designs, the thresholds of the regime, and first-pass scores.

        Raises IndexNotReady when nothing is searchable.
        """
        s, embedder = self.settings, self.embedder
        limit = max(MAX_MATCHES, s.verify_top_k)
        first_side = min(embedder.config.scales)
        first, _ = embedder.scale_descriptors([d.image for d in good], (first_side,), regions=False)
        live = self.live
        with live.lock:
            if live.count == 0:
                raise IndexNotReady("no design is registered yet: register designs before inspecting")
            scores, ids = live.search(embedder.combine([first[first_side]]), s.neighbours)
            design_of, judged = live.design_of, thresholds()
            ranked: list[list[RankedHit]] = []
            for i in range(len(good)):
                hits = appearance_candidates([scores[i]], [ids[i]], design_of, limit)
                ranked.append(against_rivals(rerank(hits, [None] * len(hits), s.scoring), True))
        best = [float(scores[i][0]) if ids[i][0] >= 0 else -math.inf for i in range(len(good))]
        doubt = [i for i in range(len(good)) if best[i] >= bounds.first_pass]
        if doubt:
            for i, row in zip(
                doubt, self._second_pass(good, doubt, first, first_side, bounds, judged), strict=True
            ):
                ranked[i] = row
        return ranked, judged, best

    def _second_pass(
        self,
        good: list[Decoded],
        doubt: list[int],
        first: dict,
        first_side: int,
        bounds: CascadeBounds,
        judged: Thresholds,
    ) -> list[list[RankedHit]]:
        """Describe the photos in doubt in full, search them with their regions, verify them."""
        s, embedder = self.settings, self.embedder
        limit = max(MAX_MATCHES, s.verify_top_k)
        images = [good[i].image for i in doubt]
        want_local = bool(s.verify_top_k)
        sift = {
            i: self.pool(extract_local, good[i].image, s.local)
            for i in doubt
            if want_local and good[i].local is None
        }
        rest = [side for side in embedder.config.scales if side != first_side]
        per_scale, regions = embedder.scale_descriptors(images, rest or [first_side], regions=True)
        parts = [first[first_side][doubt], *(per_scale[side] for side in rest)]
        globals_ = embedder.combine(parts)
        features = [good[i].local if i not in sift else sift[i].result() for i in doubt]
        live = self.live
        with live.lock:
            scores, ids = live.search(globals_, s.neighbours)
            region_hits = self.search_regions(regions)
            candidates = [
                appearance_candidates(
                    [scores[j], *region_hits[j][0]],
                    [ids[j], *region_hits[j][1]],
                    live.design_of,
                    limit,
                    live.votes(features[j], s.local_votes),
                    (s.verify_top_k, s.local_candidates),
                )
                for j in range(len(doubt))
            ]
            sha_of = dict(live.sha_of)
        jobs = [
            self.pool(self._verify, f, c, sha_of, bounds, judged)
            for f, c in zip(features, candidates, strict=True)
        ]
        return [job.result() for job in jobs]

    def _verify(
        self,
        local: LocalFeatures | None,
        candidates: list[DesignHit],
        sha_of: dict[int, str],
        bounds: CascadeBounds,
        judged: Thresholds,
    ) -> list[RankedHit]:
        """Verify the candidates worth it, best appearance first, stopping once the verdict is settled.

        Settled: the best design leads its best rival by `match` even if every candidate not yet
        verified saturated its inliers (it is a `match` whatever they show). Not merely "nothing
        can overtake the best": the verdict judges the lead over the best rival, and a rival left
        unverified keeps only its appearance, which raises the lead (33 of 1,925 dev verdicts
        changed, most of them unregistered photos raised to `review`, under that rule).
        """
        s = self.settings
        scoring = s.scoring
        top = [c for c in candidates[: s.verified_candidates] if c.score >= bounds.verify]
        if local is None or not top:
            return against_rivals(rerank(candidates, [None] * len(candidates), scoring))

        def ranked(checks: list[Verification | None]) -> list[RankedHit]:
            verifications = [*checks, *([None] * (len(candidates) - len(checks)))]
            return against_rivals(rerank(candidates, verifications, scoring))

        references: list[LocalFeatures | None] = []
        checks: list[Verification | None] = []
        for j, candidate in enumerate(top):
            reference = self.references(candidate.image_id, sha_of)
            references.append(reference)
            checks.append(verify(local, reference) if reference is not None else None)
            # a fused score exceeds its appearance by at most 1: without that lead in appearance
            # over every remaining candidate no verification can settle the verdict (skip the
            # rerank); the remaining ones are not in appearance order once voted designs follow
            rest = max((c.score for c in top[j + 1 :]), default=None)
            if rest is not None and bounds is not OPEN and top[0].score - rest >= judged.match:
                best, most = ranked(checks)[0], scoring.saturation
                if best.fused - max(best.rival, fuse(rest, most, most)) >= judged.match:
                    break
        if max((c.inliers for c in checks if c is not None), default=0) < s.mirror_retry_below:
            mirrored = local.mirrored()
            for j, reference in enumerate(references):
                if reference is not None and top[j].score >= bounds.mirror:
                    again = verify(mirrored, reference, mirrored=True)
                    previous = checks[j]
                    if previous is None or again.inliers > previous.inliers:
                        checks[j] = again
        return ranked(checks)


def regime_of(whitened: bool) -> str:
    """Return the name of the scoring regime, as the bounds are keyed."""
    return "whitened" if whitened else "raw"
