"""Random valid lavaan models either fit with lavaan's degrees of freedom or are refused
in one line; never a traceback (issue 12).

Models are drawn over HolzingerSwineford1939's x1..x9 (plus the covariates ageyr and
sex): one to three factors with disjoint indicators, regressions among the factors
(acyclic), covariates, residual covariances, modifiers (fixed values, NA*, labels shared
or not, start values) and the sem/growth/std.lv options. For a model that fits, the df
reported by the fit must be the sample moments less the table's free parameters plus its
equality constraints, and chi2 must be finite and non-negative.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smsem
from smsem.exceptions import SmsemError, SmsemWarning
from smsem.model.partable import lavaanify
from smsem.model.syntax import parse_lavaan

DATA = Path(__file__).parent / "reference" / "lavaan_models" / "HolzingerSwineford1939.csv"
ITEMS = [f"x{i}" for i in range(1, 10)]


@st.composite
def models(draw):
    k = draw(st.integers(1, 3))
    items = draw(st.permutations(ITEMS))
    sizes = [draw(st.integers(2, 3)) for _ in range(k)]
    lines, pos, names = [], 0, [f"F{j}" for j in range(k)]
    labels = draw(st.lists(st.sampled_from(["a", "b"]), min_size=0, max_size=3))
    for j, size in enumerate(sizes):
        terms = []
        for i, item in enumerate(items[pos:pos + size]):
            mod = draw(st.sampled_from(["", "", "", "NA*", "0.8*", "start(0.7)*"] + [f"{lab}*" for lab in labels]))
            terms.append(mod + item)
        pos += size
        lines.append(f"{names[j]} =~ " + " + ".join(terms))
    for j in range(1, k):  # acyclic: a factor may depend on earlier ones
        if draw(st.booleans()):
            lines.append(f"{names[j]} ~ {names[draw(st.integers(0, j - 1))]}")
    if draw(st.booleans()):
        lines.append(f"{names[0]} ~ ageyr" + (" + sex" if draw(st.booleans()) else ""))
    if pos < len(items) and draw(st.booleans()):
        lines.append(f"{items[pos]} ~ {names[-1]}")
    if draw(st.booleans()):
        a, b = draw(st.sampled_from(items[:pos])), draw(st.sampled_from(items[:pos]))
        if a != b:
            lines.append(f"{a} ~~ {b}")
    if draw(st.booleans()):
        lines.append(f"{names[0]} ~~ 1*{names[0]}")
    options = draw(st.fixed_dictionaries({"std_lv": st.booleans(), "meanstructure": st.sampled_from([None, True])}))
    return "\n".join(lines) + "\n", options


@pytest.fixture(scope="module")
def hs():
    return pd.read_csv(DATA)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(models())
def test_random_models_fit_with_lavaan_df_or_are_refused(tmp_path_factory, hs, spec):
    text, options = spec
    path = tmp_path_factory.mktemp("m") / "model.lav"
    path.write_text(text)
    try:
        model = smsem.load_model(str(path))
        pt = lavaanify(parse_lavaan(text), **{k: v for k, v in options.items() if v is not None})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SmsemWarning)
            res = smsem.fit(model, hs, **{k: v for k, v in options.items() if v is not None})
    except SmsemError as exc:
        assert "\n" not in str(exc) and str(exc), text
        return
    assert res.fit_indices["df"] == pt.df_model, text
    chi2 = res.fit_indices["chi2"]
    assert chi2 == chi2 and chi2 >= -1e-8, text
