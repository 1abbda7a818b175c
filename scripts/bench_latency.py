"""Latency of one inspection over HTTP: upload to answer, the model warm, one request at a time.

LANTERNGUARD_PRECISION=float32 nice -n 10 .venv/bin/python scripts/bench_latency.py

For each engine in `--engines` (the baseline: the code of commit `--baseline`, unpacked by git
archive), registers a sample of the dev benchmark (as scripts/bench_speed.py picks it) in its own
temporary home with that engine's code and issues an inspector key there, then starts
`lanternguard serve` of that code on 127.0.0.1 on that home, waits until it is ready, sends
`--warm` inspections to warm the model, then `--requests` dev queries one after the other
(POST /api/v1/inspections, multipart, an inspector's key) and prints p50/p95/max in ms with the
CPU flags and the load. Every server reads LANTERNGUARD_PRECISION (float32 unless set).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from bench_speed import baseline_tree, cpu_flags, load, sample

ROOT = Path(__file__).resolve().parents[1]


def prepare(args: argparse.Namespace) -> None:
    """Worker: with the code under `--code`, register the sample in `--home`; write an inspector key."""
    sys.path.insert(0, str(args.code))
    from api.services import Services
    from api.settings import ServiceSettings, engine_settings
    from index.engine import Engine
    from index.service.keys import Role
    from index.store.registry import DesignFields

    job = json.loads(args.sample.read_text())
    engine = Engine(engine_settings(args.home))
    try:
        designs = [(DesignFields(design_id=d), [Path(p) for p in paths]) for d, paths in job["designs"]]
        list(engine.register_many(designs))
    finally:
        engine.close()
    services = Services(ServiceSettings(home=args.home))
    try:
        args.out.write_text(services.issue_key(Role.INSPECTOR, label="latency").secret)
    finally:
        services.close()


def percentile(ordered: list[float], p: float) -> float:
    """Return the p-quantile (nearest rank) of sorted values."""
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def measure(url: str, key: str, photos: list[Path], warm: int) -> list[float]:
    """Return the latencies (ms) of inspecting each photo once, one request at a time."""
    headers = {"Authorization": f"Bearer {key}"}
    latencies = []
    with httpx.Client(base_url=url, timeout=120) as client:
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
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--code", "--home", "--sample", "--out"):
        parser.add_argument(hidden, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        prepare(args)
        return
    sys.path.insert(0, str(ROOT))
    from loadtest import Server

    os.environ.setdefault("LANTERNGUARD_PRECISION", "float32")
    job = sample(args.benchmark, args.views, args.requests * 2, args.seed)
    photos = [Path(p) for p, _ in job["queries"]][: args.requests]
    print(
        f"CPU flags: {cpu_flags()}; {os.cpu_count()} cores; LANTERNGUARD_PRECISION="
        f"{os.environ['LANTERNGUARD_PRECISION']}; load {load()}",
        flush=True,
    )
    rows = []
    views = sum(len(paths) for _, paths in job["designs"])
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as scratch:
        folder = Path(scratch)
        (folder / "sample.json").write_text(json.dumps(job))
        for name in args.engines:
            code = baseline_tree(args.baseline, folder / name) if name == "baseline" else ROOT
            home, key = folder / name / "home", folder / name / "key"
            command = [sys.executable, __file__, "--prepare", "--code", str(code), "--home", str(home)]
            command += ["--sample", str(folder / "sample.json"), "--out", str(key)]
            subprocess.run(command, check=True, cwd=code)
            server = Server(home, cwd=code)
            try:
                server.wait_ready()
                latencies = measure(server.url, key.read_text(), photos, args.warm)
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
