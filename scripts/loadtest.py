"""Load test on loopback: concurrent inspections while designs register, then a saturated server.

    .venv/bin/python scripts/loadtest.py [--clients 16] [--duration 60] [--max-requests 4000] [--json]

It starts `lanternguard serve` itself on 127.0.0.1 with a temporary home, registers `--designs`
designs, then runs `--clients` inspector clients for `--duration` seconds (or `--max-requests`
requests) while a firm client registers `--register` more designs one after the other. It reports
throughput, p50/p95/p99 latency and errors, checks that every acknowledged registration and
inspection is stored (also after a restart), and finally restarts the server with a small
concurrency limit and twice the clients to show that it sheds load with 503 + Retry-After.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.services import Services  # noqa: E402
from api.settings import ServiceSettings  # noqa: E402
from index.service.keys import Role  # noqa: E402
from tests.conftest import draw_design, jpeg_bytes  # noqa: E402

API = "/api/v1"


@dataclass
class Tally:
    """Outcomes and latencies of one kind of request."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    spans: list[tuple[float, float]] = field(default_factory=list)

    def add(self, outcome: str, started: float, ended: float) -> None:
        """Count one request."""
        self.statuses[outcome] = self.statuses.get(outcome, 0) + 1
        self.latencies.append(ended - started)
        self.spans.append((started, ended))

    def summary(self, seconds: float, ok: str) -> dict[str, Any]:
        """Return count, throughput, latency percentiles (ms) and error count."""
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            return round(1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1) if ordered else 0.0

        errors = sum(n for k, n in self.statuses.items() if k != ok)
        return {
            "requests": len(ordered), "per_s": round(len(ordered) / seconds, 2), "p50_ms": pct(0.50),
            "p95_ms": pct(0.95), "p99_ms": pct(0.99), "max_ms": pct(1.0), "errors": errors,
            "statuses": dict(sorted(self.statuses.items())),
        }  # fmt: skip


