"""Fit the inspection cascade's bounds on a calibration run, and check them by the transfer protocol.

nice -n 10 .venv/bin/python scripts/fit_cascade.py --write

For each precision (`--precisions`; default float32, and bfloat16 where the CPU runs it natively,
as LANTERNGUARD_PRECISION=auto would), with the default model and settings otherwise:
1. Registers the references of the benchmark (or a sample: `--views`, `--queries`) in a temporary
   home and inspects every query in full, recording each photo's first-pass score (the cascade
   with bounds that cut nothing, index/pipeline/cascade.py OPEN).
2. Fits the bounds on all of it (`fit_bounds`, margin `--margin`) and, with `--write`, stores them
   for this model and scoring regime in index/matching/cascade.json (beside the calibration).
3. Transfer protocol: the designs the queries show are split in two halves (by a hash of the
   design id; unregistered queries by a hash of the file name); bounds fitted on one half's
   queries are applied to the other half's, and the cascaded verdicts are compared with the full
   ones. Prints how many verdicts changed, how many `match` of a registered design were lost,
   uAP and R@1 of the full and the cascaded run, and the share of photos decided at the first pass.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_speed import cpu_flags, load, sample  # noqa: E402

from api.settings import engine_settings  # noqa: E402
from index.engine import Engine, Inspection  # noqa: E402
from index.evaluation.metrics import QueryOutcome, compute_metrics  # noqa: E402
from index.pipeline.cascade import (  # noqa: E402
    CASCADE_FILE,
    OPEN,
    CascadeBounds,
    CascadeTable,
    Trace,
    fit_bounds,
    load_cascade,
)
from index.store.registry import DesignFields  # noqa: E402
from model.embedder import PRECISIONS  # noqa: E402
from model.runtime import machine_precision  # noqa: E402

BATCH = 32


def half_of(key: str) -> int:
    """Return 0 or 1, a stable split of design ids (and of file names for unregistered queries)."""
    return hashlib.sha256(key.encode()).digest()[0] % 2


def inspect(engine: Engine, paths: list[Path]) -> tuple[list[Inspection], float]:
    """Inspect photos as `lanternguard scan` does; return the results and photos/s."""
    start = time.perf_counter()
    results = [r for batch in engine.inspect_batches(paths, BATCH) for r in batch]
    return results, len(paths) / (time.perf_counter() - start)


def trace(result: Inspection) -> Trace:
    """Return what a full inspection says about where the cascade could cut."""
    verified = [
        (m.appearance, m.inliers, m.verification.mirrored)
        for m in result.matches
        if m.verification is not None
    ]
    return Trace(float(result.first_pass), result.verdict.value, verified)


def verifications(results: list[Inspection]) -> float:
    """Return the mean number of candidates verified per photo (a mirrored retry counts once)."""
    return sum(sum(m.verification is not None for m in r.matches) for r in results) / max(1, len(results))


def metrics(results: list[Inspection], truths: list[str | None]) -> str:
    """Return uAP and R@1 of a run."""
    m = compute_metrics(
        [
            QueryOutcome(truth, [(x.design.design_id, x.score) for x in r.matches], r.verdict.value)
            for r, truth in zip(results, truths, strict=True)
        ]
    )
    return f"uAP {m.uap:.4f}, R@1 {m.recall_at_1:.4f}"


def fit(args: argparse.Namespace, precision: str, job: dict) -> None:
    """Fit, check and (with --write) store the bounds of the default model in `precision`."""
    designs = [(DesignFields(design_id=d), [Path(p) for p in paths]) for d, paths in job["designs"]]
    paths = [Path(p) for p, _ in job["queries"]]
    truths = [truth for _, truth in job["queries"]]
    halves = [half_of(truth if truth is not None else Path(p).name) for p, truth in job["queries"]]
    views = sum(len(p) for _, p in designs)
    print(
        f"{precision}: CPU flags {cpu_flags()}; {views} views, {len(paths)} queries; load {load()}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="fit-cascade-") as home:
        base = engine_settings(home)
        base = replace(base, embedder=replace(base.embedder, precision=precision))
        engine = Engine(base)
        embedder, model = engine.embedder, engine.model
        try:
            list(engine.register_many(designs))
            regime = engine.regime
        finally:
            engine.close()
        open_table = CascadeTable({model: {"whitened": OPEN, "raw": OPEN}})
        engine = Engine(replace(base, cascade=open_table), embedder)
        try:
            full, full_rate = inspect(engine, paths)
        finally:
            engine.close()
        traces = [trace(r) for r in full]
        if args.traces:
            rows = [
                {
                    "image": p.name,
                    "truth": truth,
                    "first_pass": t.first_pass,
                    "verdict": t.verdict,
                    "matches": [(m.design.design_id, m.appearance, m.inliers, m.score) for m in r.matches],
                    "verified": t.candidates,
                }
                for p, truth, t, r in zip(paths, truths, traces, full, strict=True)
            ]
            args.traces.with_name(f"{args.traces.stem}-{precision}{args.traces.suffix}").write_text(
                json.dumps(rows)
            )
        print(
            f"full inspection: {full_rate:.2f} photos/s, {metrics(full, truths)} (load {load()})", flush=True
        )
        fitted: dict[int, CascadeBounds] = {}
        for half in (0, 1):
            mine = [t for t, h in zip(traces, halves, strict=True) if h == half]
            fitted[half] = fit_bounds(mine, base.mirror_retry_below, args.margin, f"half {half}")
            print(f"bounds fitted on half {half} ({len(mine)} queries): {fitted[half]}", flush=True)
        cascaded: list[Inspection | None] = [None] * len(paths)
        rates = []
        for half in (0, 1):
            other = [i for i, h in enumerate(halves) if h != half]
            table = CascadeTable({model: {regime: fitted[half]}})
            engine = Engine(replace(base, cascade=table), embedder)
            try:
                results, rate = inspect(engine, [paths[i] for i in other])
            finally:
                engine.close()
            rates.append(rate)
            for i, result in zip(other, results, strict=True):
                cascaded[i] = result
        changed = [i for i in range(len(paths)) if cascaded[i].verdict != full[i].verdict]
        lost = [i for i in changed if truths[i] is not None and full[i].verdict.value == "match"]
        first_only = sum(
            1
            for i in range(len(paths))
            if cascaded[i].first_pass is not None
            and cascaded[i].first_pass < fitted[1 - halves[i]].first_pass
        )
        transfer = (
            f"{len(changed)} of {len(paths)} verdicts changed, {len(lost)} match of a registered design lost"
        )
        print(
            f"transfer protocol (bounds of one half applied to the other): {transfer}; "
            f"{first_only} photos decided at the first pass; verifications per photo "
            f"{verifications(full):.2f} full, {verifications(cascaded):.2f} cascaded; "
            f"cascaded {metrics(cascaded, truths)}; "
            f"{min(rates):.2f}-{max(rates):.2f} photos/s (load {load()})"
        )
        for i in changed:
            print(
                f"  changed: {paths[i].name} truth={truths[i]} full={full[i].verdict.value} "
                f"cascade={cascaded[i].verdict.value} first_pass={cascaded[i].first_pass:.4f}"
            )
        bounds = fit_bounds(
            traces,
            base.mirror_retry_below,
            args.margin,
            f"scripts/fit_cascade.py on {args.benchmark.name} ({views} views, {len(paths)} queries), "
            f"margin {args.margin}, {time.strftime('%Y-%m-%d')}; transfer protocol: {transfer}",
        )
        print(f"bounds fitted on all ({regime}, {model}): {json.dumps(bounds.to_json())}", flush=True)
        if args.write:
            target = ROOT / "index" / "matching" / CASCADE_FILE
            recipe = model.split("|", 1)[1]
            kept = {m: r for m, r in load_cascade(target).models.items() if m.split("|", 1)[-1] == recipe}
            table = CascadeTable(kept).with_bounds(model, regime, bounds)
            target.write_text(json.dumps(table.to_json(), indent=2, sort_keys=True) + "\n")
            print(f"written to {target} (bounds of other local-feature or score recipes dropped)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--benchmark", type=Path, default=ROOT.parent / "shared/benchmark/dev")
    parser.add_argument("--views", type=int, default=100_000, help="reference views (default: all)")
    parser.add_argument("--queries", type=int, default=100_000, help="queries (default: all)")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--margin", type=float, default=0.05, help="subtracted from each measured bound")
    parser.add_argument(
        "--precisions",
        nargs="+",
        choices=sorted(PRECISIONS),
        default=sorted({"float32", machine_precision()}, reverse=True),
        help="fit each (default: float32, and bfloat16 where this CPU runs it natively)",
    )
    parser.add_argument(
        "--write", action="store_true", help=f"store the bounds in index/matching/{CASCADE_FILE}"
    )
    parser.add_argument(
        "--traces", type=Path, help="also write each query's trace as JSON, NAME-PRECISION.json (analysis)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR, format="%(message)s")
    job = sample(args.benchmark, args.views, args.queries, args.seed)
    for precision in args.precisions:
        fit(args, precision, job)


if __name__ == "__main__":
    main()
