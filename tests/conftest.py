"""Shared fixtures: the shipped model and a small simulated survey."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import smsem

ROOT = Path(__file__).resolve().parents[1]


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
                          cwd=cwd, timeout=600)
