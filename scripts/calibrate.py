"""Derive the verdict thresholds from a benchmark and store them with the package (index/calibration.json).

python scripts/calibrate.py --benchmark ../shared/benchmark/dev [--regimes whitened raw]

Each regime is one full benchmark run: `whitened` as the engine runs on a registry of >= 512
views, `raw` with whitening switched off (small registries). The match threshold is the lowest
score at which "best design >= threshold" verdicts are >= 95 % right, review the one for >= 80 %.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from api.progress import stage_bars
from index.calibration import calibrate
from index.config import CALIBRATION_FILE, EngineSettings, load_calibration
from index.evaluation import evaluate
from index.metrics import QueryOutcome, compute_metrics

REGIMES = {"whitened": {}, "raw": {"whitening_min_images": 10**9}}


def with_verdicts(outcomes: list[QueryOutcome], match: float, review: float) -> list[QueryOutcome]:
    def verdict(o: QueryOutcome) -> str:
        top = o.predictions[0][1] if o.predictions else None
        return "no_match" if top is None or top < review else "match" if top >= match else "review"

    return [replace(o, verdict=verdict(o)) for o in outcomes]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--benchmark", type=Path, required=True)
    parser.add_argument("--regimes", nargs="+", choices=sorted(REGIMES), default=["whitened", "raw"])
    parser.add_argument("--match-precision", type=float, default=0.95)
    parser.add_argument("--review-precision", type=float, default=0.80)
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "index" / CALIBRATION_FILE)
    args = parser.parse_args()
    payload = load_calibration(args.out if args.out.exists() else None).to_json()
    notes = []
    for regime in args.regimes:
        settings = replace(EngineSettings(home=Path("unused")), **REGIMES[regime])
        report = evaluate(
            args.benchmark / "references.csv",
            args.benchmark / "queries.csv",
            settings,
            progress=stage_bars(),
        )
        thresholds = calibrate(report.outcomes, args.match_precision, args.review_precision)
        metrics = compute_metrics(with_verdicts(report.outcomes, thresholds.match, thresholds.review))
        payload[regime] = {"match": thresholds.match, "review": thresholds.review}
        summary = {
            "regime": regime,
            "match": thresholds.match,
            "review": thresholds.review,
            "uAP": round(metrics.uap, 4),
            "R@1": round(metrics.recall_at_1, 4),
            "R@P90": round(metrics.recall_at_p90, 4),
            "false_match_rate": round(metrics.false_match_rate, 4),
            "images_per_s": round(report.images_per_s, 2),
        }
        print(json.dumps(summary), flush=True)
        notes.append(f"{regime}: match>={thresholds.match} review>={thresholds.review}")
    payload["source"] = (
        f"scripts/calibrate.py on {args.benchmark.name} {datetime.now(UTC).date()}: "
        f"verdict precision >= {args.match_precision} (match), >= {args.review_precision} (review); "
        + "; ".join(notes)
    )
    args.out.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
