"""Crash test: SIGKILL a bulk registration at random moments, restart, verify nothing acknowledged is lost.

    .venv/bin/python scripts/crash_test.py [--designs 40] [--runs 6] [--seed 0] [--json]

Each run starts `lanternguard register --manifest M --acknowledge` on the same home and kills it with
SIGKILL a random time after a random number of newly acknowledged designs (or a random time after it
started, up to the longest run so far); the last run is left to finish. After every run the home is
surveyed as the crash left it, reopened (what a restarted service does), repaired by `check`, and
verified: every acknowledged design is there with all its views, matches its own photo first and has
its audit entry; no design is stored half; `check` finds nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.settings import engine_settings  # noqa: E402
from index.engine import Engine  # noqa: E402
from index.home.maintenance import check  # noqa: E402
from index.home.survey import survey  # noqa: E402
from index.service.audit import AuditLog  # noqa: E402
from index.store.blobs import sha256_of  # noqa: E402
from index.store.database import Database  # noqa: E402
from model.embedder import Embedder  # noqa: E402
from tests.conftest import draw_design, jpeg_bytes  # noqa: E402

VIEWS = 2


@dataclass
class Run:
    """One registration run: when it was killed, what it acknowledged, what the crash left behind."""

    number: int
    kill: str
    acknowledged: int = 0
    newly_acknowledged: int = 0
    stored_designs: int = 0
    left_by_crash: list[str] = field(default_factory=list)
    left_after_restart: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def make_dataset(folder: Path, designs: int) -> tuple[Path, dict[str, list[str]], dict[str, bytes]]:
    """Write `designs` designs of VIEWS views and a manifest; return it, each design's view hashes and
    one of its views as a photo."""
    folder.mkdir(parents=True, exist_ok=True)
    rows, hashes, photos = ["design_id,image,title,owner"], {}, {}
    for seed in range(designs):
        design_id = f"CRASH-{seed:04d}"
        hashes[design_id] = []
        for view in range(VIEWS):
            data = jpeg_bytes(draw_design(1000 + seed).rotate(6 * view, fillcolor=(128, 128, 128)))
            (folder / f"{design_id}-{view}.jpg").write_bytes(data)
            rows.append(f"{design_id},{design_id}-{view}.jpg,Crash {seed},Crash Test Lanterns")
            hashes[design_id].append(sha256_of(data))
            photos.setdefault(design_id, data)
    manifest = folder / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest, hashes, photos


@dataclass(frozen=True)
class Kill:
    """When to kill a run: after this many new acknowledgements, or this many seconds after its start."""

    after_new: int | None = None
    after_s: float | None = None


def register(
    home: Path, manifest: Path, kill: Kill | None, seen: set[str], rng: random.Random
) -> tuple[list[str], bool]:
    """Run the registration and SIGKILL it as `kill` says (None: let it finish); return every ID it
    acknowledged, including lines it wrote before it died, and whether the kill landed."""
    command = [sys.executable, "-m", "api.cli", "register", "--home", str(home), "--manifest", str(manifest)]
    process = subprocess.Popen(
        [*command, "--acknowledge"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    timer = None
    if kill is not None and kill.after_s is not None:
        timer = threading.Timer(kill.after_s, process.send_signal, (signal.SIGKILL,))
        timer.start()
    kill_after_new = kill.after_new if kill is not None else None
    acknowledged, new = [], 0
    for line in process.stdout:
        if not line.startswith("registered: "):
            continue
        design_id = line.split(": ", 1)[1].strip()
        acknowledged.append(design_id)
        new += design_id not in seen
        if kill_after_new is not None and new >= kill_after_new:
            time.sleep(rng.uniform(0.0, 0.05))
            process.send_signal(signal.SIGKILL)
            break
    acknowledged += [x.split(": ", 1)[1].strip() for x in process.stdout if x.startswith("registered: ")]
    process.wait()
    if timer is not None:
        timer.cancel()
    if kill is None and process.returncode != 0:
        raise RuntimeError(f"the registration that was not killed exited with {process.returncode}")
    return acknowledged, process.returncode == -signal.SIGKILL


def stored_views(home: Path) -> dict[str, set[str]]:
    """Return the stored view hashes of every design in the registry."""
    with closing(sqlite3.connect(f"file:{home / 'registry.sqlite3'}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT d.design_id, i.sha256 FROM designs d LEFT JOIN images i ON i.design_pk = d.id"
        )
        found: dict[str, set[str]] = {}
        for design_id, sha in rows:
            found.setdefault(design_id, set()).update([sha] if sha else [])
    return found


def audited(home: Path) -> tuple[set[str], list[str]]:
    """Return the designs the audit log says were registered, and the problems of its hash chain."""
    database = Database(home / "registry.sqlite3")
    try:
        log = AuditLog(database)
        done = {e.target for e in log.entries() if e.action == "design.register" and e.status == 0}
        return {t for t in done if t}, log.verify()
    finally:
        database.close()


def verify(run: Run, home: Path, embedder: Embedder, expected: dict[str, list[str]], acked: set[str],
           photos: dict[str, bytes], fresh: set[str]) -> None:  # fmt: skip
    """Survey the home as the crash left it, reopen it, repair it, and check every promise."""
    settings = engine_settings(home)
    fingerprint = settings.embedder.fingerprint
    run.left_by_crash = [f.line() for f in survey(home, fingerprint).findings]
    Engine(settings, embedder).close()  # a restart: the index is rebuilt when it disagrees
    run.left_after_restart = [f.line() for f in survey(home, fingerprint).findings]
    report = check(settings, grace_s=0, embedder=embedder)
    run.problems += [f"check left: {f.line()}" for f in report.after.findings]
    stored = stored_views(home)
    run.stored_designs = len(stored)
    for design_id, views in stored.items():
        if views != set(expected.get(design_id, [])):
            run.problems.append(f"{design_id} is stored with {len(views)} of its {VIEWS} views")
    run.problems += [f"{d} was acknowledged but is not stored" for d in sorted(acked - set(stored))]
    in_log, chain = audited(home)
    run.problems += [f"{d} was acknowledged but is not in the audit log" for d in sorted(acked - in_log)]
    run.problems += [f"audit log: {p}" for p in chain]
    engine = Engine(settings, embedder)
    try:
        names = sorted(fresh & set(stored))
        results = engine.inspect_many([photos[d] for d in names]) if names else []
        for design_id, result in zip(names, results, strict=True):
            best = getattr(result, "matches", None)
            if not best or best[0].design.design_id != design_id:
                run.problems.append(f"{design_id} does not match its own view first")
    finally:
        engine.close()


def crash_test(designs: int, runs: int, seed: int, work: Path) -> list[Run]:
    """Run the whole test in `work`; return one Run per registration run (the last one unkilled)."""
    rng = random.Random(seed)
    manifest, expected, photos = make_dataset(work / "images", designs)
    home = work / "home"
    embedder = Embedder(engine_settings(home).embedder)
    seen: set[str] = set()
    results = []
    longest = 15.0
    for number in range(1, runs + 1):
        remaining = len(expected) - len(seen)
        kill = None
        if number < runs:
            by_ack = remaining > 0 and rng.random() < 0.75
            kill = (
                Kill(after_new=rng.randint(1, remaining)) if by_ack else Kill(after_s=rng.uniform(1, longest))
            )
        start = time.monotonic()
        acked, killed = register(home, manifest, kill, seen, rng)
        how = "ran to the end"
        if kill is not None and killed:
            how = (
                f"killed after {kill.after_new} new ack(s)"
                if kill.after_new
                else f"killed at {kill.after_s:.1f} s"
            )
        elif kill is not None:
            how = "finished before its kill"
        run = Run(number, how, len(acked), len(set(acked) - seen))
        fresh = set(acked) - seen
        seen |= set(acked)
        verify(run, home, embedder, expected, seen, photos, fresh)
        if kill is None and set(stored_views(home)) != set(expected):
            run.problems.append("the run that finished did not register every design")
        run.seconds = round(time.monotonic() - start, 1)
        longest = max(longest, run.seconds)
        results.append(run)
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the crash test and print one line per run (or JSON); exit 1 when a promise was broken."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--designs", type=int, default=40)
    parser.add_argument("--runs", type=int, default=6, help="registration runs; all but the last are killed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="working folder (default: a new temporary one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="lanternguard-crash-"))
    results = crash_test(args.designs, max(1, args.runs), args.seed, work)
    broken = sum(len(r.problems) for r in results)
    if args.json:
        print(json.dumps({"work": str(work), "runs": [asdict(r) for r in results], "problems": broken}))
    else:
        for r in results:
            print(f"run {r.number}: {r.kill}; {r.newly_acknowledged} new of {r.acknowledged} acknowledged; "
                  f"{r.stored_designs} stored; {r.seconds} s")  # fmt: skip
            for line in r.left_by_crash:
                print(f"    left by the crash: {line}")
            for line in r.left_after_restart:
                print(f"    left after restart: {line}")
            for line in r.problems:
                print(f"    PROBLEM: {line}")
        print(f"{len(results)} run(s), {broken} problem(s); work folder {work}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
