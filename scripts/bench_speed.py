"""Speed at equal accuracy: the engine before the speed work against today's, side by side, one run.

nice -n 10 .venv/bin/python scripts/bench_speed.py --benchmark ../shared/benchmark/dev

On a sample of the dev benchmark (every design a sampled query shows, other designs up to `--views`
reference views, `--queries` queries, half of them of registered designs), each engine runs in its
own process, one after the other, on the same photos, with the model loaded and warmed first:
  baseline  the engine as of commit `--baseline` (the commit before the speed work), taken with
            `git archive` into a temporary folder and imported from there;
  torch     today's code with the speed-ups that are settings turned off (torch trunk, no
            cascade): what the settings alone give back;
  new       today's engine as `lanternguard` runs it;
  int8      today's engine with the opt-in int8 trunk (LANTERNGUARD_RUNTIME=onnx-int8; quantized while
            the engine starts, before anything is timed; its own fingerprint, so no cascade bounds);
            only when asked for (`--engines ... int8`).
Each row: registration views/s (register_many, as `register --manifest`; the registry's
self-calibration at its end, which the baseline engine lacks, is timed apart too: its seconds, and
views/s and CPU ms per view without it), scan photos/s
(inspect_batches of 32, as `lanternguard scan`), single-inspection p50/p95 in-process
(Engine.inspect, one photo after the other, warm), CPU utilisation (CPU seconds / wall / cores),
uAP and R@1 of the sample (index/evaluation/metrics.py), and against the baseline: verdicts that
changed, and dev positives that were `match` and no longer are. The floor: a plain loop of one
photo at a time through MobileNetV2 (decode, 224 px, trunk, GeM), float32 torch.
Every engine runs with LANTERNGUARD_PRECISION (float32 unless the environment says otherwise).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BATCH = 32
ENGINES = ("baseline", "torch", "new", "int8")


def cpu_flags() -> str:
    """Return the CPU's vector flags that decide the trunk's speed (avx2, avx512*, amx*)."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split("flags", 2)[1].split("\n", 1)[0].split())
    except (OSError, IndexError):
        return "unknown"
    wanted = sorted(
        f for f in flags if f in {"avx2", "fma", "avx512f", "avx512_bf16", "amx_tile", "avx512_vnni"}
    )
    return " ".join(wanted) or "none of avx2/avx512/amx"


def load() -> str:
    """Return the load averages (1, 5, 15 minutes)."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def sample(benchmark: Path, views: int, queries: int, seed: int) -> dict:
    """Return a deterministic sample: designs (id, image paths) and queries (path, design or None)."""
    designs: dict[str, list[str]] = {}
    with (benchmark / "references.csv").open(newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            designs.setdefault(row["design_id"], []).append(str(benchmark / row["image"]))
    with (benchmark / "queries.csv").open(newline="", encoding="utf-8-sig") as handle:
        rows = [(str(benchmark / r["image"]), r["design_id"] or None) for r in csv.DictReader(handle)]
    rng = random.Random(seed)
    positives = [r for r in rows if r[1] is not None]
    negatives = [r for r in rows if r[1] is None]
    rng.shuffle(positives)
    rng.shuffle(negatives)
    chosen = positives[: queries // 2] + negatives[: queries - queries // 2]
    rng.shuffle(chosen)
    shown = {truth for _, truth in chosen if truth is not None}
    others = [d for d in designs if d not in shown]
    rng.shuffle(others)
    picked = [d for d in designs if d in shown]
    total = sum(len(designs[d]) for d in picked)
    for design in others:
        if total >= views:
            break
        picked.append(design)
        total += len(designs[design])
    return {"designs": [(d, designs[d]) for d in picked], "queries": chosen}


def baseline_tree(revision: str, folder: Path) -> Path:
    """Unpack the repository at `revision` into `folder` (git archive); return it."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / "baseline.tar"
    subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", "-o", str(archive), revision], check=True
    )
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "code", filter="data")
    return folder / "code"


def timed_seconds(work) -> tuple[float, float, object]:
    """Run `work`; return (wall s, CPU s of the process, result)."""
    before, start = os.times(), time.perf_counter()
    result = work()
    after, wall = os.times(), time.perf_counter() - start
    return wall, (after.user - before.user) + (after.system - before.system), result


def timed(work) -> tuple[float, float, object]:
    """Run `work`; return (wall s, CPU utilisation of all cores, result)."""
    wall, cpu, result = timed_seconds(work)
    return wall, cpu / wall / (os.cpu_count() or 1), result


