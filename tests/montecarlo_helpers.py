"""Shared helpers of the Monte Carlo tests: small study configurations on a one-path model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from smsem.montecarlo import StudyConfig, load_config

MODELS = Path(__file__).resolve().parent / "models"
TWO_FACTOR = {"model": str(MODELS / "two_factor.lav"), "codebook": str(MODELS / "two_factor.yaml")}


def write_config(path: Path, **over: Any) -> Path:
    """A study YAML on tests/models/two_factor.lav; keyword arguments override keys."""
    doc: dict[str, Any] = {
        "name": "test study",
        "population": dict(TWO_FACTOR),
        "grid": {"n": [60, 120], "likert": [0]},
        "replications": 6,
        "seed": 7,
    }
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(doc.get(k), dict):
            doc[k] = {**doc[k], **v}
        else:
            doc[k] = v
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def config(tmp_path: Path, **over: Any) -> StudyConfig:
    return load_config(write_config(tmp_path / "study.yaml", **over))
