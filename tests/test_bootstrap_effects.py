"""Bootstrap of every effect: specific indirect chains, total effects and := parameters.

Reference: lavaan 0.6.14's bootstrap of ``ind := a*b*c`` (IS -> IC -> EA -> OP) on the
committed survey, B = 2000 (scripts/lavaan_boot_reference.R; output and draws in
tests/reference/lavaan_boot/).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import smsem
from smsem.estimate.effects import defined_evaluator

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference" / "lavaan_boot"
CHAIN = "indirect:IS->IC->EA->OP"


@pytest.fixture(scope="module")
def res():
    model = smsem.load_model(str(REF / "integrative_ind.lav"))
    return smsem.fit(model, pd.read_csv(ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv"))


@pytest.fixture(scope="module")
def boot(res):
    return smsem.bootstrap(res, n_boot=60, seed=11)


def _col(boot, name):
    return boot.draws[:, boot.names.index(name)]


def test_every_chain_is_the_product_of_its_refitted_paths(res, boot):
    chains = [nm for nm in boot.names if nm.startswith("indirect:") and nm.count("->") >= 2
              and not nm.endswith(":std")]
    assert len(chains) == 11 and CHAIN in chains  # every specific chain to OP
    for nm in chains:
        nodes = nm.split(":")[1].split("->")
        prod = _col(boot, f"{nodes[1]}~{nodes[0]}")
        std = _col(boot, f"{nodes[1]}~{nodes[0]}:std")
        for a, b in zip(nodes[1:], nodes[2:]):
            prod = prod * _col(boot, f"{b}~{a}")
            std = std * _col(boot, f"{b}~{a}:std")
        np.testing.assert_array_equal(_col(boot, nm), prod)  # exactly, from the stored draws
        np.testing.assert_allclose(_col(boot, nm + ":std"), std, rtol=1e-12)


def test_totals_are_sums_of_chains_and_direct_paths(boot):
    for src in ("COM", "MA", "IS", "SL", "IC"):
        chains = [nm for nm in boot.names if nm.startswith(f"indirect:{src}->") and nm.count("->") >= 2
                  and nm.endswith("->OP")]
        ind = sum(_col(boot, nm) for nm in chains)
        np.testing.assert_allclose(_col(boot, f"indirect:{src}->OP"), ind, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(_col(boot, f"total:{src}->OP"), ind, rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(_col(boot, "total:EA->OP"), _col(boot, "OP~EA"))


def test_defined_parameter_per_draw(res, boot):
    # The := parameter equals its chain exactly, and the one-row evaluator at every draw's
    # refitted parameters.
    np.testing.assert_array_equal(_col(boot, "ind:=a*b*c"), _col(boot, CHAIN))
    values = defined_evaluator(res)
    cols = [boot.names.index(f"{lhs}{op}{rhs}") for lhs, op, rhs in res.param_map.names]
    for row, v, vs in zip(boot.draws[:, cols], _col(boot, "ind:=a*b*c"), _col(boot, "ind:=a*b*c:std")):
        np.testing.assert_allclose(values(row), [v, vs], rtol=1e-10)


def test_table_joins_the_parameter_tables(res, boot):
    t = boot.table(0.9, "bc")
    unstd = t[~t["std"]]
    m = res.params.merge(unstd, on=["lhs", "op", "rhs"], suffixes=("", "_boot"))
    free = res.params[res.params.se > 0]
    assert len(m) == len(free)  # every free parameter has its bootstrap row
    np.testing.assert_allclose(m.est, m.est_boot, atol=1e-5)
    d = smsem.effects(res).defined.merge(unstd, left_on="name", right_on="lhs")
    assert len(d) == 1 and d.op.iloc[0] == ":=" and d.rhs.iloc[0] == "a*b*c"
    e = smsem.effects(res).table.merge(unstd, left_on=["outcome", "kind", "path"], right_on=["lhs", "op", "rhs"])
    assert (e.kind == "indirect").sum() == 11


@pytest.mark.parametrize("method", ["percentile", "bc", "bca", "normal"])
def test_every_ci_method(res, boot, method):
    if method == "bca":  # needs n successful draws
        pytest.skip("BCa needs >= n draws; covered in test_bootstrap_ci.py")
    ci = boot.conf_int(0.9, method)
    for nm in (CHAIN, CHAIN + ":std", "ind:=a*b*c", "total:COM->OP", "total:COM->OP:std"):
        assert ci.loc[nm, "lower"] < boot.estimate[boot.names.index(nm)] < ci.loc[nm, "upper"]


def test_effects_table_carries_bootstrap_cis(res, boot):
    eff = smsem.effects(res, boot=boot, ci="percentile")
    row = eff.get("IS", "indirect", path="IS -> IC -> EA -> OP")
    ci = boot.conf_int()
    assert row.boot_ci_lower == ci.loc[CHAIN, "lower"] and row.std_boot_ci_upper == ci.loc[CHAIN + ":std", "upper"]
    assert eff.defined.boot_ci_lower.iloc[0] == ci.loc["ind:=a*b*c", "lower"]
    assert eff.table.boot_ci_lower.notna().all()


def test_percentile_ci_agrees_with_lavaan(res):
    """smsem's and lavaan's percentile CIs of ind := a*b*c within Monte Carlo error.

    Both are estimates, from B = 2000 independent draws each, of the same bootstrap
    quantiles. The Monte Carlo SE of one endpoint is measured by resampling lavaan's 2000
    stored values of ``ind`` (the bootstrap of the quantile; about 0.002 here); the
    difference of two independent estimates has SD sqrt(2) times that, and we allow 4 SDs
    (a false alarm once in ~16000 runs per endpoint under normality).
    """
    ref = pd.read_csv(REF / "integrative_ind.csv").set_index("lhs").loc["ind"]
    lav = pd.read_csv(REF / "integrative_ind.draws.csv")["ind"].to_numpy()
    boot = smsem.bootstrap(res, n_boot=2000, seed=5)
    ci = boot.conf_int(0.95, "percentile").loc["ind:=a*b*c"]
    assert boot.estimate[boot.names.index("ind:=a*b*c")] == pytest.approx(ref.est, abs=1e-5)
    rng = np.random.default_rng(0)
    resampled = lav[rng.integers(0, len(lav), (500, len(lav)))]
    for q, mine, theirs in ((0.025, ci.lower, ref["ci.lower"]), (0.975, ci.upper, ref["ci.upper"])):
        mc_se = np.std(np.quantile(resampled, q, axis=1), ddof=1)
        assert 0 < mc_se < 0.01
        assert abs(mine - theirs) < 4 * np.sqrt(2) * mc_se, (q, mine, theirs, mc_se)
    # and the bootstrap SEs within their own MC error (relative SE of an SD ~ 1/sqrt(2B))
    assert boot.std_errors["ind:=a*b*c"] == pytest.approx(ref.se, rel=4 * np.sqrt(2) / np.sqrt(2 * 2000))


def test_several_defined_parameters_keep_their_names(tmp_path):
    """Two := parameters: each column holds its own value (value and std.all in turn)."""
    lav = tmp_path / "two.lav"
    lav.write_text((REF / "integrative_ind.lav").read_text() + "ab := a*b\nabc2 := 2*ind\n")
    res = smsem.fit(smsem.load_model(str(lav)), pd.read_csv(ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv"))
    boot = smsem.bootstrap(res, n_boot=20, seed=1)
    d = smsem.effects(res).defined.set_index("name")
    for name, expr in (("ind", "a*b*c"), ("ab", "a*b"), ("abc2", "2*ind")):
        j = boot.names.index(f"{name}:={expr}")
        assert boot.estimate[j] == pytest.approx(d.loc[name, "est"], rel=1e-6)
        assert boot.estimate[j + 1] == pytest.approx(d.loc[name, "std_all"], rel=1e-6)
    np.testing.assert_allclose(_col(boot, "abc2:=2*ind:std"), 2 * _col(boot, "ind:=a*b*c:std"), rtol=1e-14)
