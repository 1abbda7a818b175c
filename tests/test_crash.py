"""A bounded crash test: bulk registrations killed with SIGKILL lose nothing they acknowledged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_sigkilled_registrations_keep_every_acknowledged_design(tmp_path: Path) -> None:
    command = [sys.executable, "scripts/crash_test.py", "--designs", "6", "--runs", "3", "--seed", "7"]
    done = subprocess.run(
        [*command, "--work", str(tmp_path), "--json"], cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    runs = report["runs"]
    assert report["problems"] == 0 and len(runs) == 3
    assert runs[-1]["kill"] == "ran to the end" and runs[-1]["stored_designs"] == 6
    assert any(r["kill"].startswith("killed") for r in runs[:-1])
    assert sum(r["newly_acknowledged"] for r in runs) == 6
    assert all(not r["problems"] for r in runs)
