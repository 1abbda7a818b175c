"""Derive the verdict thresholds from a benchmark; store them in index/matching/calibration.json.

python scripts/calibrate.py --benchmark ../shared/benchmark/dev [--regimes whitened raw]

Each regime is one full benchmark run: `whitened` as the engine runs on a registry of >= 512
views, `raw` with whitening switched off (small registries). The match threshold is the lowest
score at which "best design >= threshold" verdicts are >= 95 % right, review the one for >= 80 %,
raised until at most 10 % of the unregistered photos reach it (at a 90 % upper confidence bound).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from api.progress import stage_bars
from index.engine import EngineSettings
from index.evaluation.fitting import calibrate
from index.evaluation.metrics import QueryOutcome, compute_metrics
from index.evaluation.run import evaluate
from index.evaluation.transfer import transfer
from index.matching.calibration import CALIBRATION_FILE, load_calibration
from index.matching.precision import Targets

REGIMES = {"whitened": {}, "raw": {"whitening_min_images": 10**9}}


def with_verdicts(outcomes: list[QueryOutcome], match: float, review: float) -> list[QueryOutcome]:
    def verdict(o: QueryOutcome) -> str:
        top = o.predictions[0][1] if o.predictions else None
        return "no_match" if top is None or top < review else "match" if top >= match else "review"

    return [replace(o, verdict=verdict(o)) for o in outcomes]


def subset(benchmark: Path, references: int | None, queries: int | None, folder: Path, seed: int = 0) -> Path:
    """Write a smaller copy of the benchmark's CSVs (absolute image paths) into `folder`.

    Every design that has queries keeps its references; other references and all queries are
    sampled (seeded) down to the limits. Returns `folder`.
    """
    rng = random.Random(seed)
    with (benchmark / "references.csv").open(newline="") as handle:
        refs = list(csv.DictReader(handle))
    with (benchmark / "queries.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if queries is not None:
        rows = rng.sample(rows, min(queries, len(rows)))
    wanted = {r["design_id"] for r in rows if r["design_id"]}
    kept = [r for r in refs if r["design_id"] in wanted]
    others = [r for r in refs if r["design_id"] not in wanted]
    if references is not None:
        others = rng.sample(others, max(0, min(len(others), references - len(kept))))
    with (folder / "references.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["design_id", "image"])
        writer.writerows([r["design_id"], (benchmark / r["image"]).resolve()] for r in kept + others)
    with (folder / "queries.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "design_id"])
        writer.writerows([(benchmark / r["image"]).resolve(), r["design_id"]] for r in rows)
    return folder


def benchmark_name(args: argparse.Namespace) -> str:
    limits = [f"{k} {v}" for k, v in (("views", args.max_references), ("queries", args.max_queries)) if v]
    return args.benchmark.name + (f" sampled to {', '.join(limits)}" if limits else "")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--benchmark", type=Path, required=True)
    parser.add_argument("--regimes", nargs="+", choices=sorted(REGIMES), default=["whitened", "raw"])
    parser.add_argument("--match-precision", type=float, default=0.95)
    parser.add_argument("--review-precision", type=float, default=0.80)
    parser.add_argument(
        "--review-unregistered",
        type=float,
        default=0.10,
        help="most share of unregistered photos at review or match (0: no such target)",
    )
    parser.add_argument("--max-references", type=int, help="sample the registry down to this many views")
    parser.add_argument("--max-queries", type=int, help="sample the queries down to this many")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parents[1] / "index" / "matching" / CALIBRATION_FILE
    )
    args = parser.parse_args()
    targets = Targets(args.match_precision, args.review_precision, args.review_unregistered or None)
    payload = json.loads(args.out.read_text()) if args.out.exists() else load_calibration().to_json()
    notes: dict[str, str] = payload.setdefault("notes", {})
    scratch = tempfile.TemporaryDirectory(prefix="lanternguard-calibrate-")
    benchmark = args.benchmark
    if args.max_references or args.max_queries:
        benchmark = subset(args.benchmark, args.max_references, args.max_queries, Path(scratch.name))
    for regime in args.regimes:
        settings = replace(EngineSettings(home=Path("unused")), **REGIMES[regime])
        report = evaluate(
            benchmark / "references.csv",
            benchmark / "queries.csv",
            settings,
            progress=stage_bars(),
        )
        thresholds = calibrate(report.outcomes, targets)
        metrics = compute_metrics(with_verdicts(report.outcomes, thresholds.match, thresholds.review))
        payload[regime] = {"match": thresholds.match, "review": thresholds.review}
        payload["model"] = settings.model(settings.embedder.fingerprint)
        summary = {
            "regime": regime,
            "match": thresholds.match,
            "review": thresholds.review,
            "uAP": round(metrics.uap, 4),
            "R@1": round(metrics.recall_at_1, 4),
            "R@P90": round(metrics.recall_at_p90, 4),
            "false_match_rate": round(metrics.false_match_rate, 4),
            "images_per_s": round(report.images_per_s, 2),
            "candidate_recall": report.as_json()["candidate_recall"],
            "transfer": transfer(report.outcomes, targets).as_json(),
        }
        print(json.dumps(summary), flush=True)
        size = f"{report.references} views, {report.queries} queries"
        notes[regime] = (
            f"scripts/calibrate.py on {benchmark_name(args)} {datetime.now(UTC).date()} ({size}): "
            f"match >= {thresholds.match} at verdict precision >= {args.match_precision}, "
            f"review >= {thresholds.review} at >= {args.review_precision}"
            + (
                f" and at most {args.review_unregistered} of unregistered photos"
                f" ({targets.confidence:.0%} bound)"
                if targets.unregistered
                else ""
            )
        )
    payload["source"] = "; ".join(f"{regime}: {note}" for regime, note in sorted(notes.items()))
    args.out.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
