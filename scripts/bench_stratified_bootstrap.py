"""Per-draw speed of the stratified (within-group) bootstrap against the one-group bootstrap.

    PYTHONPATH=. python scripts/bench_stratified_bootstrap.py [--boot 1000] [--repeat 3] [--model integrative]

Data: tests/reference/lavaan_invariance/integrative_two_departments.csv (two departments of
300), the integrative model (models/integrative.lav, 22 items, 7 constructs). Side by side,
each the best of ``--repeat`` after a warm-up, wall time and CPU time (``process_time``:
steadier on the shared machine) per draw:

- **stratified**: ``smsem.estimate.multigroup.stratified_bootstrap`` of the configural
  two-group ML fit (``--group-equal`` for another step): resampling counts within each
  group, the groups' resampled moments, the batched refit of every draw (q = 2 x 79 = 158
  parameters: each group's 57 covariance parameters and 22 intercepts), estimates only;
- **one-group refits, pooled**: the same 600 respondents as one group, the one-group batched
  refit (``weighted_moments`` + ``fit_batch``, what ``smsem.bootstrap`` runs for its
  estimates; q = 57, no mean structure), estimates only;
- **one-group refits, each department**: the same for each department of 300 alone, the
  two summed (the work of a stratified draw without the joint parameter vector);
- **smsem.bootstrap, pooled**: the one-group bootstrap as users call it (the refit plus its
  115 statistics per draw: std paths and loadings, R², indirect effects, fit indices).

Prints ms per draw, µs per parameter and draw, and the ratios to the stratified draw. The
load average is printed: on a shared machine every figure slows down.

Accuracy: ``--one N`` also refits the first N draws one at a time (Fisher scoring,
``batched=False``) and prints the largest difference and the batched engine's evaluations
per draw; ``--save FILE.npy`` keeps the stratified draws, ``--against FILE.npy`` prints the
largest difference from draws saved by another version (e.g. run from ``git archive COMMIT
smsem`` with ``PYTHONPATH`` pointing there).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT / "tests" / "reference" / "lavaan_invariance" / "integrative_two_departments.csv"


def _best(fn, repeat: int) -> tuple[float, float]:
    """(wall, cpu) seconds: the best of ``repeat`` calls after one warm-up call."""
    fn()
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu)


def _refits(pm, start, x, n_boot: int, seed: int):
    """The one-group batched refit of ``n_boot`` resamples of ``x`` (estimates only)."""
    from smsem._threads import single_thread
    from smsem.estimate.batched import fit_batch, resample_counts, weighted_moments

    n = len(x)
    children = np.random.SeedSequence(seed).spawn(n_boot)
    counts = np.stack([resample_counts(np.random.default_rng(c), n) for c in children]).astype(float)
    xc = x - x.mean(axis=0)
    with single_thread():
        s = weighted_moments(xc, counts)
        return fit_batch(pm, s, start, s_start=np.cov(xc.T, bias=True))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--model", default=str(ROOT / "models" / "integrative.lav"))
    ap.add_argument("--group-equal", default="", help="the step of the stratified fit (default configural)")
    ap.add_argument("--one", type=int, default=0, help="compare N draws with one-at-a-time refits")
    ap.add_argument("--save", default=None, help="save the stratified draws (.npy)")
    ap.add_argument("--against", default=None, help="largest difference from saved draws (.npy)")
    args = ap.parse_args()
    from smsem import fit, load_model
    from smsem.bootstrap import bootstrap
    from smsem.estimate.multigroup import fit_multigroup, stratified_bootstrap

    data = pd.read_csv(DATA)
    model = load_model(args.model)
    nb = args.boot
    warnings.simplefilter("ignore")
    ge = [s for s in args.group_equal.split(",") if s]
    res = fit_multigroup(model, data, "department", group_equal=ge)
    q_mg = len(res.start)
    pooled = data.drop(columns=["department"])
    single = fit(model, pooled)
    obs = list(single.param_map.base.observed)
    q1 = single.param_map.n_free
    x_pool = pooled[obs].to_numpy(float)
    deps = [fit(model, data[data.department == lab].drop(columns=["department"])) for lab in res.group_labels]
    x_deps = [data.loc[data.department == lab, obs].to_numpy(float) for lab in res.group_labels]

    rows = []
    b = stratified_bootstrap(res, nb, seed=1)
    w, c = _best(lambda: stratified_bootstrap(res, nb, seed=1), args.repeat)
    rows.append((f"stratified ({'configural' if not ge else ','.join(ge)}, 2 x 300)", q_mg, w, c, b.n_failed))
    bf = _refits(single.param_map, single.start, x_pool, nb, 1)
    w, c = _best(lambda: _refits(single.param_map, single.start, x_pool, nb, 1), args.repeat)
    rows.append(("one-group refits, pooled 600", q1, w, c, int((~bf.ok).sum())))
    tw = tc = 0.0
    for d, x in zip(deps, x_deps):
        w, c = _best(lambda: _refits(d.param_map, d.start, x, nb, 1), args.repeat)
        tw, tc = tw + w, tc + c
    rows.append(("one-group refits, each department (sum)", 2 * q1, tw, tc, 0))
    sb = bootstrap(single, n_boot=nb, seed=1, progress=False)
    w, c = _best(lambda: bootstrap(single, n_boot=nb, seed=1, progress=False), args.repeat)
    rows.append(("smsem.bootstrap (all statistics), pooled 600", q1, w, c, sb.n_failed))

    if args.save:
        np.save(args.save, b.estimates)
    if args.against:
        other = np.load(args.against)
        print(f"max |stratified draws - {args.against}| = {np.nanmax(np.abs(b.estimates - other)):.2e}")
    if args.one:
        import smsem.estimate.multigroup as mg

        n_rows = [0]
        evaluate = mg._BatchProblem.evaluate

        def counting(self, theta):
            n_rows[0] += theta.shape[0]
            return evaluate(self, theta)

        mg._BatchProblem.evaluate = counting
        try:
            a = stratified_bootstrap(res, args.one, seed=1)
        finally:
            mg._BatchProblem.evaluate = evaluate
        one = stratified_bootstrap(res, args.one, seed=1, batched=False)
        print(f"first {args.one} draws: max |batched - one at a time| = "
              f"{np.nanmax(np.abs(a.estimates - one.estimates)):.2e}; batched evaluations per draw "
              f"{n_rows[0] / args.one:.1f} (start metric included)")
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {nb} draws, best of {args.repeat}")
    print(f"{'':48s} {'q':>4s} {'wall ms/draw':>13s} {'cpu ms/draw':>12s} {'cpu us/(q draw)':>16s} "
          f"{'stratified / this (cpu)':>24s} failed")
    ref_cpu = rows[0][3]
    for name, q, w, c, failed in rows:
        print(f"{name:48s} {q:4d} {1e3 * w / nb:13.3f} {1e3 * c / nb:12.3f} {1e6 * c / nb / q:16.2f} "
              f"{ref_cpu / c:24.2f} {failed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
