"""The frozen text outputs under tests/reference/snapshots/: one entry per file, naming
what renders it. ``python scripts/update_snapshots.py`` checks them and ``--update``
rewrites them (and ``snapshots.meta.json``); tests/test_snapshots.py compares them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
SNAP = ROOT / "tests" / "reference" / "snapshots"
META = SNAP / "snapshots.meta.json"


def _fit_section(case: str, fmt: str) -> Callable[[], str]:
    def render() -> str:
        from lavaan_ref import smsem_fit
        from smsem.report.fit_section import render_fit, render_parameters

        res = smsem_fit(case)
        return render_fit(res, fmt) + ("\n" + render_parameters(res, fmt) if fmt == "text" else "")
    render.__doc__ = (f"render_fit(smsem_fit({case!r}), {fmt!r})"
                      + (" + render_parameters(...)" if fmt == "text" else "")
                      + f" on the data and model of tests/reference/lavaan/{case}.meta.json")
    return render


def _diagnostic_summary() -> str:
    """render_diagnostic(diagnose(simulate_diagnostic(level=["defined", "aligned"], n=30, gap=8,
    seed=5, missing=0.03), group="department", org="org"), "text")"""
    from smsem.diagnostic import diagnose, simulate_diagnostic
    from smsem.report.diagnostic import render_diagnostic

    df = simulate_diagnostic(level=["defined", "aligned"], n=30, gap=8, seed=5, missing=0.03)
    return render_diagnostic(diagnose(df, group="department", org="org"), "text")


def _interaction_lms() -> str:
    """interaction_summary_text(smsem.fit(load_model("tests/models/hs_interaction.lav"),
    HolzingerSwineford1939, interaction_method="lms")): what `smsem fit` prints for an LMS fit"""
    import pandas as pd

    from smsem import __version__, fit
    from smsem.model import load_model
    from smsem.report.summary import interaction_summary_text

    data = pd.read_csv(ROOT / "tests" / "reference" / "lavaan" / "HolzingerSwineford1939.csv")
    res = fit(load_model(str(ROOT / "tests" / "models" / "hs_interaction.lav")), data, interaction_method="lms")
    return interaction_summary_text(res).replace(__version__, "VERSION")


SNAPSHOTS: dict[str, Callable[[], str]] = {
    "fit_interaction_lms.txt": _interaction_lms,
    "fit_integrative_ml.txt": _fit_section("integrative_ml", "text"),
    "fit_integrative_mlm.md": _fit_section("integrative_mlm", "markdown"),
    "diagnostic_summary.txt": _diagnostic_summary,
}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def metadata() -> dict[str, dict[str, str]]:
    """What ``snapshots.meta.json`` records: per file, how it is made and its checksum."""
    return {name: {"made_by": fn.__doc__ or "", "sha256": sha256((SNAP / name).read_text(encoding="utf-8"))}
            for name, fn in SNAPSHOTS.items()}


def read_metadata() -> dict:
    return json.loads(META.read_text(encoding="utf-8"))
