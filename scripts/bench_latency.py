"""Latency of one inspection over HTTP: upload to answer, the model warm, one request at a time.

LANTERNGUARD_PRECISION=float32 nice -n 10 .venv/bin/python scripts/bench_latency.py

Registers a sample of the dev benchmark (as scripts/bench_speed.py picks it) in a temporary home,
then, for each engine in `--engines`, starts `lanternguard serve` on 127.0.0.1 on that home (the
baseline: the code of commit `--baseline`, unpacked by git archive), waits until it is ready, sends
`--warm` inspections to warm the model, then `--requests` dev queries one after the other
(POST /api/v1/inspections, multipart, an inspector's key) and prints p50/p95/max in ms with the
CPU flags and the load. Every server reads LANTERNGUARD_PRECISION (float32 unless set).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_speed import baseline_tree, cpu_flags, load, sample  # noqa: E402
from loadtest import Server, issue_keys  # noqa: E402

from api.settings import engine_settings  # noqa: E402
from index.engine import Engine  # noqa: E402
from index.store.registry import DesignFields  # noqa: E402


def percentile(ordered: list[float], p: float) -> float:
    """Return the p-quantile (nearest rank) of sorted values."""
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def measure(server: Server, key: str, photos: list[Path], warm: int) -> list[float]:
    """Return the latencies (ms) of inspecting each photo once, one request at a time."""
    headers = {"Authorization": f"Bearer {key}"}
    latencies = []
    with httpx.Client(base_url=server.url, timeout=120) as client:
        for i, path in enumerate([*photos[:warm], *photos]):
            data = path.read_bytes()
            start = time.perf_counter()
            response = client.post(
                "/api/v1/inspections", files={"image": (path.name, data, "image/jpeg")}, headers=headers
            )
            elapsed = (time.perf_counter() - start) * 1000
            if response.status_code != 201:
                raise RuntimeError(f"inspection answered {response.status_code}: {response.text[:300]}")
            if i >= warm:
                latencies.append(elapsed)
    return sorted(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--benchmark", type=Path, default=ROOT.parent / "shared/benchmark/dev")
    parser.add_argument("--views", type=int, default=560)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--warm", type=int, default=5)
    parser.add_argument("--baseline", default="e10ab97")
    parser.add_argument("--engines", nargs="+", choices=["baseline", "new"], default=["baseline", "new"])
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    os.environ.setdefault("LANTERNGUARD_PRECISION", "float32")
    job = sample(args.benchmark, args.views, args.requests * 2, args.seed)
    photos = [Path(p) for p, _ in job["queries"]][: args.requests]
    print(
        f"CPU flags: {cpu_flags()}; {os.cpu_count()} cores; LANTERNGUARD_PRECISION="
        f"{os.environ['LANTERNGUARD_PRECISION']}; load {load()}",
        flush=True,
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as scratch:
        home = Path(scratch) / "home"
        engine = Engine(engine_settings(home))
        try:
            designs = [(DesignFields(design_id=d), [Path(p) for p in paths]) for d, paths in job["designs"]]
            list(engine.register_many(designs))
            views = engine.index_size
        finally:
            engine.close()
        keys = issue_keys(home)
        for name in args.engines:
            code = baseline_tree(args.baseline, Path(scratch) / name) if name == "baseline" else ROOT
            server = Server(home, cwd=code)
            try:
                server.wait_ready()
                latencies = measure(server, keys["inspector"], photos, args.warm)
            finally:
                server.stop()
            rows.append((name, latencies))
            print(f"{name}: p50 {percentile(latencies, 0.5):.0f} ms (load {load()})", flush=True)
    print(
        f"\n{views} reference views; {len(photos)} requests each, one at a time, after {args.warm} to warm up"
    )
    print("| engine | requests | p50 ms | p95 ms | max ms |\n| --- | --- | --- | --- | --- |")
    for name, latencies in rows:
        print(
            f"| {name} | {len(latencies)} | {percentile(latencies, 0.5):.0f} | "
            f"{percentile(latencies, 0.95):.0f} | {latencies[-1]:.0f} |"
        )
    print(f"load average at the end {load()}")


if __name__ == "__main__":
    main()
