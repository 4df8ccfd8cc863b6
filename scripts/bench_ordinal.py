"""Ordinal core speed: polychoric matrices, NACOV and batched bootstrap draws, side by side with lavaan.

    PYTHONPATH=. python scripts/bench_ordinal.py [--n-large 100000] [--boot 1000] [--r-draws 20] [--no-r]

Data: the shipped survey data/synthetic/integrative_n300_seed1.csv (n = 300, 22 five-point
items); the large sample (default n = 100,000) is drawn from a normal population with that
survey's polychoric matrix, cut at its thresholds. Measures, on one process:
1. the 22 x 22 polychoric matrix at n = 100,000 (target < 2 s);
2. thresholds + polychorics + NACOV + DWLS weights at n = 300 (lavaan's WLSMV sample statistics);
3. per bootstrap draw at n = 300, all draws batched (target far under 10 ms), and the same
   draws one at a time;
4. the WLSMV fit of the integrative model and its bootstrap with every draw refitted;
and, when Rscript with lavaan is present, ``lavCor(d, ordered = TRUE)`` on the same data
(n = 100,000 and n = 300; per draw: ``lavCor`` of a resample), printing the ratios. The load
average is printed: on a shared machine every figure slows down.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smsem.estimate.categorical import polychoric_matrix, prepare  # noqa: E402
from smsem.estimate.categorical.batched import BatchedPolychoric, draw_counts, dwls_diagonal  # noqa: E402
from smsem.estimate.categorical.nacov import sample_stats  # noqa: E402

R_SCRIPT = r"""
suppressMessages(library(lavaan))
args <- commandArgs(TRUE)
big <- read.csv(args[1]); small <- read.csv(args[2]); ndraw <- as.integer(args[3])
t_big <- NA
if (nrow(big) > 0) t_big <- system.time(lavCor(big, ordered = TRUE))[["elapsed"]]
t_small <- system.time(lavCor(small, ordered = TRUE))[["elapsed"]]
t_gamma <- system.time(lavCor(small, ordered = TRUE, estimator = "WLSMV", se = "robust.sem", output = "fit"))[["elapsed"]]
set.seed(1)
t_draws <- system.time(for (b in seq_len(ndraw)) {
  d <- small[sample.int(nrow(small), replace = TRUE), ]
  r <- try(lavCor(d, ordered = TRUE), silent = TRUE)
})[["elapsed"]] / ndraw
cat(t_big, t_small, t_gamma, t_draws, "\n")
"""


def timeit(f, repeat=1):
    best = np.inf
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-large", type=int, default=100_000)
    ap.add_argument("--boot", type=int, default=1000, help="batched draws (default 1000)")
    ap.add_argument("--single", type=int, default=50, help="draws one at a time (default 50)")
    ap.add_argument("--r-draws", type=int, default=20, help="lavCor resamples timed in R (default 20)")
    ap.add_argument("--no-r", action="store_true", help="skip lavaan even if Rscript is present")
    ap.add_argument("--no-r-large", action="store_true", help="skip lavaan at the large n")
    ap.add_argument("--wlsmv-boot", type=int, default=200, help="draws of the WLSMV bootstrap with refits (default 200)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")

    small = pd.read_csv(ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv")
    items = [c for c in small.columns if small[c].nunique() <= 11]
    small = small[items]
    od = prepare(small, True)
    R0 = polychoric_matrix(od.codes)
    # a large sample from the survey's own polychoric structure
    rng = np.random.default_rng(args.seed)
    z = rng.multivariate_normal(np.zeros(len(items)), R0, size=args.n_large, method="cholesky")
    big_codes = np.empty(z.shape, dtype=np.int64)
    for j in range(len(items)):
        cnt = np.bincount(od.codes[:, j], minlength=od.nlev[j] + 1)[1:]
        cuts = np.quantile(z[:, j], np.cumsum(cnt)[:-1] / cnt.sum())
        big_codes[:, j] = np.digitize(z[:, j], cuts) + 1

    t_big, _ = timeit(lambda: polychoric_matrix(big_codes), repeat=2)
    print(f"polychoric matrix, {len(items)} items, n = {args.n_large:,}: {t_big:.3f} s (target < 2 s)")
    t_ss, ss = timeit(lambda: sample_stats(small, True, missing="pairwise"), repeat=3)
    print(f"thresholds + polychorics + NACOV + DWLS weights, n = 300: {t_ss * 1e3:.1f} ms "
          f"({ss.nacov.shape[0]} statistics)")

    bp = BatchedPolychoric(od.codes)
    C = draw_counts(od.n, args.boot, args.seed)
    t_b, res = timeit(lambda: bp(C))
    per_b = t_b / args.boot
    print(f"bootstrap, n = 300, {args.boot} draws batched: {t_b:.2f} s = {per_b * 1e3:.2f} ms per draw "
          f"({int(res.ok.sum())} usable)")
    t_w, _ = timeit(lambda: dwls_diagonal(bp, C, res))
    print(f"  + each draw's DWLS weights (diagonal of its NACOV): {t_w / args.boot * 1e3:.2f} ms per draw")
    t0 = time.perf_counter()
    for b in range(args.single):
        polychoric_matrix(od.codes, weights=C[b])
    per_s = (time.perf_counter() - t0) / args.single
    print(f"same draws one at a time: {per_s * 1e3:.2f} ms per draw")

    # the whole WLSMV chain on the integrative model: one fit, and the bootstrap with refits
    from smsem import load_model
    from smsem.estimate.categorical.bootstrap import bootstrap_ordinal
    from smsem.estimate.categorical.fit import fit_ordinal

    model = load_model("integrative")
    t_fit, fres = timeit(lambda: fit_ordinal(model, small), repeat=3)
    print(f"WLSMV fit of the integrative model, n = 300: {t_fit:.3f} s (lavaan, recorded: 1.1-1.3 s)")
    nb = min(args.boot, args.wlsmv_boot)
    t_wb, bs = timeit(lambda: bootstrap_ordinal(fres, nb, seed=args.seed), repeat=1)
    print(f"WLSMV bootstrap with DWLS refits, {nb} draws: {t_wb:.2f} s = {t_wb / nb * 1e3:.1f} ms per draw "
          f"({bs.n_ok} usable; lavaan, recorded: 930 ms per draw = {0.93 / (t_wb / nb):.0f}x)")

    if args.no_r or shutil.which("Rscript") is None:
        print("Rscript not found (or --no-r): recorded lavaan figure (issue 13): 0.93 s per WLSMV bootstrap draw")
        return
    with tempfile.TemporaryDirectory() as td:
        fb, fs, fr = Path(td) / "big.csv", Path(td) / "small.csv", Path(td) / "b.R"
        pd.DataFrame(big_codes[:0] if args.no_r_large else big_codes, columns=items).to_csv(fb, index=False)
        small.to_csv(fs, index=False)
        fr.write_text(R_SCRIPT)
        out = subprocess.run(["Rscript", str(fr), str(fb), str(fs), str(args.r_draws)], capture_output=True,
                             text=True, timeout=3600)
    if out.returncode != 0:
        print("lavaan run failed:", out.stderr.strip().splitlines()[-1:])
        return
    r_big, r_small, r_gamma, r_draw = (float(x) for x in out.stdout.split())
    if np.isfinite(r_big):
        print(f"lavaan lavCor n = {args.n_large:,}: {r_big:.2f} s   ratio lavaan/smsem = {r_big / t_big:.1f}x")
    print(f"lavaan lavCor + NACOV (WLSMV sample statistics) n = 300: {r_gamma:.3f} s   "
          f"ratio = {r_gamma / t_ss:.1f}x")
    print(f"lavaan lavCor of one resample (n = 300): {r_draw * 1e3:.0f} ms per draw   "
          f"ratio lavaan/smsem-batched = {r_draw / per_b:.0f}x")


if __name__ == "__main__":
    main()
