"""Replications r0 .. r1 - 1 of the FIML bootstrap coverage study (the slow test
tests/test_fiml_boot.py::test_coverage_on_a_mar_population: same data sets, seeds and CIs),
so that the study can be split over processes:

    PYTHONPATH=. python scripts/fiml_boot_coverage.py 0 150 & PYTHONPATH=. python scripts/fiml_boot_coverage.py 150 300

Prints the covering counts of the 95% percentile CIs of M ~ X and of the indirect effect
X -> M -> Y every 25 replications and at the end.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import smsem  # noqa: E402
from test_fiml_boot import A, B, MODEL, _mar_sample  # noqa: E402


def main() -> None:
    r0, r1 = int(sys.argv[1]), int(sys.argv[2])
    path = Path(tempfile.mkdtemp(prefix="fiml_cov_")) / "chain.lav"
    path.write_text(MODEL)
    model = smsem.load_model(str(path))
    keys = {"M~X": A, "indirect:X->M->Y": A * B}
    hits = {k: 0 for k in keys}
    for r in range(r0, r1):
        res = smsem.fit(model, _mar_sample(300, seed=10_000 + r), missing="fiml")
        ci = smsem.bootstrap(res, n_boot=400, seed=r, progress=False).conf_int(0.95)
        for k, truth in keys.items():
            hits[k] += bool(ci.loc[k, "lower"] <= truth <= ci.loc[k, "upper"])
        if (r - r0 + 1) % 25 == 0:
            print(r - r0 + 1, hits, flush=True)
    print("done", r1 - r0, hits, flush=True)


if __name__ == "__main__":
    main()
