"""``smsem fit FILE --model M.lav --interaction-method ...``: the moderation report on the CLI."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, run_cli

HS = str(ROOT / "tests/reference/lavaan/HolzingerSwineford1939.csv")
MODEL = str(ROOT / "tests/models/hs_interaction.lav")


@pytest.mark.slow  # 6 s: a subprocess, a fit and four figures
def test_fit_interaction_method_json_and_figures(tmp_path):
    out = tmp_path / "out"
    r = run_cli("fit", HS, "--model", MODEL, "--likert", "0", "--interaction-method", "rca", "--format", "json",
                "--out", str(out))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    it = doc["interactions"][0]
    assert it["outcome"] == "speed" and it["term"] == "visual:textual"
    # the same number as the lavaan reference of this product-indicator model (tests/reference/interaction)
    assert abs(it["est"] - 0.0658919540341376) < 1e-3
    assert {p["focal"] for p in it["probes"]} == {"visual", "textual"}
    assert (out / "simple_slopes_visual_speed_by_textual.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "simple_slopes_visual_speed_by_textual.svg").exists()
    assert json.loads((out / "moderation.json").read_text())["interactions"][0]["term"] == "visual:textual"
    assert "Simple slopes of visual -> speed" in (out / "moderation.md").read_text()
    # a second run refuses to overwrite, before any work, in one line
    r = run_cli("fit", HS, "--model", MODEL, "--likert", "0", "--interaction-method", "rca", "--out", str(out))
    assert r.returncode == 2 and "already exists" in r.stderr and r.stderr.count("\n") == 1


def test_interaction_method_on_a_linear_model_is_one_line_exit_2():
    r = run_cli("fit", HS, "--model", str(ROOT / "tests/models/hs_interaction.lav"), "--likert", "0",
                "--interaction-method", "dmc", "--chain", "visual,nothing,speed")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "'nothing' is not a variable" in r.stderr


@pytest.mark.slow  # a second subprocess; the one-line refusal path is covered by the test above
def test_compare_refuses_a_latent_interaction_model_in_one_line():
    r = run_cli("compare", HS, MODEL, MODEL)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--interaction-method" in r.stderr
