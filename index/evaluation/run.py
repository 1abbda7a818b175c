"""Benchmark evaluation: register references in a throw-away home, inspect queries, score the run."""

from __future__ import annotations

import csv
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from index.batch.inputs import read_manifest
from index.engine import Engine, EngineSettings, Inspection, RegistrationFailed
from index.errors import InvalidInput
from index.evaluation.metrics import Metrics, QueryOutcome, compute_metrics
from index.evaluation.transfer import judged_figures
from index.matching.verdict import Verdict
from model.embedder import Embedder

QUERY_BATCH = 32


@dataclass(frozen=True)
class EvaluationReport:
    """The benchmark metrics of one run, with its size and speed."""

    metrics: Metrics
    images_per_s: float
    references: int
    queries: int
    errors: int
    outcomes: list[QueryOutcome] = field(default_factory=list, repr=False)
    calibration: dict | None = None

    def as_json(self) -> dict:
        """Return the report with the benchmark's output keys (a stable contract).

        `verdicts` (added): per verdict level the precision, recall and share of unregistered
        photos under the thresholds the run was judged with (see index.evaluation.transfer);
        `candidate_recall` (added): the share of photos of a registered design whose design is
        among the returned (verified) candidates at all, whatever its rank; `calibration`
        (added): the thresholds the run judged with, where they came from, and the registry's
        self-calibration (Engine.calibration_info).
        """
        positives = [o for o in self.outcomes if o.truth is not None]
        found = sum(1 for o in positives if any(d == o.truth for d, _ in o.predictions))
        m = self.metrics
        return {
            "uAP": round(m.uap, 4),
            "R@1": round(m.recall_at_1, 4),
            "R@P90": round(m.recall_at_p90, 4),
            "thr@P90": None if m.threshold_at_p90 is None else round(m.threshold_at_p90, 4),
            "false_match_rate": round(m.false_match_rate, 4),
            "images_per_s": round(self.images_per_s, 2),
            "references": self.references,
            "queries": self.queries,
            "errors": self.errors,
            "candidate_recall": round(found / len(positives), 4) if positives else 0.0,
            "verdicts": {
                name: figures.as_json()
                for name, figures in judged_figures([(o, Verdict(o.verdict)) for o in self.outcomes]).items()
            },
            "calibration": self.calibration,
        }


def read_queries(path: Path) -> list[tuple[Path, str | None]]:
    """Read a queries CSV (image,design_id; empty design_id = unregistered). Raises InvalidInput."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except FileNotFoundError as exc:
        raise InvalidInput(f"{path}: no such file") from exc
    if rows and not {"image", "design_id"} <= set(rows[0]):
        raise InvalidInput(f"{path}: needs the columns image,design_id")
    return [(path.parent / r["image"], (r["design_id"] or "").strip() or None) for r in rows]


def _outcome(result: Inspection, truth: str | None) -> QueryOutcome:
    predictions = [(m.design.design_id, m.score) for m in result.matches]
    return QueryOutcome(truth=truth, predictions=predictions, verdict=result.verdict.value)


def evaluate(
    references: Path,
    queries: Path,
    settings: EngineSettings,
    embedder: Embedder | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    on_inspection: Callable[[int, Inspection], None] | None = None,
) -> EvaluationReport:
    """Run the benchmark protocol in a temporary home (settings.home is replaced).

    `progress(stage, done, total)` is called as references and queries are handled;
    `on_inspection(query_index, inspection)` with every query's full result (for ablations).
    Returns the EvaluationReport. Raises InvalidInput for malformed CSVs.
    """
    designs = read_manifest(references)
    query_rows = read_queries(queries)
    n_refs = sum(len(paths) for _, paths in designs)
    with tempfile.TemporaryDirectory(prefix="lanternguard-eval-") as home:
        engine = Engine(replace(settings, home=Path(home)), embedder)
        try:
            start = time.perf_counter()
            done = 0

            def registered(count: int) -> None:
                nonlocal done
                done += count
                if progress:
                    progress("references", done, n_refs)

            failures = sum(
                isinstance(r, RegistrationFailed) for r in engine.register_many(designs, progress=registered)
            )
            outcomes: list[QueryOutcome] = []
            batches = engine.inspect_batches([p for p, _ in query_rows], QUERY_BATCH)
            for results in batches:
                for result in results:
                    truth = query_rows[len(outcomes)][1]
                    if isinstance(result, Inspection):
                        if on_inspection:
                            on_inspection(len(outcomes), result)
                        outcomes.append(_outcome(result, truth))
                    else:
                        failures += 1
                        outcomes.append(QueryOutcome(truth=truth, predictions=[], verdict="no_match"))
                if progress:
                    progress("queries", len(outcomes), len(query_rows))
            elapsed = time.perf_counter() - start
            calibration = engine.calibration_info()
        finally:
            engine.close()
    return EvaluationReport(
        metrics=compute_metrics(outcomes),
        images_per_s=(n_refs + len(query_rows)) / elapsed if elapsed > 0 else 0.0,
        references=n_refs,
        queries=len(query_rows),
        errors=failures,
        outcomes=outcomes,
        calibration=calibration,
    )