class Server:
    """`lanternguard serve` in a subprocess on a free loopback port."""

    def __init__(self, home: Path, env: dict[str, str] | None = None, cwd: Path = ROOT) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "api.cli", "serve", "--home", str(home), "--port", str(self.port)]
        self.log = (home.parent / f"server-{self.port}.log").open("w")
        # every simulated client shares one key per role, so the per-key upload cap is lifted
        shared_keys = {"LANTERNGUARD_MAX_UPLOADS_PER_KEY": "1000"}
        self.process = subprocess.Popen(
            command, cwd=cwd, env={**os.environ, **shared_keys, **(env or {})}, stdout=self.log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def wait_ready(self, timeout_s: float = 180) -> None:
        """Wait until /health/ready answers 200. Raises RuntimeError when it does not in time."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}; see {self.log.name}")
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("the server did not become ready in time")

    def stop(self) -> None:
        """Stop the server (SIGTERM, as an operator would) and wait for it."""
        self.process.terminate()
        self.process.wait(60)
        self.log.close()


def issue_keys(home: Path) -> dict[str, str]:
    """Issue an inspector and a firm key on the home (before the server starts)."""
    services = Services(ServiceSettings(home=home))
    try:
        return {
            "inspector": services.issue_key(Role.INSPECTOR, label="load-inspector").secret,
            "firm": services.issue_key(Role.FIRM, "Load Test Lanterns", label="load-firm").secret,
        }
    finally:
        services.close()


def view(seed: int) -> bytes:
    """Return the registered view of design `seed`."""
    return jpeg_bytes(draw_design(5000 + seed))


def photo(seed: int) -> bytes:
    """Return a photo of design `seed`: smaller and recompressed harder than its view."""
    return jpeg_bytes(draw_design(5000 + seed).resize((288, 216)), quality=75)


async def register(client: httpx.AsyncClient, key: str, seed: int) -> tuple[str, str | None]:
    """Register design `seed`; return the outcome and the design id when it was acknowledged."""
    files = {"images": (f"view-{seed}.jpg", view(seed), "image/jpeg")}
    data = {"registration_number": f"LOAD-{seed}", "title": f"Load lantern {seed}"}
    try:
        response = await client.post(f"{API}/designs", files=files, data=data, headers=_auth(key))
    except httpx.HTTPError as exc:
        return type(exc).__name__, None
    return str(response.status_code), response.json()["id"] if response.status_code == 201 else None


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def inspect(client: httpx.AsyncClient, key: str, data: bytes) -> tuple[str, int | None, bool]:
    """Inspect a photo; return the outcome, the inspection id, and whether a 503 said Retry-After."""
    try:
        response = await client.post(
            f"{API}/inspections", files={"image": ("p.jpg", data, "image/jpeg")}, headers=_auth(key)
        )
    except httpx.TimeoutException:
        return "timeout", None, False
    except httpx.HTTPError as exc:
        return type(exc).__name__, None, False
    ok = response.status_code == 201
    return str(response.status_code), response.json()["id"] if ok else None, "retry-after" in response.headers


@dataclass
class Budget:
    """Bounds a phase by time and by request count."""

    deadline: float
    left: int

    def take(self) -> bool:
        """Return whether one more request may start."""
        if time.monotonic() >= self.deadline or self.left <= 0:
            return False
        self.left -= 1
        return True


async def mixed_phase(url: str, keys: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    """Inspect with `clients` clients while one firm client registers designs one after the other."""
    budget = Budget(time.monotonic() + args.duration, args.max_requests)
    inspections, registrations = Tally(), Tally()
    acknowledged: list[str] = []
    inspection_ids: list[int] = []
    rng = random.Random(0)
    photos = [photo(seed) for seed in range(args.designs)]

    async def inspector(client: httpx.AsyncClient) -> None:
        while budget.take():
            started = time.monotonic()
            outcome, inspection_id, _ = await inspect(client, keys["inspector"], rng.choice(photos))
            inspections.add(outcome, started, time.monotonic())
            if inspection_id is not None:
                inspection_ids.append(inspection_id)

    async def registrar(client: httpx.AsyncClient) -> None:
        for seed in range(args.designs, args.designs + args.register):
            if time.monotonic() >= budget.deadline:
                break
            started = time.monotonic()
            outcome, design_id = await register(client, keys["firm"], seed)
            registrations.add(outcome, started, time.monotonic())
            if design_id:
                acknowledged.append(design_id)

    limits = httpx.Limits(max_connections=args.clients + 2)
    async with httpx.AsyncClient(base_url=url, timeout=args.timeout, limits=limits) as client:
        start = time.monotonic()
        await asyncio.gather(registrar(client), *(inspector(client) for _ in range(args.clients)))
        seconds = time.monotonic() - start
    during = [s for s in inspections.spans if any(a <= s[1] and s[0] <= b for a, b in registrations.spans)]
    return {
        "seconds": round(seconds, 1),
        "inspections": inspections.summary(seconds, "201"),
        "registrations": registrations.summary(seconds, "201"),
        "inspections_answered_during_registrations": len(during),
        "_designs": acknowledged,
        "_inspections": inspection_ids,
    }


async def verify_writes(
    url: str, keys: dict[str, str], designs: list[str], inspections: int
) -> dict[str, int]:
    """Return how many acknowledged designs and inspections the server does not have (0 and 0 wanted)."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        missing = 0
        for design_id in designs:
            response = await client.get(f"{API}/designs/{design_id}", headers=_auth(keys["firm"]))
            missing += response.status_code != 200
        listed = await client.get(f"{API}/inspections?limit=1", headers=_auth(keys["inspector"]))
        stored = int(listed.json()["count"])
    return {"designs_lost": missing, "inspections_lost": max(0, inspections - stored)}


async def saturation_phase(url: str, keys: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    """Fire inspections from twice the clients at a server with a small limit; count 503s and timeouts."""
    budget = Budget(time.monotonic() + args.saturate_s, args.max_requests)
    served, shed, told_to_retry = Tally(), Tally(), [0]
    data = photo(0)

    async def client_loop(client: httpx.AsyncClient) -> None:
        while budget.take():
            started = time.monotonic()
            outcome, _, retry_after = await inspect(client, keys["inspector"], data)
            (shed if outcome == "503" else served).add(outcome, started, time.monotonic())
            if outcome == "503":
                told_to_retry[0] += retry_after
                await asyncio.sleep(0.05)

    limits = httpx.Limits(max_connections=2 * args.clients + 2)
    async with httpx.AsyncClient(base_url=url, timeout=args.timeout, limits=limits) as client:
        start = time.monotonic()
        await asyncio.gather(*(client_loop(client) for _ in range(2 * args.clients)))
        seconds = time.monotonic() - start
    return {
        "seconds": round(seconds, 1),
        "served": served.summary(seconds, "201"),
        "shed": shed.summary(seconds, "503"),
        "shed_with_retry_after": told_to_retry[0],
        "timeouts": served.statuses.get("timeout", 0),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run every phase on a fresh home; return the figures."""
    work = Path(tempfile.mkdtemp(prefix="lanternguard-load-"))
    home = work / "home"
    keys = issue_keys(home)
    server = Server(home)
    try:
        server.wait_ready()
        seeded = asyncio.run(_seed(server.url, keys["firm"], args.designs))
        mixed = asyncio.run(mixed_phase(server.url, keys, args))
        designs, inspections = seeded + mixed.pop("_designs"), mixed.pop("_inspections")
        mixed["lost"] = asyncio.run(verify_writes(server.url, keys, designs, len(inspections)))
    finally:
        server.stop()
    server = Server(home)
    try:
        server.wait_ready()
        mixed["lost_after_restart"] = asyncio.run(verify_writes(server.url, keys, designs, len(inspections)))
    finally:
        server.stop()
    limit = {"LANTERNGUARD_MAX_IN_FLIGHT": str(args.saturate_limit), "LANTERNGUARD_QUEUE_TIMEOUT_S": "1",
             "LANTERNGUARD_RETRY_AFTER_S": "1"}  # fmt: skip
    server = Server(home, limit)
    try:
        server.wait_ready()
        saturated = asyncio.run(saturation_phase(server.url, keys, args))
    finally:
        server.stop()
    saturated = {"limit": args.saturate_limit, "clients": 2 * args.clients, **saturated}
    return {"clients": args.clients, "designs": len(designs), "mixed": mixed, "saturated": saturated}


async def _seed(url: str, key: str, count: int) -> list[str]:
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        results = [await register(client, key, seed) for seed in range(count)]
    failed = [outcome for outcome, design_id in results if design_id is None]
    if failed:
        raise RuntimeError(f"seeding designs failed: {failed}")
    return [design_id for _, design_id in results if design_id]


def main(argv: list[str] | None = None) -> int:
    """Run the load test and print its figures; exit 1 when a write was lost or a request errored."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=16, help="concurrent inspector clients")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of the mixed phase")
    parser.add_argument("--max-requests", type=int, default=4000, help="most requests per phase")
    parser.add_argument("--designs", type=int, default=12, help="designs registered before the load")
    parser.add_argument("--register", type=int, default=24, help="designs registered during the load")
    parser.add_argument("--timeout", type=float, default=120.0, help="client timeout in seconds")
    parser.add_argument("--saturate-s", type=float, default=20.0, help="seconds of the saturation phase")
    parser.add_argument("--saturate-limit", type=int, default=2, help="LANTERNGUARD_MAX_IN_FLIGHT then")
    parser.add_argument("--json", action="store_true")
    figures = run(parser.parse_args(argv))
    print(json.dumps(figures, indent=None if "--json" in (argv or sys.argv) else 2))
    mixed, saturated = figures["mixed"], figures["saturated"]
    lost = sum(mixed["lost"].values()) + sum(mixed["lost_after_restart"].values())
    errors = mixed["inspections"]["errors"] + mixed["registrations"]["errors"] + saturated["served"]["errors"]
    return 1 if lost or errors else 0


if __name__ == "__main__":
    sys.exit(main())
