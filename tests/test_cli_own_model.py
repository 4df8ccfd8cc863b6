"""Your own model, data and hypotheses on the command line (issue 12).

``smsem fit`` takes any numeric data (the 1..K check only where a scale is declared), maps
lavaan's options, tests a hypotheses file with bootstrap CIs, and ``smsem power`` plans a
study of one's own model from YAML values or a pilot survey.
"""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

import smsem
from conftest import ROOT, run_cli
from smsem.cli import main
from smsem.exceptions import DataError, OptionError, SpecError

REF = ROOT / "tests" / "reference" / "lavaan"
HS = REF / "HolzingerSwineford1939.csv"
POLDEM = REF / "PoliticalDemocracy.csv"
EXAMPLE = ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv"

# The lavaan tutorial's Political Democracy model with labels and := parameters.
PD_LAV = """\
ind60 =~ x1 + x2 + x3
dem60 =~ y1 + y2 + y3 + y4
dem65 =~ y5 + y6 + y7 + y8
dem60 ~ a*ind60
dem65 ~ c*ind60 + b*dem60
y1 ~~ y5
y2 ~~ y4 + y6
y3 ~~ y7
y4 ~~ y8
y6 ~~ y8
ab := a*b
total := c + a*b
"""

HYPOTHESES = """\
# my hypotheses
- id: H1
  path: "dem60 ~ ind60"
  sign: "+"
  label: Industrialization raises democracy
- id: H2
  indirect: "ind60 -> dem60 -> dem65"
  sign: "+"
  proposition: P2
- id: H3
  defined: ab
  sign: "?"
- {id: H4, path: "ind60 -> dem65", sign: "-"}
"""


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """``smsem ARGS`` in this process: (exit status, stdout, stderr)."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    d = tmp_path_factory.mktemp("own")
    (d / "pd.lav").write_text(PD_LAV, encoding="utf-8")
    (d / "h.yaml").write_text(HYPOTHESES, encoding="utf-8")
    return d


def _csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""])


# ---------------------------------------------------------------- any numeric data


def test_fit_7_point_data_with_likert_7(tmp_path, capsys):
    data = tmp_path / "l7.csv"
    assert cli(capsys, "generate", "--likert", "7", "--n", "150", "--seed", "3", "--out", data)[0] == 0
    code, _, err = cli(capsys, "fit", data, "--boot", "0")  # the codebook declares 5 points
    assert code == 2 and "outside the 5-point scale (integer codes 1..5)" in err and len(err.splitlines()) == 1
    code, out, err = cli(capsys, "fit", data, "--likert", "7", "--boot", "50", "--quiet", "--format", "csv")
    assert code == 0, err
    t = _csv(out)
    assert list(t.id[:2]) == ["P1", "P2"] and len(t) == 12
    assert t[["ci_lower", "ci_upper"]].notna().all().all()
    assert (t.ci_lower < t.ci_upper).all()


def test_fit_likert_declares_the_scale_of_indicators(tmp_path, capsys):
    df = pd.read_csv(HS).round(0).clip(1, 9)
    df.loc[4, "x5"] = 10
    f = tmp_path / "hs.csv"
    df.to_csv(f, index=False)
    code, _, err = cli(capsys, "fit", f, "--model", REF / "hs.lav", "--likert", "9", "--boot", "0")
    assert code == 2
    assert err.strip().endswith("column x5, row 5: value 10 is outside the 9-point scale (integer codes 1..9); "
                                "recode it, or leave the cell empty if it marks a missing answer")
    code, _, err = cli(capsys, "fit", f, "--model", REF / "hs.lav", "--boot", "0")  # no scale declared
    assert code == 0, err


def test_fit_continuous_data_with_likert_0(tmp_path, capsys):
    data = tmp_path / "c.csv"
    assert cli(capsys, "generate", "--likert", "0", "--n", "150", "--out", data)[0] == 0
    code, _, err = cli(capsys, "fit", data, "--boot", "0")
    assert code == 2 and "is outside the 5-point scale" in err
    code, out, err = cli(capsys, "fit", data, "--likert", "0", "--boot", "0", "--format", "csv")
    assert code == 0, err
    assert len(_csv(out)) == 12


def test_fit_holzinger_swineford(capsys):
    code, out, err = cli(capsys, "fit", HS, "--model", REF / "hs.lav", "--boot", "50")
    assert code == 0, err
    assert "chi2(24) = 85.306" in out  # lavaan: 85.306 on 24 df
    assert "nothing to test: the model has no regression path and no := parameter" in out
    code, out, err = cli(capsys, "fit", HS, "--model", REF / "hs.lav", "--boot", "0", "--format", "json")
    assert code == 0, err
    assert json.loads(out)  # a valid document


def test_fit_political_democracy_every_path_gets_a_bootstrap_ci(capsys):
    code, out, err = cli(capsys, "fit", POLDEM, "--model", REF / "poldem.lav", "--boot", "50", "--quiet",
                         "--format", "csv")
    assert code == 0, err
    t = _csv(out)
    assert list(t.path) == ["ind60 -> dem60", "ind60 -> dem65", "dem60 -> dem65"]
    assert set(t.expected) == {"?"}
    assert t[["ci_lower", "ci_upper"]].notna().all().all()
    assert set(t.verdict) <= {"CI excludes 0", "CI includes 0"}


def test_non_finite_and_text_values_of_own_variables(tmp_path, capsys):
    df = pd.read_csv(HS).astype(object)
    df.loc[2, "x3"] = "inf"
    f = tmp_path / "inf.csv"
    df.to_csv(f, index=False)
    code, _, err = cli(capsys, "fit", f, "--model", REF / "hs.lav", "--boot", "0")
    assert code == 2 and "column x3, row 3: value inf is not a finite number" in err
    df.loc[2, "x3"] = "high"
    df.to_csv(f, index=False)
    code, _, err = cli(capsys, "fit", f, "--model", REF / "hs.lav", "--boot", "0")
    assert code == 2 and "column x3, row 3: value 'high' is not a number; leave missing values empty" in err


def test_validate_survey_likert_option(model):
    df = smsem.simulate(model, n=120, seed=2, likert=7)
    with pytest.raises(DataError, match="outside the 5-point scale"):
        smsem.io.validate_survey(df, model)
    assert smsem.io.validate_survey(df, model, likert=7).shape == (120, len(model.items))
    assert smsem.io.validate_survey(df, model, likert=0).shape == (120, len(model.items))
    with pytest.raises(OptionError, match="likert must be 0"):
        smsem.io.validate_survey(df, model, likert=1)


# ---------------------------------------------------------------- lavaan's options


@pytest.mark.parametrize("flags", [["--std-lv"], ["--meanstructure"], ["--model-type", "growth"]])
def test_lavaan_options_that_change_the_model(capsys, flags):
    """The table reads them (smsem.estimate.matrices); lavaan's numbers are checked in
    tests/test_engine_partable.py."""
    code, _, err = cli(capsys, "fit", POLDEM, "--model", REF / "poldem.lav", "--boot", "0", *flags)
    assert code == 0, err


@pytest.mark.parametrize("flags", [["--model-type", "cfa"], ["--model-type", "sem"], ["--fixed-x"],
                                   ["--no-fixed-x"], ["--meanstructure", "--missing", "fiml"]])
def test_lavaan_options_that_give_the_same_model(capsys, flags):
    code, _, err = cli(capsys, "fit", POLDEM, "--model", REF / "poldem.lav", "--boot", "0", *flags)
    assert code == 0, err


def test_fit_api_accepts_lavaan_keywords():
    model = smsem.load_model(str(REF / "hs.lav"))
    data = pd.read_csv(HS)
    res = smsem.fit(model, data, std_lv=False, meanstructure=None, fixed_x=True, model_type="cfa")
    assert res.fit_indices["df"] == 24
    std = smsem.fit(model, data, std_lv=True)  # the same model, scaled by the latent variances
    assert std.fit_indices["df"] == 24 and abs(std.fit_indices["chi2"] - res.fit_indices["chi2"]) < 1e-6
    assert (std.params.query("op == '~~' and lhs == rhs and lhs == 'visual'").est == 1).all()
    with pytest.raises(OptionError, match="model_type must be one of sem, cfa, growth"):
        smsem.fit(model, data, model_type="efa")


# ---------------------------------------------------------------- your own hypotheses


def test_fit_own_model_with_hypotheses(own, capsys):
    code, out, err = cli(capsys, "fit", POLDEM, "--model", own / "pd.lav", "--hypotheses", own / "h.yaml",
                         "--boot", "50", "--quiet", "--format", "csv")
    assert code == 0, err
    t = _csv(out).set_index("id")
    assert list(t.index) == ["H1", "H2", "H3", "H4"]
    assert list(t.path) == ["ind60 -> dem60", "ind60 -> dem60 -> dem65", "ab := a*b", "ind60 -> dem65"]
    assert list(t.expected) == ["+", "+", "?", "-"]
    assert t.loc["H1", "label"] == "Industrialization raises democracy" and t.loc["H2", "proposition"] == "P2"
    assert t[["ci_lower", "ci_upper"]].notna().all().all()
    # ab := a*b is the indirect effect ind60 -> dem60 -> dem65: same estimate, same draws.
    assert t.loc["H2", "est"] == pytest.approx(t.loc["H3", "est"], rel=1e-6)
    assert t.loc["H2", "ci_lower"] == pytest.approx(t.loc["H3", "ci_lower"], rel=1e-6)
    assert t.loc["H2", "ci_upper"] == pytest.approx(t.loc["H3", "ci_upper"], rel=1e-6)
    assert t.loc["H1", "verdict"] == "supported" and t.loc["H3", "verdict"] == "CI excludes 0"
    assert t.loc["H4", "verdict"] in ("opposite sign", "not supported")
    code, out, _ = cli(capsys, "fit", POLDEM, "--model", own / "pd.lav", "--hypotheses", own / "h.yaml",
                       "--boot", "50", "--quiet")
    assert code == 0 and "Label" in out and "bootstrap draws: 50" in out


def test_fit_own_model_without_hypotheses_tests_every_path_and_defined(own, capsys):
    code, out, err = cli(capsys, "fit", POLDEM, "--model", own / "pd.lav", "--boot", "50", "--quiet",
                         "--format", "csv")
    assert code == 0, err
    t = _csv(out)
    assert list(t.id) == ["dem60~ind60", "dem65~ind60", "dem65~dem60", "ab", "total"]
    assert t[["ci_lower", "ci_upper"]].notna().all().all()
    assert set(t.verdict) <= {"CI excludes 0", "CI includes 0"}


def test_hypotheses_replace_the_codebook_propositions(tmp_path, capsys):
    h = tmp_path / "h.yaml"
    h.write_text('hypotheses:\n  - {id: M1, indirect: "COM -> IS -> IC -> EA -> OP", sign: "+"}\n'
                 '  - {id: M2, path: "OP ~ EA", sign: "+"}\n', encoding="utf-8")
    code, out, err = cli(capsys, "fit", EXAMPLE, "--hypotheses", h, "--boot", "50", "--quiet", "--format", "csv")
    assert code == 0, err
    t = _csv(out)
    assert list(t.id) == ["M1", "M2"] and t.ci_lower.notna().all()
    assert t.loc[0, "path"] == "COM -> IS -> IC -> EA -> OP"


@pytest.mark.parametrize("text, fragment", [
    ('- {id: H1, path: "dem60 ~ x1", sign: "+"}', "hypothesis H1: path dem60 ~ x1 is not in the model"),
    ('- {id: H1, path: "dem60 ~ ind60", sign: up}', "hypothesis H1: sign 'up' is not one of"),
    ('- {id: H1, path: "dem60 ~ ind60"}', "hypothesis H1: has no sign"),
    ('- {id: H1, path: "dem60 ~ ind60", sign: "+", weight: 2}', "hypothesis H1: unknown key 'weight'"),
    ('- {id: H1, indirect: "ind60 -> dem65 -> dem60", sign: "+"}', "path dem60 ~ dem65 is not in the model"),
    ('- {id: H1, defined: abc, sign: "+"}', "hypothesis H1: 'abc' is not a := parameter"),
    ('- {id: H1, path: "dem60 ~ ind60", indirect: "ind60 -> dem60 -> dem65", sign: "+"}',
     "give exactly one of path, indirect, defined"),
    ('- {path: "dem60 ~ ind60", sign: "+"}', "entry 1: has no id"),
    ("foo: 1", "a hypotheses file is a YAML list"),
    ("- [a, b", "invalid YAML"),
])
def test_bad_hypotheses_file_one_line_exit_2(own, tmp_path, capsys, text, fragment):
    h = tmp_path / "bad.yaml"
    h.write_text(text + "\n", encoding="utf-8")
    code, out, err = cli(capsys, "fit", POLDEM, "--model", own / "pd.lav", "--hypotheses", h, "--boot", "0")
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and fragment in err and str(h) in err


def test_bad_hypotheses_end_to_end_exit_status(own):
    r = run_cli("fit", str(POLDEM), "--model", str(own / "pd.lav"), "--hypotheses", str(own / "nope.yaml"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "hypotheses file not found" in r.stderr


def test_proposition_table_api_with_hypotheses(own):
    model = smsem.load_model(str(own / "pd.lav"))
    res = smsem.fit(model, pd.read_csv(POLDEM))
    boot = smsem.bootstrap(res, n_boot=60, seed=3)
    t = smsem.proposition_table(res, boot, hypotheses=str(own / "h.yaml")).table.set_index("id")
    # A path hypothesis' CI is the bootstrap CI of its standardized estimate.
    ci = boot.conf_int(0.95).loc["dem60~ind60:std"]
    assert (t.loc["H1", "ci_lower"], t.loc["H1", "ci_upper"]) == (ci["lower"], ci["upper"])
    for method in ("bc", "normal"):
        tm = smsem.proposition_table(res, boot, hypotheses=str(own / "h.yaml"), ci=method).table
        assert tm[["ci_lower", "ci_upper"]].notna().all().all()
    assert smsem.verdict(0.1, 0.3, 0) == "CI excludes 0" and smsem.verdict(-0.1, 0.3, 0) == "CI includes 0"
    with pytest.raises(SpecError, match="is not in the model"):
        smsem.proposition_table(res, n_boot=0, hypotheses=[*_bad_entries(model)])


def _bad_entries(model):
    from smsem.model.hypotheses import parse_hypotheses

    return parse_hypotheses([{"id": "X", "path": "dem65 ~ x1", "sign": "+"}], model)


# ---------------------------------------------------------------- power for your own model


def _power(capsys, tmp_path, text: str, own) -> tuple[int, str, str]:
    cfg = tmp_path / "study.yaml"
    bad = tmp_path / "bad_h.yaml"
    bad.write_text('- {id: H9, path: "dem65 ~ x1", sign: "+"}\n', encoding="utf-8")
    cfg.write_text(text.format(lav=own / "pd.lav", hyp=own / "h.yaml", pilot=POLDEM, bad=bad), encoding="utf-8")
    return cli(capsys, "power", cfg, "--out", tmp_path / "out", "--no-progress")


def test_power_from_a_pilot_fit(own, tmp_path, capsys):
    code, out, err = _power(capsys, tmp_path, (
        "model: {lav}\nhypotheses: {hyp}\npopulation: {{from_fit: {pilot}}}\n"
        "grid: {{n: [100], likert: [0]}}\nreplications: 2\n"), own)
    assert code == 0, err
    assert "H1" in out and "H4" in out and "2 of 2 replications stored" in out
    plan = pd.read_csv(tmp_path / "out" / "planning_paths.csv")
    assert set(plan.path_id) == {"H1", "H4"}  # the direct-path hypotheses
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "pilot fit to `PoliticalDemocracy.csv`" in report
    # The truth is the pilot's std.all estimates.
    from smsem.montecarlo import load_config
    from smsem.montecarlo.scenarios import base_population

    pop = base_population(load_config(tmp_path / "study.yaml"))
    res = smsem.fit(smsem.load_model(str(own / "pd.lav")), pd.read_csv(POLDEM))
    assert pop.paths["dem60"]["ind60"] == pytest.approx(res.standardized_paths["dem60~ind60"])


def test_power_from_yaml_values_with_thresholds(own, tmp_path, capsys):
    code, out, err = _power(capsys, tmp_path, (
        "model: {lav}\npopulation:\n"
        "  loadings: {{ind60: [0.9, 0.9, 0.8], dem60: [0.8, 0.7, 0.8, 0.8], dem65: [0.8, 0.7, 0.8, 0.8]}}\n"
        "  paths: {{dem60: {{ind60: 0.4}}, dem65: {{ind60: 0.2, dem60: 0.8}}}}\n"
        "  proportions: [0.05, 0.1, 0.2, 0.4, 0.25]\n"
        "grid: {{n: [120], likert: [5]}}\nreplications: 2\n"), own)
    assert code == 0, err
    plan = pd.read_csv(tmp_path / "out" / "planning_paths.csv")
    assert set(plan.path_id) == {"dem60~ind60", "dem65~ind60", "dem65~dem60"}  # every regression
    from smsem.montecarlo import load_config
    from smsem.montecarlo.replication import simulate_cell

    cfg = load_config(tmp_path / "study.yaml")
    x = simulate_cell(cfg, cfg.cells[0], 0)["y1"]
    assert x.max() == 5 and (x == 4).mean() > (x == 2).mean()


@pytest.mark.parametrize("text, fragment", [
    ("model: {lav}\nthresholds: skewed\ngrid: {{n: [100]}}\nreplications: 2\n",
     "key thresholds: belongs under population:"),
    ("model: {lav}\npopulation: {{from_fit: {pilot}, scenario: thesis}}\ngrid: {{n: [100]}}\nreplications: 2\n",
     "population.scenario: and population values"),
    ("model: {lav}\npopulation: {{loadings: {{ind60: [0.8, 0.8, 0.8], dem60: [0.8, 0.8, 0.8, 0.8], "
     "dem65: [0.8, 0.8, 0.8, 0.8]}}, thresholds: [0, 1]}}\ngrid: {{n: [100], likert: [5]}}\nreplications: 2\n",
     "population.thresholds with grid.likert 5: a 5-point scale needs 4 thresholds"),
    ("model: {lav}\npopulation: {{from_fit: nope.csv}}\ngrid: {{n: [100]}}\nreplications: 2\n",
     "key population.from_fit: pilot survey"),
    ("model: {lav}\ngrid: {{n: [100]}}\nreplications: 2\n", "has no population values"),
    ("model: {lav}\nhypotheses: nope.yaml\npopulation: {{from_fit: {pilot}}}\ngrid: {{n: [100]}}\n"
     "replications: 2\n", "key hypotheses: hypotheses file"),
    ("model: {lav}\nhypotheses: {bad}\npopulation: {{from_fit: {pilot}}}\ngrid: {{n: [100]}}\n"
     "replications: 2\n", "hypothesis H9: path dem65 ~ x1 is not in the model"),
])
def test_power_bad_own_config_one_line(own, tmp_path, capsys, text, fragment):
    code, _, err = _power(capsys, tmp_path, text, own)
    assert code == 2 and len(err.splitlines()) == 1 and fragment in err, err


def test_shipped_configs_keep_their_fingerprint():
    from smsem.montecarlo import load_config

    cfg = load_config("sample_size", check_models=False)
    assert cfg.population_values == "" and cfg.thresholds is None and cfg.hypotheses is None
    assert "population_values" in cfg.to_mapping()  # recorded, left out of the fingerprint at its default
    # The fingerprint of the shipped study before population values existed (stored studies resume).
    assert cfg.fingerprint == "41dd4dab4152f7435e3bc1592313f344692c80ecd315ef2fdf53dd098c98fd17"
