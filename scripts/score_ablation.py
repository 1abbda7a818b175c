"""Ablation of the verdict score on a benchmark: what each ingredient adds, on held-out designs.

python scripts/score_ablation.py --benchmark ../shared/benchmark/dev [--seeds 0 1 2]

Runs the benchmark once with `index.evaluation.run.evaluate` (what `lanternguard evaluate` runs)
and keeps every photo's candidates with their appearance scores and verifications; each variant
then re-scores the same candidates with the library's own functions (`rerank`, `against_rivals`,
`centre_weights`), so the rows differ only in the score. It ends with the run's own report as
`lanternguard evaluate --calibrate-on split --json` writes it (its images/s is evaluate's).
Per row: uAP, R@1, R@P90 on the whole set and the transfer protocol's
held-out figures (index.evaluation.transfer, averaged over the seeds): precision and recall of
`match`, and the share of unregistered photos given `review` or `match`. The `engine` row must
equal the run's own figures.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from api.progress import stage_bars
from index.engine import EngineSettings, Inspection
from index.evaluation.metrics import QueryOutcome, compute_metrics
from index.evaluation.run import evaluate
from index.evaluation.transfer import transfer
from index.matching.ranking import Scoring, against_rivals, rerank
from index.matching.verdict import DesignHit


@dataclass(frozen=True)
class Variant:
    """One way of scoring: inlier saturation, centre spread (None: off), rival subtracted or not, and
    the weight of inliers on a registered view's background (1: foreground masks ignored), and how
    many weighted inliers do not count (chance)."""

    name: str
    saturation: int
    spread: float | None
    rivals: bool
    background: float = 1.0
    floor: float = 0.0


VARIANTS = [
    Variant("fused score (before: saturation 50, no centre weights, no rival)", 50, None, False),
    Variant("+ best rival design subtracted (margin)", 50, None, True),
    Variant("+ inlier saturation 30", 30, None, True),
    Variant("+ inliers weighed by where they lie in the view (spread 0.3)", 30, 0.3, True),
    Variant("+ inliers on the view's background weigh 0.2 (foreground masks)", 30, 0.3, True, 0.2),
    Variant("+ the first 4 weighted inliers do not count (chance) = engine", 30, 0.3, True, 0.2, 4.0),
    Variant("engine without the rival", 30, 0.3, False, 0.2, 4.0),
    Variant("engine without the centre weights", 30, None, True, 0.2, 4.0),
    Variant("engine without the foreground masks", 30, 0.3, True, 1.0, 4.0),
]


def rescore(inspection: Inspection, variant: Variant) -> list[tuple[str, float]]:
    """Return the photo's (design id, score) predictions, best first, under a variant."""
    by_pk = {m.design.pk: m.design.design_id for m in inspection.matches}
    hits = [DesignHit(m.design.pk, m.image_id, m.appearance) for m in inspection.matches]
    verifications = [m.verification for m in inspection.matches]
    scoring = Scoring(variant.saturation, variant.spread, variant.background, variant.floor)
    ranked = rerank(hits, verifications, scoring)
    if variant.rivals:
        ranked = against_rivals(ranked)
    return [(by_pk[r.hit.design_pk], r.score) for r in ranked]


def row(name: str, outcomes: list[QueryOutcome], seeds: list[int]) -> str:
    m = compute_metrics(outcomes)
    held = [transfer(outcomes, seed=seed).held_out for seed in seeds]
    match_p = np.mean([h["match"].precision or 0.0 for h in held])
    match_r = np.mean([h["match"].recall for h in held])
    unregistered = np.mean([h["review"].unregistered_share for h in held])
    figures = [m.uap, m.recall_at_1, m.recall_at_p90, match_p, match_r, unregistered]
    return f"| {name} | " + " | ".join(f"{x:.3f}" for x in figures) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--benchmark", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    kept: dict[int, Inspection] = {}
    report = evaluate(
        args.benchmark / "references.csv",
        args.benchmark / "queries.csv",
        EngineSettings(home=Path("unused")),
        progress=stage_bars(),
        on_inspection=kept.__setitem__,
    )
    truths = [o.truth for o in report.outcomes]
    print(
        "| score | uAP | R@1 | R@P90 | held-out `match` precision | held-out `match` recall |"
        " unregistered at `review`+ |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(row("engine, as run", report.outcomes, args.seeds))
    for variant in VARIANTS:
        outcomes = [
            replace(o, predictions=rescore(kept[i], variant)) if i in kept else o
            for i, o in enumerate(report.outcomes)
        ]
        assert [o.truth for o in outcomes] == truths
        print(row(variant.name, outcomes, args.seeds), flush=True)
    figures = report.as_json()
    figures["transfer"] = transfer(report.outcomes, seed=args.seeds[0]).as_json()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
