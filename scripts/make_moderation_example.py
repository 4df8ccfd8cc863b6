"""Example data for docs/moderation.md: the integrative model's population (models/codebook.yaml)
plus latent interactions of communication (COM) and management attitude (MA) with the
paths of P1-P3, continuous items. Truth recorded in the sidecar JSON.

    python scripts/make_moderation_example.py [--n 1000] [--seed 17] [--out data/synthetic/moderation_n1000_seed17.csv]

The population: COM, MA standard normal with correlation .40; every structural equation
``eta = sum(b x) + sum(g a b) + zeta`` with the codebook's linear paths and the interaction
coefficients below; zeta ~ N(0, 1 - R2 of the linear part under the linear model) so the
endogenous latent variances are near 1 (not exactly: the products add variance, recorded
as the empirical population variance); items = loading * latent + N(0, 1 - loading^2).
Independent of smsem's generator (issue 17's generator with interactions is written
separately); used only for the documentation example.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
INTERACTIONS = {"IC": {("COM", "IS"): -0.20, ("COM", "SL"): 0.0, ("MA", "IS"): 0.0, ("MA", "SL"): 0.0},
                "EA": {("COM", "IC"): 0.15, ("MA", "IC"): 0.0}}


def _latents(pop: dict, r: float, n: int, rng: np.random.Generator, zvar: dict) -> dict:
    """Latent scores; fills ``zvar`` (residual variances) when empty."""
    lat = {}
    lat["COM"], lat["MA"] = rng.multivariate_normal([0, 0], [[1, r], [r, 1]], size=n).T
    for eta in ("IS", "SL", "IC", "EA", "OP"):
        lin = sum(b * lat[x] for x, b in pop["paths"][eta].items())
        if eta not in zvar:
            zvar[eta] = max(0.2, 1.0 - float(np.var(lin)))
        prod = sum(g * lat[u] * lat[v] for (u, v), g in INTERACTIONS.get(eta, {}).items())
        lat[eta] = lin + prod + rng.normal(0.0, np.sqrt(zvar[eta]), n)
    return lat


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    out = Path(a.out or ROOT / "data" / "synthetic" / f"moderation_n{a.n}_seed{a.seed}.csv")
    pop = yaml.safe_load((ROOT / "models" / "codebook.yaml").read_text())["population"]
    ss = np.random.SeedSequence(a.seed)
    calib_rng, rng = (np.random.default_rng(c) for c in ss.spawn(2))
    r = pop["correlations"][0][2]
    # residual variances: 1 - variance of the linear part, from a 200,000-case calibration draw
    zvar: dict[str, float] = {}
    _latents(pop, r, 200_000, calib_rng, zvar)
    lat = _latents(pop, r, a.n, rng, zvar)
    n = a.n
    cols = {}
    for lv, loads in pop["loadings"].items():
        for i, lam in enumerate(loads, 1):
            cols[f"{lv}{i}"] = lam * lat[lv] + rng.normal(0.0, np.sqrt(1 - lam * lam), n)
    df = pd.DataFrame(cols)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.round(6).to_csv(out, index=False)
    side = {"n": n, "seed": a.seed, "paths": pop["paths"], "loadings": pop["loadings"],
            "interactions": {eta: {f"{u}:{v}": g for (u, v), g in d.items()} for eta, d in INTERACTIONS.items()},
            "residual_variances": zvar, "sample_latent_sd": {k: float(np.std(v)) for k, v in lat.items()},
            "command": f"python scripts/make_moderation_example.py --n {n} --seed {a.seed}"}
    out.with_suffix(".json").write_text(json.dumps(side, indent=2) + "\n")
    print(out)


if __name__ == "__main__":
    main()
