"""``smsem power CONFIG`` with an ``invariance:`` key (issue 14): power to detect a given
non-invariance and the false-alarm rate under full invariance, per step, with binomial bands."""

import json
from pathlib import Path

import pandas as pd
import pytest

from smsem.cli import main
from smsem.montecarlo.config import load_config
from smsem.montecarlo.invariance_study import InvarianceStudyConfig, run_invariance_study

LAV = "F1 =~ a1 + a2 + a3\nF2 =~ b1 + b2 + b3\nF2 ~ F1\n"
CONFIG = """name: tiny
model: two.lav
population:
  loadings: {F1: [0.8, 0.7, 0.7], F2: [0.8, 0.7, 0.6]}
  paths: {F2: {F1: 0.4}}
invariance:
  non_invariant: {item_intercepts: {a2: 1.0}}
  steps: [metric, scalar]
  n: [160]
likert: 0
replications: 2
seed: 3
"""


@pytest.fixture
def study(tmp_path):
    (tmp_path / "two.lav").write_text(LAV)
    p = tmp_path / "study.yaml"
    p.write_text(CONFIG)
    return p


SHIPPED = Path(__file__).resolve().parents[1] / "models" / "montecarlo" / "invariance_intercepts.yaml"


def test_shipped_invariance_config_loads():
    cfg = load_config(SHIPPED)
    assert isinstance(cfg, InvarianceStudyConfig) and cfg.replications >= 100
    assert cfg.steps == ("metric", "scalar", "strict") and cfg.n_tasks == 2 * 2 * cfg.replications


def test_power_cli_invariance_study(study, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["power", str(study), "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    t = pd.read_csv(out / "invariance_power.csv")
    assert list(zip(t.condition, t.step)) == [("invariant", "metric"), ("invariant", "scalar"),
                                              ("non-invariant", "metric"), ("non-invariant", "scalar")]
    assert (t.reps + t.failed_fits == 2).all()
    # a 1 SD shift of one item's intercept at 80 per group: the scalar LRT rejects every time,
    # while the metric step (loadings are invariant in both conditions) is a false alarm at most
    row = t.set_index(["condition", "step"])
    assert row.loc[("non-invariant", "scalar"), "lrt_reject_rate"] == 1.0
    # the exact 95% band of 2/2 is [0.158, 1] (Clopper-Pearson: (0.025)^(1/2)); the CSV keeps
    # 6 significant digits, hence 5e-7
    assert row.loc[("non-invariant", "scalar"), "lrt_band_lower"] == pytest.approx(0.025 ** 0.5, abs=5e-7)
    assert (t.lrt_band_lower <= t.lrt_reject_rate).all() and (t.lrt_reject_rate <= t.lrt_band_upper).all()
    doc = json.loads((out / "invariance_power.json").read_text())
    assert doc["non_invariant"] == {"item_intercepts": {"a2": 1.0}} and len(doc["rates"]) == 4
    assert "LRT rejects" in cap.out and (out / "report.md").is_file()
    # the same study again: refused before any work (one line), identical with --force
    rc = main(["power", str(study), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "already exists" in err[0]


def test_interrupted_study_resumes_to_the_uninterrupted_table(study, tmp_path, capsys):
    """An invariance study killed after its first replication (stored in invariance.sqlite)
    and rerun with ``--resume`` runs only the missing replication and writes the table of
    the uninterrupted run; the stored study is refused without --resume, and with a changed
    configuration, in one line each."""
    from smsem.montecarlo.invariance_study import INVARIANCE_STORE_NAME, InvarianceStore, render_invariance_study

    study.write_text(CONFIG.replace("replications: 2", "replications: 1"))
    cfg = load_config(study)
    out = tmp_path / "out"
    seen = []

    def stop(cell, cond, rep):
        seen.append((cell, cond, rep))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_invariance_study(cfg, out=out, on_row=stop)
    with InvarianceStore(out / INVARIANCE_STORE_NAME, cfg) as st:
        assert list(st.results()) == seen == [(0, "invariant", 0)]
    rc = main(["power", str(study), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "invariance.sqlite already exists; use --resume" in err[0]
    ran = []
    import smsem.montecarlo.invariance_study as mod

    task = mod._task
    mod._task = lambda t: ran.append(t[1:]) or task(t)
    try:
        rc = main(["power", str(study), "--out", str(out), "--resume"])
    finally:
        mod._task = task
    assert rc == 0, capsys.readouterr().err
    assert ran == [(0, 160, "non-invariant", 0)]  # only the replication not stored
    whole = run_invariance_study(cfg)  # uninterrupted, in memory
    assert (out / "invariance_power.csv").read_text() == render_invariance_study(cfg, whole, "csv")
    study.write_text(CONFIG.replace("replications: 2", "replications: 1").replace("seed: 3", "seed: 4"))
    rc = main(["power", str(study), "--out", str(out), "--resume"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "different configuration (differs in: seed)" in err[0]


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.replace("steps: [metric, scalar]", "steps: [weak]"), "invariance.steps"),
    (lambda s: s.replace("n: [160]", "n: [10]"), "invariance.n"),
    (lambda s: s.replace("item_intercepts: {a2: 1.0}", "thresholds: {a2: 1.0}"), "invariance.non_invariant.thresholds"),
    (lambda s: s.replace("item_intercepts: {a2: 1.0}", "item_intercepts: {zz: 1.0}"), "zz"),
    (lambda s: s + "grid: {n: [100]}\n", "grid: unknown key in an invariance study"),
])
def test_bad_invariance_config_is_one_line(study, capsys, edit, message):
    study.write_text(edit(CONFIG))
    rc = main(["power", str(study), "--out", str(study.parent / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and message in err[0], err


@pytest.mark.slow
def test_rates_do_not_depend_on_jobs(study):
    cfg = load_config(study)
    a = run_invariance_study(cfg, jobs=1)
    b = run_invariance_study(cfg, jobs=2)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.slow  # 2 x 200 replications of the integrative sequence at n = 600 (measured: 138 s with jobs=2)
def test_shipped_study_power_and_false_alarms():
    """The shipped study at n = 600: under full invariance every step's LRT rejects at a rate
    whose 95% band contains .05 or lies below .15 (Likert items fitted by ML); one item's
    intercept shifted 0.3 SD is found at the scalar step with power >= .6."""
    cfg = load_config(SHIPPED)
    cfg = InvarianceStudyConfig(**{**cfg.__dict__, "n": (600,)})
    t = run_invariance_study(cfg, jobs=2).set_index(["condition", "step"])
    for st in cfg.steps:
        assert t.loc[("invariant", st), "lrt_band_lower"] <= 0.05 or t.loc[("invariant", st), "lrt_reject_rate"] < .15
    assert t.loc[("non-invariant", "scalar"), "lrt_reject_rate"] >= 0.6
