"""The lavaan references for user models (tests/reference/lavaan_models/, issue 12) are
complete and consistent with themselves: no smsem code involved."""

from __future__ import annotations

import pytest

from lavaan_models_ref import REF, cases, load

CASES = cases()
PARTABLE = ["id", "lhs", "op", "rhs", "user", "block", "group", "free", "ustart", "exo",
            "label", "plabel", "start", "est", "se"]
PARAMS = ["lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci.lower", "ci.upper",
          "std.lv", "std.all"]
STD = ["lhs", "op", "rhs", "est.std", "se", "z", "pvalue", "ci.lower", "ci.upper"]


def test_at_least_30_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES)
def test_case_files_parse_and_agree(case):
    for ext in ("lav", "partable.csv", "params.csv", "std.csv", "fit.csv", "meta.json"):
        assert (REF / f"{case}.{ext}").is_file(), ext
    ref = load(case)
    meta = ref["meta"]
    assert meta["case"] == case
    assert meta["function"] in ("sem", "cfa", "growth")
    assert meta["converged"] is True
    assert ref["syntax"].strip()
    assert list(ref["partable"].columns) == PARTABLE
    assert list(ref["params"].columns) == PARAMS
    assert list(ref["std"].columns) == STD
    pt = ref["partable"]
    assert pt["id"].tolist() == list(range(1, len(pt) + 1))
    assert int(pt["free"].max()) == meta["npar"]
    free = sorted(pt.loc[pt["free"] > 0, "free"])
    assert free == list(range(1, meta["npar"] + 1))  # each free index once
    assert ref["fit"]["npar"] == meta["npar_fitmeasures"]
    assert meta["npar_fitmeasures"] <= meta["npar"]
    n_eq = int((pt["op"] == "==").sum())
    assert n_eq == meta["n_eq_constraints"]
    if n_eq == 0:
        assert meta["npar_fitmeasures"] == meta["npar"]
    assert ref["fit"]["df"] == meta["df"]
    assert ref["fit"]["ntotal"] == meta["ntotal"]
    # The data hold every observed variable of the model.
    # (a product a:b of two observed variables is computed from its factors, lavaan's ov.interaction)
    columns = {c for v in meta["ov"] for c in v.split(":")}
    assert columns <= set(ref["data"].columns)
    # parameterEstimates lists the table's parameter rows in the table's order, then := rows.
    pe, rows = ref["params"], pt[pt["op"].isin(["=~", "~", "~~", "~1", ":="])]
    assert list(zip(pe.lhs, pe.op, pe.rhs))[: len(rows)] == list(zip(rows.lhs, rows.op, rows.rhs))