def time_self_calibration(engine) -> dict[str, float]:
    """Make `engine.recalibrate` add its wall and CPU seconds to the dict returned.

    Why: `register_many` ends with the registry's self-calibration (issue 11), which the baseline
    engine does not have; timing it apart gives registration alone, comparable across engines.
    """
    spent = {"wall": 0.0, "cpu": 0.0}
    original = getattr(engine, "recalibrate", None)
    if original is None:
        return spent

    def recalibrate(*args, **kwargs):
        wall, cpu, result = timed_seconds(lambda: original(*args, **kwargs))
        spent["wall"] += wall
        spent["cpu"] += cpu
        return result

    engine.recalibrate = recalibrate
    return spent


def worker(args: argparse.Namespace) -> None:
    """Measure one engine (imported from `--code`) on the sample; write the figures as JSON."""
    sys.path.insert(0, str(args.code))
    from api.settings import engine_settings
    from index.engine import Engine, Inspection
    from index.store.registry import DesignFields

    job = json.loads(args.sample.read_text())
    designs = [(DesignFields(design_id=d), [Path(p) for p in paths]) for d, paths in job["designs"]]
    queries = [Path(p) for p, _ in job["queries"]]
    views = sum(len(paths) for _, paths in designs)
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as home:
        engine = Engine(engine_settings(home))
        try:
            warm = Engine(engine_settings(Path(home) / "warm"), engine.embedder)
            list(warm.register_many(designs[:2]))
            warm.inspect(queries[0])
            warm.close()
            selfcal = time_self_calibration(engine)
            reg_wall, reg_cpu, _ = timed(lambda: list(engine.register_many(designs)))
            scan_wall, scan_cpu, results = timed(
                lambda: [r for batch in engine.inspect_batches(queries, BATCH) for r in batch]
            )
            latencies = []
            for path in queries[: args.latency]:
                start = time.perf_counter()
                engine.inspect(path)
                latencies.append((time.perf_counter() - start) * 1000)
        finally:
            engine.close()
    outcomes = [
        {
            "verdict": r.verdict.value,
            "predictions": [(m.design.design_id, m.score) for m in r.matches],
        }
        if isinstance(r, Inspection)
        else {"verdict": "rejected", "predictions": []}
        for r in results
    ]
    latencies.sort()
    figures = {
        "fingerprint": engine.fingerprint,
        "views": views,
        "views_per_s": views / reg_wall,
        "register_cpu": reg_cpu,
        "selfcal_s": selfcal["wall"],
        "selfcal_cpu_s": selfcal["cpu"],
        "register_wall_s": reg_wall,
        "photos": len(queries),
        "photos_per_s": len(queries) / scan_wall,
        "scan_cpu": scan_cpu,
        "p50_ms": latencies[len(latencies) // 2] if latencies else None,
        "p95_ms": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else None,
        "outcomes": outcomes,
    }
    args.out.write_text(json.dumps(figures))


def floor(paths: list[str]) -> float:
    """Return images/s of a plain loop: one photo at a time through MobileNetV2, float32 torch."""
    import numpy as np
    import torch
    from PIL import Image

    from model.backbones import load_backbone
    from model.images import load_image
    from model.pooling import gem

    backbone = load_backbone("mobilenet-v2")
    mean = torch.tensor(backbone.mean).view(1, 3, 1, 1)
    std = torch.tensor(backbone.std).view(1, 3, 1, 1)

    def one(path: str) -> None:
        image = load_image(Path(path)).resize((224, 224), Image.Resampling.BILINEAR)
        pixels = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)[None].float()
        with torch.inference_mode():
            gem(backbone.trunk((pixels / 255.0 - mean) / std)[0], 3.0)

    one(paths[0])
    wall, _, _ = timed(lambda: [one(p) for p in paths])
    return len(paths) / wall


