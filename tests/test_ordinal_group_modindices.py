"""Modification indices of multiple-group ordinal fits against lavaan 0.6.14's ``modindices(fit)``.

Reference: ``Rscript scripts/lavaan_wlsmv_groups_modindices_reference.R`` ->
tests/reference/lavaan_wlsmv_groups/<case>.modindices.csv (HS cut into 4 categories, groups by
school, WLSMV delta: configural, group.equal thresholds, thresholds + loadings, group.partial,
std.lv, latent regressions, a shared label with equal loadings only, ULSMV; theta configural and
thresholds + loadings; missing = "pairwise"), in lavaan's row
order (``sort. = FALSE``, NA rows removed).

Tolerances. At smsem's own optimum the largest measured differences, in units of
``1e-4 + 1e-3 |ref|``, are 0.37 for MI (1.7e-3 absolute on an MI of 4.2, group.equal thresholds)
and 0.15 for EPC and sEPC: they come from lavaan's convergence tolerance (its estimates differ
from smsem's by up to 2.8e-5). So MI: relative 1e-3 or absolute 1e-4 (the issue's tolerance);
EPC and sEPC: relative 5e-4 or absolute 1e-4 (measured 0.28 of that). At lavaan's own estimates
(thresholds + loadings, delta and theta) the differences drop to MI 9.8e-7 and EPC/sEPC 2.0e-7
absolute
(``python scripts/ordinal_group_modindices_agreement.py``), which the second test checks with MI
1e-5 and EPC 1e-6 absolute.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from smsem.estimate.categorical.multigroup import fit_ordinal_multigroup
from smsem.estimate.diagnostics import modindices

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference" / "lavaan_wlsmv_groups"
HS = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"
TL = ("thresholds", "loadings")
CASES = {  # case -> fit_ordinal_multigroup options (model: added to HS or replacing it)
    "hs_configural": {},
    "hs_thresholds": dict(group_equal=("thresholds",)),
    "hs_thr_load": dict(group_equal=TL),
    "hs_partial": dict(group_equal=TL, group_partial=("x3|t2", "visual=~x2")),  # latent means tested in group 1
    "hs_stdlv_thr_load": dict(group_equal=TL, std_lv=True),  # group 1's latent variances tested
    "hs_structural": dict(group_equal=TL, model=HS + "textual ~ visual\nspeed ~ textual + visual\n"),
    "hs_labels": dict(group_equal=("loadings",), model=HS.replace("x2", "c(a, a)*x2", 1)),  # the ~*~ scales tested
    "hs_ulsmv": dict(group_equal=("thresholds",), estimator="ULSMV"),
    "hs_theta_configural": dict(parameterization="theta"),
    "hs_theta_thr_load": dict(group_equal=TL, parameterization="theta"),  # the ~*~ scales tested (thresholds only)
    "hs_pairwise": dict(group_equal=TL, missing="pairwise", data="hs_cut4_school_na.csv"),
}
MI_RTOL, MI_ATOL = 1e-3, 1e-4
EPC_RTOL, EPC_ATOL = 5e-4, 1e-4
COLS = (("epc", "epc"), ("sepc_lv", "sepc.lv"), ("sepc_all", "sepc.all"), ("sepc_nox", "sepc.nox"))


@lru_cache(maxsize=None)
def _fit(case):
    kw = dict(CASES[case])
    data = pd.read_csv(REF / kw.pop("data", "hs_cut4_school.csv"))
    return fit_ordinal_multigroup(kw.pop("model", HS), data, "school", **kw)


def _ref(case):
    ref = pd.read_csv(REF / f"{case}.modindices.csv", keep_default_na=False)
    ref["rhs"] = ref["rhs"].astype(str)
    return ref


def _keys(t):
    return list(zip(t.lhs, t.op, t.rhs, t.group))


@pytest.mark.parametrize("case", list(CASES))  # 11 fits: about 3.5 s in all (-n 0)
def test_group_modindices_equal_lavaan(case):
    res, ref = _fit(case), _ref(case)
    got = modindices(res, sort=False)
    assert _keys(got) == _keys(ref)  # the same candidates in lavaan's order, none missing or extra
    np.testing.assert_allclose(got.mi, ref.mi, rtol=MI_RTOL, atol=MI_ATOL)
    for a, b in COLS:
        np.testing.assert_allclose(got[a], ref[b], rtol=EPC_RTOL, atol=EPC_ATOL)
    pd.testing.assert_frame_equal(res.modindices(sort=False), got)
    srt = modindices(res, minimum=3.84)
    assert list(srt.mi) == sorted(srt.mi, reverse=True) and (srt.mi > 3.84).all()
    assert len(srt) == int((ref.mi > 3.84).sum())


@pytest.mark.parametrize("case", ["hs_thr_load", "hs_theta_thr_load"])
def test_at_lavaans_estimates(case):
    """The formula apart from the optimum: smsem's MIs at lavaan's own estimates."""
    res = _fit(case)
    info = dict(res._internal)
    pt = pd.read_csv(REF / f"{case}_partable.csv")
    x = res.x.copy()
    for rid, free, est in zip(pt.id, pt.free, pt.est):
        if free > 0:
            x[info["gidx"][int(rid)]] = est
    assert 1e-7 < np.abs(x - res.x).max() < 1e-4  # lavaan's optimum, not smsem's
    fg = np.asarray(info["ns"], float) / sum(info["ns"])
    ds = [e.jacobian(x, len(x)) for e in info["engines"]]
    info.update(ds=ds, Einv=np.linalg.inv(sum(f * (d.T @ (w[:, None] * d)) for f, d, w in zip(fg, ds, info["w"]))))
    got = modindices(dataclasses.replace(res, x=x, _internal=info), sort=False)
    ref = _ref(case)
    assert _keys(got) == _keys(ref)
    np.testing.assert_allclose(got.mi, ref.mi, rtol=0, atol=1e-5)
    for a, b in COLS:
        np.testing.assert_allclose(got[a], ref[b], rtol=0, atol=1e-6)


def test_wu_estabrook_refused():
    from smsem.exceptions import OptionError

    res = fit_ordinal_multigroup(HS, pd.read_csv(REF / "hs_cut4_school.csv"), "school", group_equal=("thresholds",),
                                 wu_estabrook=True)
    with pytest.raises(OptionError, match="Wu & Estabrook .* not supported yet"):
        modindices(res)


def test_cli_modindices(tmp_path, capsys):
    import json

    from smsem.cli import main

    lav = tmp_path / "hs.lav"
    lav.write_text(HS)
    rc = main(["fit", str(REF / "hs_cut4_school.csv"), "--model", str(lav), "--ordered", "all", "--group", "school",
               "--group-equal", "thresholds,loadings", "--modindices", "10", "--format", "json",
               "--out", str(tmp_path / "o")])
    out = capsys.readouterr()
    assert rc == 0, out.err
    mi = pd.DataFrame(json.loads(out.out)["modindices"])
    ref = _ref("hs_thr_load")
    ref = ref[ref.mi > 10].sort_values("mi", ascending=False, kind="stable")
    assert sorted(_keys(mi)) == sorted(_keys(ref))
    np.testing.assert_allclose(np.sort(mi.mi), np.sort(ref.mi), rtol=MI_RTOL, atol=MI_ATOL)
    assert {f"modindices.{e}" for e in ("txt", "md", "csv", "json")} <= {p.name for p in (tmp_path / "o").iterdir()}
    assert "Group [school]" in (tmp_path / "o" / "modindices.txt").read_text()
