"""Process settings for CPU inference: OpenMP wait policy and the trunk's precision."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from model.embedder import PRECISIONS
from model.runtime import machine_precision

ROOT = Path(__file__).resolve().parents[1]


def policy_after_import(preset: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if preset is not None:
        env["OMP_WAIT_POLICY"] = preset
    code = "import api.cli, os; print(os.environ['OMP_WAIT_POLICY'])"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.mark.parametrize(("preset", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_importing_the_project_sets_a_passive_openmp_wait_policy_unless_chosen(
    preset: str | None, expected: str
) -> None:
    assert policy_after_import(preset) == expected


def test_machine_precision_is_a_known_one() -> None:
    assert machine_precision() in PRECISIONS
