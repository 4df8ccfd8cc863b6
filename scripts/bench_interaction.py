"""Timing of the LMS estimator (issue 17), smsem side by side with its baselines.

1. The moderation model: models/integrative.lav with ``COM:IS + COM:SL`` on IC (22 items,
   two latent interactions), n = 300 generated with known interactions: one LMS fit
   (start, EM, quasi-Newton, numerical Hessian) against the ML fit of the linear model.
2. The LMS bootstrap: seconds per draw of ``bootstrap_lms`` (warm start from the
   full-sample solution, quasi-Newton only, no Hessian) against refitting one draw at a
   time with ``fit_lms`` (cold start, with SEs, as a naive bootstrap loop would).

Run: PYTHONPATH=. python scripts/bench_interaction.py [--draws 20] [--cold 3] [--qml]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def moderation_model():
    import smsem

    text = Path("models/integrative.lav").read_text().replace(
        "IC ~ IS + SL + COM + MA ", "IC ~ IS + SL + COM + MA + COM:IS + COM:SL ")
    assert "COM:IS" in text
    d = tempfile.mkdtemp()
    p = Path(d) / "integrative_lms_bench.lav"
    p.write_text(text)
    return smsem.load_model(str(p))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--cold", type=int, default=3)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--qml", action="store_true", help="also time one QML fit of the moderation model")
    a = ap.parse_args()
    import smsem
    from smsem.estimate.interaction.lms import bootstrap_lms, fit_lms
    from smsem.simulate.interaction import interaction_population, population_values

    m = moderation_model()
    pt = m.table()
    pop = interaction_population(m, population_values(pt, interaction={"COM:IS": 0.2, "COM:SL": -0.15}))
    data = pop.draw(a.n, seed=17)
    lin = smsem.load_model("integrative")
    smsem.fit(lin, data)  # warm imports
    fit_lms(m, pt, data)
    t_ml, t_lms = [], []
    for _ in range(a.reps):
        t = time.perf_counter()
        smsem.fit(lin, data)
        t_ml.append(time.perf_counter() - t)
        t = time.perf_counter()
        res = fit_lms(m, pt, data)
        t_lms.append(time.perf_counter() - t)
    print(f"moderation model: n = {a.n}, {len(pt.ov)} items, products {[p[0] for p in pt.lv_interactions]}, "
          f"{res.npar} parameters, {len(res.engine.weights)} quadrature nodes over {res.engine.cnames}")
    print(f"  ML fit of the linear model (smsem.fit): {min(t_ml):.3f} s (best of {a.reps})")
    print(f"  LMS fit with SEs (fit_lms):             {min(t_lms):.3f} s (best of {a.reps}); "
          f"ratio LMS/ML {min(t_lms) / min(t_ml):.1f}; converged {res.converged}, {res.iterations} iterations")
    if a.qml:
        from smsem.estimate.interaction.qml import fit_qml

        t = time.perf_counter()
        q = fit_qml(m, pt, data)
        print(f"  QML fit with SEs (fit_qml):             {time.perf_counter() - t:.3f} s (one fit); converged "
              f"{q.converged}; COM:IS {q.coef('IC', 'COM:IS'):.4f} (LMS {res.coef('IC', 'COM:IS'):.4f})")
    rng = np.random.default_rng(99)
    t = time.perf_counter()
    for _ in range(a.cold):
        fit_lms(m, pt, data.iloc[rng.integers(0, a.n, a.n)].reset_index(drop=True))
    cold = (time.perf_counter() - t) / a.cold
    t = time.perf_counter()
    for _ in range(a.cold):
        fit_lms(m, pt, data.iloc[rng.integers(0, a.n, a.n)].reset_index(drop=True), se=False)
    cold_nose = (time.perf_counter() - t) / a.cold
    t = time.perf_counter()
    est = bootstrap_lms(res, a.draws, seed=5)
    warm = (time.perf_counter() - t) / a.draws
    print(f"  bootstrap, one cold fit_lms per draw:   {cold:.3f} s/draw ({a.cold} draws)")
    print(f"  bootstrap, cold fit_lms(se=False):      {cold_nose:.3f} s/draw ({a.cold} draws)")
    print(f"  bootstrap_lms (warm start, no Hessian): {warm:.3f} s/draw ({a.draws} draws, "
          f"{int(np.isfinite(est[:, 0]).sum())} converged); speed-up {cold / warm:.1f}x "
          f"(against cold refits without SEs: {cold_nose / warm:.1f}x)")


if __name__ == "__main__":
    main()