def table(figures: dict[str, dict], queries: list, floor_rate: float) -> str:
    """Return the engines side by side as a Markdown table."""
    from index.evaluation.metrics import QueryOutcome, compute_metrics

    def metrics(outcomes: list[dict]):
        return compute_metrics(
            [
                QueryOutcome(truth=truth, predictions=o["predictions"], verdict=o["verdict"])
                for (_, truth), o in zip(queries, outcomes, strict=True)
            ]
        )

    base = figures.get("baseline")
    cores = os.cpu_count() or 1
    header = ["engine", "fingerprint", "register views/s", "CPU", "CPU ms/view"]
    header += ["of which self-calibration s", "views/s without it", "CPU ms/view without it"]
    header += ["scan photos/s", "CPU"]
    header += ["CPU ms/photo", "p50 ms", "p95 ms"]
    header += ["uAP", "R@1", "verdicts changed", "match lost (positives)"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for name, f in figures.items():
        m = metrics(f["outcomes"])
        changed = lost = "-"
        if base is not None and name != "baseline":
            pairs = list(zip(base["outcomes"], f["outcomes"], strict=True))
            changed = str(sum(a["verdict"] != b["verdict"] for a, b in pairs))
            lost = str(
                sum(
                    a["verdict"] == "match" and b["verdict"] != "match"
                    for (a, b), (_, truth) in zip(pairs, queries, strict=True)
                    if truth is not None
                )
            )
        register_cpu_s = f["register_cpu"] * cores * f["register_wall_s"]
        alone_wall = f["register_wall_s"] - f["selfcal_s"]
        cells = [
            name,
            f["fingerprint"],
            f"{f['views_per_s']:.2f}",
            f"{f['register_cpu']:.0%}",
            f"{1000 * register_cpu_s / f['views']:.0f}",
            f"{f['selfcal_s']:.1f}",
            f"{f['views'] / alone_wall:.2f}",
            f"{1000 * (register_cpu_s - f['selfcal_cpu_s']) / f['views']:.0f}",
            f"{f['photos_per_s']:.2f}",
            f"{f['scan_cpu']:.0%}",
            f"{1000 * f['scan_cpu'] * cores / f['photos_per_s']:.0f}",
            f"{f['p50_ms']:.0f}",
            f"{f['p95_ms']:.0f}",
            f"{m.uap:.4f}",
            f"{m.recall_at_1:.4f}",
            changed,
            lost,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if floor_rate:
        lines.append(
            f"| floor: MobileNetV2 loop, 1 photo at a time, float32 torch | - | - | - | - | - | - | "
            f"- | {floor_rate:.2f} | - | - | - | - | - | - | - | - |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--benchmark", type=Path, default=ROOT.parent / "shared/benchmark/dev")
    parser.add_argument("--views", type=int, default=560, help="reference views registered (>= 512 whitens)")
    parser.add_argument("--queries", type=int, default=240, help="queries scanned, half of them positives")
    parser.add_argument("--latency", type=int, default=40, help="photos inspected one at a time")
    parser.add_argument(
        "--floor", type=int, default=100, help="photos through the MobileNetV2 loop (0: skip)"
    )
    parser.add_argument("--baseline", default="e10ab97", help="the commit before the speed work")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES[:3]))
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--json", type=Path, help="also write the figures (without outcomes) as JSON")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--code", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--sample", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    os.environ.setdefault("LANTERNGUARD_PRECISION", "float32")
    job = sample(args.benchmark, args.views, args.queries, args.seed)
    views = sum(len(p) for _, p in job["designs"])
    print(
        f"CPU flags: {cpu_flags()}; {os.cpu_count()} cores; LANTERNGUARD_PRECISION="
        f"{os.environ['LANTERNGUARD_PRECISION']}; sample: {len(job['designs'])} designs, {views} views, "
        f"{len(job['queries'])} queries; load average at the start {load()}",
        flush=True,
    )
    figures: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as scratch:
        folder = Path(scratch)
        (folder / "sample.json").write_text(json.dumps(job))
        for name in args.engines:
            code = baseline_tree(args.baseline, folder) if name == "baseline" else ROOT
            env = dict(os.environ)
            if name == "torch":
                env.update(LANTERNGUARD_RUNTIME="torch", LANTERNGUARD_CASCADE="off")
            if name == "int8":
                env.update(LANTERNGUARD_RUNTIME="onnx-int8")
            out = folder / f"{name}.json"
            command = [sys.executable, __file__, "--worker", "--code", str(code)]
            command += [
                "--sample",
                str(folder / "sample.json"),
                "--out",
                str(out),
                "--latency",
                str(args.latency),
            ]
            subprocess.run(command, check=True, env=env, cwd=code)
            figures[name] = json.loads(out.read_text())
            print(
                f"{name}: {figures[name]['views_per_s']:.2f} views/s, {figures[name]['photos_per_s']:.2f} "
                f"photos/s (load {load()})",
                flush=True,
            )
    floor_rate = floor([p for p, _ in job["queries"][: args.floor]]) if args.floor else 0.0
    print(table(figures, job["queries"], floor_rate))
    print(f"load average at the end {load()}")
    if args.json:
        slim = {k: {x: y for x, y in v.items() if x != "outcomes"} for k, v in figures.items()}
        args.json.write_text(
            json.dumps({"cpu_flags": cpu_flags(), "engines": slim, "floor": floor_rate}, indent=2)
        )


if __name__ == "__main__":
    main()
