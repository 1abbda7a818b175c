"""The transfer protocol: thresholds fitted on half of a benchmark's designs, judged on the other half.

A threshold fitted on the photos it is judged on says nothing about a registry it was never fitted
to. Here the designs that have photos are split in two folds (seeded), and so are the unregistered
photos; thresholds are fitted (index.evaluation.fitting.calibrate) on one fold and every verdict of
the other fold is judged with them, then the reverse. Each photo is judged exactly once, by
thresholds that never saw its design, and the pooled figures are what a verdict claims on new designs.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from index.evaluation.fitting import calibrate
from index.evaluation.metrics import QueryOutcome
from index.matching.precision import DEFAULT_TARGETS, Targets
from index.matching.verdict import Thresholds, Verdict


@dataclass(frozen=True)
class VerdictFigures:
    """How right one verdict level is on a set of photos.

    `precision`: share of the photos given this verdict (or a stronger one) whose best design is
    the design they show (None when none got it); `recall`: share of the photos that show a
    registered design given it with the right design first; `unregistered_share`: share of the
    unregistered photos given it.
    """

    precision: float | None
    recall: float
    unregistered_share: float
    selected: int

    def as_json(self) -> dict[str, float | int | None]:
        """Return the figures rounded for a report."""
        return {
            "precision": None if self.precision is None else round(self.precision, 4),
            "recall": round(self.recall, 4),
            "unregistered_share": round(self.unregistered_share, 4),
            "selected": self.selected,
        }


def _top(outcome: QueryOutcome) -> float | None:
    return outcome.predictions[0][1] if outcome.predictions else None


def judged_figures(judged: Sequence[tuple[QueryOutcome, Verdict]]) -> dict[str, VerdictFigures]:
    """Return the figures of `match` and of `review` (meaning review or match) of judged photos."""
    levels = {"match": {Verdict.MATCH}, "review": {Verdict.MATCH, Verdict.REVIEW}}
    positives = sum(1 for o, _ in judged if o.truth is not None)
    negatives = sum(1 for o, _ in judged if o.truth is None)
    figures = {}
    for name, accepted in levels.items():
        chosen = [o for o, verdict in judged if verdict in accepted]
        right = sum(1 for o in chosen if o.truth is not None and o.predictions[0][0] == o.truth)
        unregistered = sum(1 for o in chosen if o.truth is None)
        figures[name] = VerdictFigures(
            precision=right / len(chosen) if chosen else None,
            recall=right / positives if positives else 0.0,
            unregistered_share=unregistered / negatives if negatives else 0.0,
            selected=len(chosen),
        )
    return figures


def verdict_figures(outcomes: Sequence[QueryOutcome], thresholds: Thresholds) -> dict[str, VerdictFigures]:
    """Return the figures of `match` and `review` when every photo is judged by `thresholds`."""
    return judged_figures([(o, thresholds.verdict(_top(o))) for o in outcomes])


def design_folds(outcomes: Sequence[QueryOutcome], seed: int = 0) -> tuple[list[int], list[int]]:
    """Split the photos in two folds: by the design they show, and the unregistered ones by halves.

    Returns the indices of the photos in each fold. Raises ValueError with fewer than two designs.
    """
    designs = sorted({o.truth for o in outcomes if o.truth is not None})
    if len(designs) < 2:
        raise ValueError("the split needs photos of at least two registered designs")
    rng = random.Random(seed)
    rng.shuffle(designs)
    first = set(designs[: len(designs) // 2])
    unregistered = [i for i, o in enumerate(outcomes) if o.truth is None]
    rng.shuffle(unregistered)
    half = set(unregistered[: len(unregistered) // 2])
    fold_a = [i for i, o in enumerate(outcomes) if (o.truth in first if o.truth is not None else i in half)]
    chosen = set(fold_a)
    return fold_a, [i for i in range(len(outcomes)) if i not in chosen]


@dataclass(frozen=True)
class TransferReport:
    """Per fold the thresholds fitted on the other fold, and the pooled held-out figures."""

    thresholds: tuple[Thresholds, Thresholds]
    sizes: tuple[tuple[int, int], tuple[int, int]]
    held_out: dict[str, VerdictFigures]
    fitted_on: dict[str, VerdictFigures]
    seed: int
    targets: Targets

    def as_json(self) -> dict:
        """Return the report as a JSON-ready object (the `transfer` key of `lanternguard evaluate`)."""
        return {
            "protocol": "two-fold split by design",
            "seed": self.seed,
            "targets": {
                "match": self.targets.match,
                "review": self.targets.review,
                "review_unregistered": self.targets.unregistered,
                "confidence": self.targets.confidence,
            },
            "folds": [
                {
                    "match": t.match,
                    "review": t.review,
                    "fitted_on_photos": size[0],
                    "fitted_on_designs": size[1],
                }
                for t, size in zip(self.thresholds, self.sizes, strict=True)
            ],
            "held_out": {name: f.as_json() for name, f in self.held_out.items()},
            "fitted_on": {name: f.as_json() for name, f in self.fitted_on.items()},
        }


def transfer(
    outcomes: Sequence[QueryOutcome],
    targets: Targets = DEFAULT_TARGETS,
    seed: int = 0,
) -> TransferReport:
    """Fit thresholds on each fold, judge the other fold with them; return the pooled figures.

    Raises ValueError when the photos show fewer than two designs or a fold has nothing to fit.
    """
    a, b = design_folds(outcomes, seed)
    folds = [[outcomes[i] for i in a], [outcomes[i] for i in b]]
    fitted = [calibrate(fold, targets) for fold in folds]
    held = [(o, fitted[1 - k].verdict(_top(o))) for k in range(2) for o in folds[k]]
    own = [(o, fitted[k].verdict(_top(o))) for k in range(2) for o in folds[k]]
    return TransferReport(
        thresholds=(fitted[0], fitted[1]),
        sizes=tuple(  # type: ignore[arg-type]
            (len(f), len({o.truth for o in f if o.truth is not None})) for f in folds
        ),
        held_out=judged_figures(held),
        fitted_on=judged_figures(own),
        seed=seed,
        targets=targets,
    )
