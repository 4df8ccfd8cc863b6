"""Shared fixtures: the shipped model and a small simulated survey."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# One BLAS thread per test process (set before numpy is imported; the xdist workers inherit
# it): the suite runs one worker per core, and OpenBLAS threads competing for the same
# cores turn a 0.04 s matrix product into seconds on a loaded machine.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402

import smsem  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

#: Most pytest-xdist workers ``-n auto`` starts (setup.cfg's addopts): one per core, at most
#: this many. Each worker imports numpy, pandas and scipy and builds its own session
#: fixtures, and some tests start ``--jobs 2`` pools or Dask clusters of their own, so on a
#: large machine more workers would add memory and contention faster than speed.
MAX_WORKERS = 4


def pytest_xdist_auto_num_workers(config) -> int:
    """``-n auto``: the cores this process may use (not the machine's), capped at MAX_WORKERS;
    ``PYTEST_XDIST_AUTO_NUM_WORKERS`` overrides, as in pytest-xdist."""
    env = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS")
    if env:
        return int(env)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, MAX_WORKERS))


@pytest.fixture(scope="session")
def model() -> smsem.SEMModel:
    return smsem.load_model("integrative")


@pytest.fixture(scope="session")
def survey(model):
    return smsem.simulate(model, n=300, seed=1)


@pytest.fixture(scope="session")
def fitted(model, survey):
    return smsem.fit(model, survey)


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m smsem ARGS`` and capture its output."""
    return subprocess.run([sys.executable, "-m", "smsem", *args], capture_output=True, text=True,
                          cwd=cwd)
