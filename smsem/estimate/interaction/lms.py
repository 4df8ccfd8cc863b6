"""Latent moderated structural equations (LMS; Klein & Moosbrugger, 2000).

The model is the parameter table's linear SEM plus one regression row ``y ~ a:b`` per
product of two variables, at least one of them an exogenous latent variable. LMS writes
the distribution of the items as a finite mixture: conditional on the values ``c`` of a
set ``C`` of exogenous latent variables that touches every product (a vertex cover of the
product graph: for ``COM:IS + COM:SL``, ``C = {COM}``), every product is linear in the
other variables, so the items are normal with mean ``mu(c)`` and covariance
``Sigma(c)``:

    z = alpha + B(c) z + k(c) + zeta,   zeta | zeta_C = c - alpha_C  (normal),
    B(c)[t, b] = B[t, b] + g c_a  for a product g * a:b on t with a in C,
    mu(c) = nu + Lambda (I - B(c))^-1 (alpha + k(c) + Psi_.C Psi_CC^-1 (c - alpha_C)),
    Sigma(c) = Lambda (I - B(c))^-1 V (I - B(c))^-T Lambda' + Theta,
    V = Psi - Psi_.C Psi_CC^-1 Psi_C.

``c = alpha_C + chol(Psi_CC) u`` with ``u`` on a Gauss-Hermite grid (``quad_points``
nodes per dimension of ``C``); the marginal density is the mixture over the grid. ML by
EM (the M-step maximizes the expected complete-data log-likelihood, which needs only the
per-node weighted moments of the items) and then quasi-Newton steps on the marginal
log-likelihood, whose gradient is the M-step's gradient at the current value (Fisher's
identity). Without products ``C`` is empty, the mixture has one component and the fit is
the ordinary ML fit. The gradient is analytic (derivatives of the expected complete-data
log-likelihood in each node's item mean and covariance, chained through the model
matrices; central differences only for the variances and means of the conditioning
variables, which move the nodes). Standard errors: the inverse observed information, a
numerical Hessian of the marginal log-likelihood (forward differences of that gradient,
symmetrized; it agrees with central differences to 3e-4 relative on the 22-item model).

Without a mean structure in the table, the item intercepts ``x ~ 1`` are added as free
parameters (the products shift the item means) and the latent intercepts are 0.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...exceptions import ConvergenceWarning, DataError, SpecError

__all__ = ["fit_lms", "LMSModel", "default_quad_points"]

_PARAM_OPS = ("=~", "~", "~~", "~1")


def default_quad_points(k: int) -> int:
    """Gauss-Hermite nodes per dimension of the quadrature (``k`` conditioning variables).

    Measured quadrature error of the log-likelihood at the estimates (against 48-64
    nodes per dimension): the integrative model with ``COM:IS + COM:SL`` (k = 1, n = 300):
    0.12 with 16 nodes, 0.0009 with 32; models/integrative_moderation.lav (k = 2,
    n = 1,000): 0.04 with 16 x 16 nodes, 0.002 with 24 x 24. The error oscillates in sign
    as nodes are added (a linear 9-item model, X and Z integrated, n = 300: 1.09, .0098,
    -.084, -.0088, .0014 for 12, 16, 20, 32, 40 nodes per dimension): Gauss-Hermite nodes
    on the prior are coarse against the narrow posterior of a well-measured variable
    (adaptive quadrature, not implemented, would fix this)."""
    return {0: 1, 1: 32, 2: 16, 3: 8}.get(k, 5)


class _Table:
    """A parameter-table view without the product rows (for :func:`param_map_from_table`)."""

    def __init__(self, pt: Any, df: pd.DataFrame, meanstructure: bool):
        self.df = df
        self.ov = list(pt.ov)
        self.lv = list(pt.lv)
        self.meanstructure = meanstructure
        self.ov_x = list(getattr(pt, "ov_x", None) or [])
        self.npar = int(getattr(pt, "npar", 0) or 0)


@dataclass
class _Product:
    name: str
    target: int   # inner index of the dependent variable
    a: int        # inner index of the factor in C (or the first of two in C)
    b: int        # the other factor
    both: bool    # both factors in C: a constant given c
    row: tuple[str, str, str]


class LMSModel:
    """The LMS likelihood of one parameter table (see the module docstring).

    ``theta`` = the linear model's parameters (:class:`ParamMap` order), the product
    coefficients (table order), then the added item intercepts (without a mean structure).
    """

    def __init__(self, pt: Any, *, quad_points: int | None = None, condition_on: tuple[str, ...] | None = None):
        from ..matrices import param_map_from_table, table_rows

        products = list(getattr(pt, "lv_interactions", None) or [])
        names = {p[0] for p in products}
        rows = table_rows(pt)
        bad = [r for r in rows if r["op"] in ("==", "<", ">") and r["user"] != 2]
        if bad:
            r = bad[0]
            raise SpecError(f"line {r['line']}: {r['lhs']} {r['op']} {r['rhs']}: constraints are not supported "
                            "with latent interactions (lms, qml) yet")
        if any(r["group"] > 1 for r in rows):
            raise SpecError("multiple groups are not supported with latent interactions (lms)")
        prod_rows = [r for r in rows if r["op"] == "~" and r["rhs"] in names]
        for r in rows:
            if r["rhs"] in names and r["op"] != "~" or r["lhs"] in names:
                raise SpecError(f"line {r['line']}: {r['lhs']} {r['op']} {r['rhs']}: a product term can only be "
                                "a predictor (on the right of ~)")
        keep = [i for i, r in enumerate(rows) if not (r["op"] == "~" and r["rhs"] in names)]
        df = pt.df.iloc[keep].reset_index(drop=True)
        self.pt = pt
        self.added_means = not bool(pt.meanstructure)
        self.table = _Table(pt, df, True)
        pm = param_map_from_table(self.table)
        self.pm = pm
        inner = {v: i for i, v in enumerate(pm.base.inner)}
        self.inner = pm.base.inner
        self.observed = pm.base.observed
        m = len(self.inner)
        # exogenous inner variables: no regression into them
        beta_free = np.zeros((m, m), bool)
        for locs in pm.locations:
            for mat, i, j in locs:
                if mat == 0:
                    beta_free[i, j] = True
        beta_free |= pm.base.beta != 0
        endo = set(np.nonzero(beta_free.any(axis=1))[0])
        for r in prod_rows:
            endo.add(inner[r["lhs"]])
        lv = set(pt.lv)
        exo_lv = [v for v in self.inner if inner[v] not in endo and v in lv]
        # choose C: a greedy vertex cover of the products by exogenous latent variables
        pairs = []
        for name, a, b in products:
            if name not in {r["rhs"] for r in prod_rows}:
                continue
            for v in (a, b):
                if v not in inner:
                    raise SpecError(f"the interaction term {name!r}: {v!r} is neither a latent variable nor an "
                                    "observed variable in the structural part of the model")
            pairs.append((name, a, b))
        if condition_on is not None:
            cset = list(condition_on)
        else:
            cset = []
            todo = [(a, b) for _, a, b in pairs]
            while todo:
                cand = {}
                for a, b in todo:
                    for v in {a, b}:
                        if v in exo_lv:
                            cand[v] = cand.get(v, 0) + 1
                if not cand:
                    a, b = todo[0]
                    nm = next(n for n, x, y in pairs if (x, y) == (a, b))
                    line = next(r["line"] for r in prod_rows if r["rhs"] == nm)
                    raise SpecError(f"line {line}: latent interaction {nm!r}: lms needs one of {a!r}, {b!r} to be an "
                                    "exogenous latent variable (no regression on it)")
                best = max(cand, key=lambda v: (cand[v], -self.inner.index(v)))
                cset.append(best)
                todo = [(a, b) for a, b in todo if best not in (a, b)]
        for v in cset:
            if v not in exo_lv:
                raise SpecError(f"lms: {v!r} is not an exogenous latent variable")
        cset = sorted(cset, key=self.inner.index)
        self.C = np.array([inner[v] for v in cset], dtype=int)
        self.cnames = tuple(cset)
        cpos = set(self.C.tolist())
        self.products: list[_Product] = []
        for r in prod_rows:
            _, a, b = next(p for p in pairs if p[0] == r["rhs"])
            ia, ib = inner[a], inner[b]
            if ia not in cpos:
                ia, ib = ib, ia
            self.products.append(_Product(r["rhs"], inner[r["lhs"]], ia, ib, ib in cpos, (r["lhs"], "~", r["rhs"])))
        self.prod_rows = prod_rows
        self.n_lin = pm.n_free
        self.n_prod = len(self.products)
        p = len(self.observed)
        self.n_nu = p if self.added_means else 0
        self.n_theta = self.n_lin + self.n_prod + self.n_nu
        k = len(self.C)
        q = quad_points if quad_points is not None else default_quad_points(k)
        if k == 0:
            q = 1
        if k and (q < 2 or q > 200):
            raise SpecError(f"quad_points must be between 2 and 200 (got {q})")
        self.quad_points = q
        if k:
            x, w = np.polynomial.hermite_e.hermegauss(q)
            w = w / w.sum()
            grids = np.meshgrid(*([x] * k), indexing="ij")
            self.nodes = np.stack([g.ravel() for g in grids], axis=1)
            wg = np.meshgrid(*([w] * k), indexing="ij")
            self.weights = np.prod(np.stack([g.ravel() for g in wg], axis=1), axis=1)
        else:
            self.nodes = np.zeros((1, 0))
            self.weights = np.ones(1)
        self.log_weights = np.log(self.weights)
        # cell locations for batched matrix building
        self._locs = pm.locations
        # gradient: analytic except for the parameters that move the quadrature nodes
        # (variances/covariances and means of the conditioning variables): central differences
        cpos_ = set(self.C.tolist())

        def needs_fd(locs):
            for mm, i, j in locs:
                if mm == 2 and (i in cpos_ or j in cpos_) or mm == 5 and i in cpos_:
                    return True
            return False

        self.fd_idx = np.array([j for j, locs in enumerate(pm.locations) if needs_fd(locs)], dtype=int)
        self.an_idx = [(j, locs) for j, locs in enumerate(pm.locations) if not needs_fd(locs)]
        self.npar = pm.npar + self.n_prod + self.n_nu

    # ------------------------------------------------------------------ names
    def names(self) -> list[tuple[str, str, str]]:
        out = list(self.pm.names) + [pr.row for pr in self.products]
        if self.added_means:
            out += [(v, "~1", "") for v in self.observed]
        return out

    # ------------------------------------------------------------------ matrices
    def batch_matrices(self, thetas: np.ndarray) -> dict[str, np.ndarray]:
        """Model matrices for a stack of parameter vectors ``thetas`` (K, n_theta)."""
        K = thetas.shape[0]
        b = self.pm.base
        mats = [np.repeat(b.beta[None], K, 0), np.repeat(b.lambda_[None], K, 0), np.repeat(b.psi[None], K, 0),
                np.repeat(b.theta[None], K, 0), np.repeat(b.nu[None], K, 0), np.repeat(b.alpha[None], K, 0)]
        for j, locs in enumerate(self._locs):
            v = thetas[:, j]
            for mat, i, jj in locs:
                if mat >= 4:
                    mats[mat][:, i] = v
                else:
                    mats[mat][:, i, jj] = v
        if self.added_means:
            mats[4] = thetas[:, self.n_lin + self.n_prod:].copy()
        g = thetas[:, self.n_lin:self.n_lin + self.n_prod]
        return {"beta": mats[0], "lambda": mats[1], "psi": mats[2], "theta": mats[3], "nu": mats[4],
                "alpha": mats[5], "omega": g}

    def node_moments(self, thetas: np.ndarray, parts: bool = False):
        """Item means (K, Q, p) and covariances (K, Q, p, p) at every node, and the inner
        means (K, Q, m) and covariances (K, Q, m, m)."""
        M = self.batch_matrices(thetas)
        beta, lam, psi, th, nu, alpha, g = (M[k] for k in ("beta", "lambda", "psi", "theta", "nu", "alpha", "omega"))
        K, m = beta.shape[0], beta.shape[1]
        C = self.C
        k = len(C)
        Q = len(self.weights)
        eye = np.eye(m)
        if k:
            psi_cc = psi[:, C][:, :, C]
            L = np.linalg.cholesky(psi_cc)  # LinAlgError if not PD
            c = alpha[:, None, C] + np.einsum("kab,qb->kqa", L, self.nodes)  # (K,Q,k)
            G = np.linalg.solve(psi_cc, psi[:, C, :]).transpose(0, 2, 1)  # (K,m,k): Psi_.C Psi_CC^-1
            V = psi - G @ psi[:, C, :]
            a = alpha[:, None, :] + np.einsum("kmc,kqc->kqm", G, c - alpha[:, None, C])
        else:
            c = np.zeros((K, Q, 0))
            V = psi
            a = np.repeat(alpha[:, None, :], Q, 1)
        Bq = np.repeat(beta[:, None], Q, 1)
        cidx = {int(v): s for s, v in enumerate(C)}
        for j, pr in enumerate(self.products):
            ca = c[:, :, cidx[pr.a]]
            if pr.both:
                a = a.copy() if j == 0 else a
                a[:, :, pr.target] += g[:, j, None] * ca * c[:, :, cidx[pr.b]]
            else:
                Bq[:, :, pr.target, pr.b] += g[:, j, None] * ca
        A = np.linalg.inv(eye - Bq)  # (K,Q,m,m)
        mz = (A @ a[..., None])[..., 0]
        Sz = A @ V[:, None] @ A.transpose(0, 1, 3, 2)
        mx = nu[:, None, :] + mz @ lam.transpose(0, 2, 1)
        LA = lam[:, None] @ A
        Sx = LA @ (V[:, None] @ LA.transpose(0, 1, 3, 2)) + th[:, None]
        if parts:
            return mx, Sx, mz, Sz, {"A": A, "LA": LA, "c": c, "lam": lam}
        return mx, Sx, mz, Sz

    # ------------------------------------------------------------------ likelihood
    def estep(self, theta: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Marginal log-likelihood and posterior node probabilities (n, Q)."""
        mx, Sx, _, _ = self.node_moments(theta[None])
        mx, Sx = mx[0], Sx[0]
        n, p = x.shape
        L = np.linalg.cholesky(Sx)  # (Q,p,p)
        Linv = np.linalg.inv(L)
        P = Linv.transpose(0, 2, 1) @ Linv  # Sigma_q^-1
        xc, xx = self._data(x)
        mc = mx - self._shift
        Pm = (P @ mc[:, :, None])[:, :, 0]  # (Q,p)
        # (x - mu)' P (x - mu) = x'Px - 2 x'P mu + mu'P mu, x centred at its mean (one GEMM)
        maha = xx @ P.reshape(-1, p * p).T - 2 * (xc @ Pm.T) + (mc * Pm).sum(1)[None]
        logdet = 2 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(1)
        lf = self.log_weights[None, :] - 0.5 * (p * np.log(2 * np.pi) + logdet[None, :] + maha)
        mx_ = lf.max(1, keepdims=True)
        dl = lf - mx_
        s = np.exp(np.where(dl < -500.0, -np.inf, dl))  # no denormals (slow arithmetic)
        tot = s.sum(1, keepdims=True)
        ll = float(np.sum(np.log(tot) + mx_))
        return ll, s / tot

    _xx_cache: tuple = (None, None, None)
    _shift: Any = 0.0

    def _data(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``x`` centred at its mean and the rows' outer products (n, p*p), cached."""
        if self._xx_cache[0] is not x:
            n, p = x.shape
            self._shift = x.mean(0)
            xc = x - self._shift
            self._xx_cache = (x, xc, (xc[:, :, None] * xc[:, None, :]).reshape(n, p * p))
        return self._xx_cache[1], self._xx_cache[2]

    def suff_stats(self, r: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-node weight N_q, weighted mean (Q,p) and scatter about it / N_q (Q,p,p)."""
        n, p = x.shape
        xc, xx = self._data(x)
        nq = r.sum(0)
        nq_safe = np.maximum(nq, 1e-300)
        xbar_c = (r.T @ xc) / nq_safe[:, None]
        S = (xx.T @ r).T.reshape(-1, p, p) / nq_safe[:, None, None] - xbar_c[:, :, None] * xbar_c[:, None, :]
        xbar = xbar_c + self._shift
        return nq, xbar, S

    def q_grad(self, theta: np.ndarray, stats: tuple, h: float = 1e-6) -> tuple[float, np.ndarray]:
        """Q and its gradient: the analytic derivative of Q in each node's item mean and
        covariance, chained with central differences of those moments in ``theta`` (one
        batched evaluation); the added intercepts analytically."""
        nq, xbar, S = stats
        mx, Sx, mz, Sz, parts = self.node_moments(theta[None], parts=True)
        mx, Sx, mz, Sz = mx[0], Sx[0], mz[0], Sz[0]
        A, LA, c, lam = parts["A"][0], parts["LA"][0], parts["c"][0], parts["lam"][0]
        p = Sx.shape[-1]
        L = np.linalg.cholesky(Sx)
        Linv = np.linalg.inv(L)
        Sinv = Linv.transpose(0, 2, 1) @ Linv
        d = xbar - mx
        Sfull = S + d[:, :, None] * d[:, None, :]
        logdet = 2 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(-1)
        tr = np.einsum("qij,qji->q", Sinv, Sfull)
        val = float(-0.5 * (nq * (logdet + tr + p * np.log(2 * np.pi))).sum())
        W = Sinv @ Sfull @ Sinv
        gS = -0.5 * nq[:, None, None] * (Sinv - W)  # dQ/dSigma_q (symmetric, full-matrix convention)
        gm = nq[:, None] * np.einsum("qij,qj->qi", Sinv, d)  # dQ/dmu_q
        nt = len(theta)
        fd = self.fd_idx
        nf = len(fd)
        g = np.zeros(nt)
        if nf:
            step = h * np.maximum(1.0, np.abs(theta[fd]))
            T = np.repeat(theta[None], 2 * nf, 0)
            r = np.arange(nf)
            T[r, fd] += step
            T[nf + r, fd] -= step
            mxk, Sxk, _, _ = self.node_moments(T)
            dmu = (mxk[:nf] - mxk[nf:]) / (2 * step)[:, None, None]
            dS = (Sxk[:nf] - Sxk[nf:]) / (2 * step)[:, None, None, None]
            g[fd] = dS.reshape(nf, -1) @ gS.ravel() + dmu.reshape(nf, -1) @ gm.ravel()
        Lg = lam.T @ gS @ lam  # (Q,m,m): Lambda' dQ/dSigma Lambda
        Ppsi = (A.transpose(0, 2, 1) @ Lg @ A).sum(0)  # dQ/dV
        Rb = 2 * (Sz @ Lg @ A)  # [s,t]: covariance part of dQ/dB[t,s]
        v = np.einsum("qpm,qp->qm", LA, gm)  # A' Lambda' dQ/dmu
        Gbeta = Rb.sum(0).T + v.T @ mz  # dQ/dB (m,m) [t,s]
        gSsum = gS.sum(0)
        GL = 2 * (gS @ lam @ Sz).sum(0) + gm.T @ mz  # dQ/dLambda (p,m)
        Galpha = v.sum(0)
        mats = {0: Gbeta, 1: GL, 2: Ppsi, 3: gSsum}
        for j, locs in self.an_idx:
            tot = 0.0
            for mm, i, k in locs:
                if mm <= 3:
                    tot += mats[mm][i, k]
                elif mm == 4:
                    tot += gm[:, i].sum()
                else:
                    tot += Galpha[i]
            g[j] = tot
        cidx = {int(vv): s_ for s_, vv in enumerate(self.C)}
        for jj, pr in enumerate(self.products):
            ca = c[:, cidx[pr.a]]
            if pr.both:
                g[self.n_lin + jj] = float((v[:, pr.target] * ca * c[:, cidx[pr.b]]).sum())
            else:
                g[self.n_lin + jj] = float((ca * (Rb[:, pr.b, pr.target] + v[:, pr.target] * mz[:, pr.b])).sum())
        if self.added_means:
            g[self.n_lin + self.n_prod:] = gm.sum(0)
        return val, g

    def loglik_grad(self, theta: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Marginal log-likelihood and its gradient (Fisher's identity)."""
        ll, r = self.estep(theta, x)
        _, g = self.q_grad(theta, self.suff_stats(r, x))
        return ll, g

    # ------------------------------------------------------------------ start values
    def start(self, x: np.ndarray) -> np.ndarray:
        """The linear model's ML estimates (products 0), intercepts the item means."""
        from ..matrices import start_values
        from .. import ml

        mean, s = ml.sample_moments(x)
        pm_cov = _cov_table(self.table)
        from ..matrices import param_map_from_table

        pmc = param_map_from_table(pm_cov)
        st = start_values(pm_cov, pmc, mean, s)
        th, ok, _ = ml.minimize_ml(pmc, st, s, None)
        theta = np.zeros(self.n_theta)
        for j, key in enumerate(self.pm.names):
            if key in pmc.aliases:
                theta[j] = th[pmc.aliases[key]]
            elif key[1] == "~1":
                theta[j] = 0.0
        if self.added_means:
            theta[self.n_lin + self.n_prod:] = mean
        else:  # the table's own intercepts: the item means, latent means 0
            obs = {v: i for i, v in enumerate(self.observed)}
            for j, key in enumerate(self.pm.names):
                if key[1] == "~1" and key[0] in obs:
                    theta[j] = mean[obs[key[0]]]
        return theta


def _cov_table(t: _Table) -> _Table:
    """The table without its mean rows (for the covariance-only start)."""
    df = t.df[t.df["op"] != "~1"].reset_index(drop=True)
    out = _Table.__new__(_Table)
    out.df, out.ov, out.lv, out.meanstructure = df, t.ov, t.lv, False
    out.ov_x, out.npar = t.ov_x, t.npar
    return out


# --------------------------------------------------------------------------- fitting


def _item_data(pt: Any, data: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    ov = list(pt.ov)
    if not isinstance(data, pd.DataFrame):
        raise DataError("data must be a pandas DataFrame")
    absent = [c for c in ov if c not in data.columns]
    if absent:
        raise DataError(f"the data lack the column(s) {', '.join(absent)} named in the model")
    try:
        x = data[ov].astype(float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"the model's columns must be numeric ({exc})") from None
    keep = x.notna().all(axis=1)
    dropped = int((~keep).sum())
    x = x[keep].reset_index(drop=True)
    if len(x) <= x.shape[1]:
        raise DataError(f"only {len(x)} complete rows for {x.shape[1]} observed variables")
    return x, dropped


def maximize(lm: LMSModel, x: np.ndarray, start: np.ndarray, *, em_steps: int = 5, em_tol: float = 1e-6,
             max_iter: int = 2000) -> tuple[np.ndarray, float, bool, int]:
    """Up to ``em_steps`` EM iterations (each M-step: at most 20 L-BFGS-B steps on the
    expected complete-data log-likelihood; stop early when the log-likelihood changes by
    less than ``em_tol`` per case), then BFGS on the marginal log-likelihood to a
    gradient below 1e-7 per case. Converged: final gradient below 1e-4 per case.
    Returns ``(theta, loglik, converged, iterations)``."""
    from scipy.optimize import minimize

    theta = start.copy()
    n = x.shape[0]
    ll_old = -np.inf
    it = 0
    if len(lm.C):
        for it in range(1, em_steps + 1):
            ll, r = lm.estep(theta, x)
            stats = lm.suff_stats(r, x)

            def negq(t):
                try:
                    v, g = lm.q_grad(t, stats)
                except np.linalg.LinAlgError:
                    return 1e300, np.zeros_like(t)
                if not np.isfinite(v):
                    return 1e300, np.zeros_like(t)
                return -v / n, -g / n

            res = minimize(negq, theta, jac=True, method="L-BFGS-B", options={"maxiter": 20})
            theta = res.x
            if abs(ll - ll_old) < em_tol * n:
                break
            ll_old = ll

    def neg(t):
        try:
            ll, g = lm.loglik_grad(t, x)
        except np.linalg.LinAlgError:
            return 1e300, np.zeros_like(t)
        if not np.isfinite(ll):
            return 1e300, np.zeros_like(t)
        return -ll / n, -g / n

    res = minimize(neg, theta, jac=True, method="BFGS", options={"gtol": 1e-7, "maxiter": max_iter})
    theta = res.x
    ll, g = lm.loglik_grad(theta, x)
    ok = bool(np.max(np.abs(g / n)) < 1e-4)
    return theta, ll, ok, it + int(res.nit)


def hessian(lm: LMSModel, theta: np.ndarray, x: np.ndarray, h: float = 1e-4, central: bool = False) -> np.ndarray:
    """Numerical Hessian of the marginal log-likelihood: forward (or central) differences
    of its gradient, symmetrized."""
    nt = len(theta)
    H = np.zeros((nt, nt))
    g0 = lm.loglik_grad(theta, x)[1] if not central else None
    for j in range(nt):
        s = h * max(1.0, abs(theta[j]))
        tp = theta.copy()
        tp[j] += s
        if central:
            tm = theta.copy()
            tm[j] -= s
            H[:, j] = (lm.loglik_grad(tp, x)[1] - lm.loglik_grad(tm, x)[1]) / (2 * s)
        else:
            H[:, j] = (lm.loglik_grad(tp, x)[1] - g0) / s
    return 0.5 * (H + H.T)


def fit_lms(model: Any, pt: Any, data: pd.DataFrame, *, quad_points: int | None = None,
            condition_on: tuple[str, ...] | None = None, start: np.ndarray | None = None,
            se: bool = True, **options: Any):
    """Fit the parameter table ``pt`` (with its ``y ~ a:b`` rows) by LMS.

    Parameters
    ----------
    model : SEMModel or None
        Kept on the result.
    pt : ParTable
        ``model.table()``; ``pt.lv_interactions`` names the products.
    data : DataFrame
        Item columns (``pt.ov``); rows with a missing item are dropped (with a warning).
    quad_points : int, optional
        Gauss-Hermite nodes per conditioning variable (default 32 for one, 16 for two,
        8 for three).
    condition_on : tuple of str, optional
        The exogenous latent variables integrated by quadrature (default: the fewest that
        touch every product). Naming some with no product is allowed (a check of the
        quadrature against the exact linear fit).
    start : ndarray, optional
        Start values (``theta`` order of :class:`LMSModel`), e.g. a full-sample solution.
    se : bool
        False skips the Hessian (SEs NaN), e.g. inside a bootstrap.

    Returns
    -------
    InteractionFit
    """
    unknown = set(options) - {"em_steps", "max_iter"}
    if unknown:
        raise SpecError(f"fit_lms: unknown option(s) {', '.join(sorted(unknown))}")
    from ..._threads import single_thread

    with single_thread():  # same bits in any process; small BLAS calls are faster on one thread
        return _fit_lms(model, pt, data, quad_points=quad_points, condition_on=condition_on, start=start, se=se,
                        **options)


def _fit_lms(model: Any, pt: Any, data: pd.DataFrame, *, quad_points: int | None, condition_on: Any,
             start: Any, se: bool, **options: Any):
    from .results import InteractionFit

    t0 = time.perf_counter()
    lm = LMSModel(pt, quad_points=quad_points, condition_on=condition_on)
    xdf, dropped = _item_data(pt, data)
    if dropped:
        warnings.warn(f"{dropped} row(s) with missing values were dropped (listwise deletion)", stacklevel=2)
    x = xdf.to_numpy(dtype=float)
    theta0 = lm.start(x) if start is None else np.asarray(start, float)
    theta, ll, ok, nit = maximize(lm, x, theta0, **{k: v for k, v in options.items() if k in ("em_steps", "max_iter")})
    if not ok:
        g = lm.loglik_grad(theta, x)[1]
        warnings.warn(f"the LMS fit did not converge (largest gradient at {_name(lm, int(np.argmax(np.abs(g))))}); "
                      "estimates may be unreliable", ConvergenceWarning, stacklevel=2)
    nt = lm.n_theta
    if se:
        H = hessian(lm, theta, x)
        try:
            vcov = np.linalg.inv(-H)
            if not np.all(np.isfinite(vcov)) or np.any(np.diag(vcov) < 0):
                raise np.linalg.LinAlgError
        except np.linalg.LinAlgError:
            warnings.warn("the observed information of the LMS fit is singular (weakest direction mostly "
                          f"{_name(lm, _weakest(H))}): standard errors are NaN", ConvergenceWarning, stacklevel=2)
            vcov = np.full((nt, nt), np.nan)
    else:
        vcov = np.full((nt, nt), np.nan)
    return InteractionFit.build("lms", model, pt, xdf, lm, theta, vcov, ll, ok, nit, dropped,
                                seconds=time.perf_counter() - t0)


def _name(lm: Any, j: int) -> str:
    return " ".join(lm.names()[j]).strip()


def _weakest(H: np.ndarray) -> int:
    """The parameter with the largest weight in the eigenvector of the smallest eigenvalue
    of the information (the least determined direction)."""
    try:
        w, v = np.linalg.eigh(-np.nan_to_num(H))
        return int(np.argmax(np.abs(v[:, 0])))
    except np.linalg.LinAlgError:
        return 0


def bootstrap_lms(res: Any, draws: int, *, seed: int | np.random.SeedSequence = 0, tol: float = 1e-3,
                  max_iter: int = 100) -> np.ndarray:
    """Nonparametric bootstrap of an LMS fit: ``draws`` resamples of the cases (stream
    ``k`` of ``SeedSequence(seed)`` draws resample ``k``, so results do not depend on how
    draws are split), each refitted from the full-sample estimate by Newton steps with the
    full sample's observed information (``res.vcov``) as the first inverse Hessian,
    updated by BFGS (step halving if the likelihood drops) until every parameter's step is below ``tol`` times its standard error (the
    refit's error is then a small fraction of the sampling spread the bootstrap measures;
    no EM, no start fit, no new Hessian). Returns
    the estimates (draws, n_theta) in :meth:`LMSModel.names` order (NaN rows where a
    refit did not converge)."""
    from ..._threads import single_thread

    lm = res.engine
    x_full = res.data.to_numpy(dtype=float)
    n = len(x_full)
    V = _full_vcov(res)
    if not np.all(np.isfinite(V)):
        raise ValueError("bootstrap_lms needs the full-sample fit's standard errors (fit_lms(..., se=True))")
    se = np.sqrt(np.diag(V))
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    out = np.full((draws, lm.n_theta), np.nan)
    with single_thread():
        for k, s in enumerate(ss.spawn(draws)):
            x = x_full[np.random.default_rng(s).integers(0, n, n)]
            theta = res.theta.copy()
            ll, g = lm.loglik_grad(theta, x)
            Hi = V.copy()  # inverse of minus the Hessian, updated by BFGS
            for _ in range(max_iter):
                step = Hi @ g
                t = 1.0
                while t > 1e-4:
                    try:
                        ll_new, g_new = lm.loglik_grad(theta + t * step, x)
                    except np.linalg.LinAlgError:
                        ll_new = -np.inf
                    if np.isfinite(ll_new) and ll_new >= ll - 1e-10 * abs(ll):
                        break
                    t /= 2
                else:
                    break
                sk = t * step
                yk = g - g_new  # gradient of minus the log-likelihood: g_new_neg - g_neg
                theta = theta + sk
                ll, g = ll_new, g_new
                if np.all(np.abs(sk) <= tol * se):
                    out[k] = theta
                    break
                sy = float(sk @ yk)
                if sy > 1e-12:
                    rho = 1.0 / sy
                    A = np.eye(len(sk)) - rho * np.outer(sk, yk)
                    Hi = A @ Hi @ A.T + rho * np.outer(sk, sk)
    return out


def _full_vcov(res: Any) -> np.ndarray:
    """``res.vcov`` over every element of ``theta`` (fixed.x rows included: from the Hessian)."""
    names = [f"{l} {o} {r}".rstrip() for l, o, r in res.engine.names()]
    if list(res.vcov.index) == names:
        return res.vcov.to_numpy()
    return res._vcov_all
