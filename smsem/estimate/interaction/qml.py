"""Quasi-maximum likelihood for latent interactions (QML; Klein & Muthén, 2007).

The items are split into those of the exogenous latent variables (``x``) and those of the
endogenous ones (``y``). For every endogenous latent variable one reference item (its
first indicator) is kept; the other ``y`` items are replaced by the residuals
``r = y_N - Lambda_N Lambda_R^-1 y_R``, which contain measurement errors only. Then

    f(x, y) = f(x) f(r) f(y_R | x, r)

with ``f(x)`` and ``f(r)`` exactly normal and ``f(y_R | x, r)`` approximated by the normal
density with its exact conditional mean and covariance: given ``x``, the exogenous
latent variables are normal (``N(m(x), V)``), every endogenous one is a quadratic form in
them and the structural disturbances, and the moments of quadratic forms of normal
variables are closed-form. Without products the approximation is exact and QML is ML.
The maximum is found by L-BFGS-B (numerical gradient); SEs are the inverse observed
information (a numerical Hessian of the quasi-log-likelihood).

Scope (refused in one line otherwise): items loading on one latent variable each, no
residual covariances between ``x`` and ``y`` items, no observed variables in the
structural part, every product a product of at most quadratic order in the exogenous
variables and disturbances (one factor exogenous, or both linear in them).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

from ...exceptions import ConvergenceWarning, SpecError
from .lms import LMSModel, _item_data

__all__ = ["fit_qml", "QMLModel"]

_LOG2PI = np.log(2 * np.pi)


def _mvn_logpdf(d: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """log N(d; 0, cov) for rows of ``d``; ``cov`` (p,p) or per row (n,p,p)."""
    L = np.linalg.cholesky(cov)
    p = d.shape[-1]
    if cov.ndim == 2:
        z = np.linalg.solve(L, d.T).T
        logdet = 2 * np.log(np.diag(L)).sum()
    else:
        z = np.linalg.solve(L, d[..., None])[..., 0]
        logdet = 2 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(-1)
    return -0.5 * (p * _LOG2PI + logdet + (z * z).sum(-1))


class QMLModel:
    """The QML quasi-likelihood of one parameter table (``theta`` as :class:`LMSModel`)."""

    def __init__(self, pt: Any):
        lm = LMSModel(pt, quad_points=8)  # its quadrature serves the implied moments only (exact to degree 15)
        self.lm = lm
        inner, obs = list(lm.inner), list(lm.observed)
        lv = set(pt.lv)
        if any(v not in lv for v in inner):
            raise SpecError("qml: observed variables in the structural part are not supported (use lms)")
        M = lm.batch_matrices(np.zeros((1, lm.n_theta)))
        beta, lam = M["beta"][0], M["lambda"][0]
        m = len(inner)
        # structure from the free/fixed cells (a free cell counts as non-zero)
        bmask = beta != 0
        lmask = lam != 0
        pmask = M["psi"][0] != 0
        for locs in lm.pm.locations:
            for mm, i, j in locs:
                if mm == 0:
                    bmask[i, j] = True
                elif mm == 1:
                    lmask[i, j] = True
                elif mm == 2:
                    pmask[i, j] = pmask[j, i] = True
        endo = set(np.nonzero(bmask.any(1))[0]) | {pr.target for pr in lm.products}
        self.E = np.array([i for i in range(m) if i not in endo], int)
        self.N = np.array(sorted(endo), int)
        if len(self.N) == 0:
            raise SpecError("qml: the model has no endogenous latent variable")
        if pmask[np.ix_(self.E, self.N)].any():
            raise SpecError("qml: covariances between exogenous latent variables and disturbances are not supported")
        if (lmask.sum(1) != 1).any():
            bad = obs[int(np.nonzero(lmask.sum(1) != 1)[0][0])]
            raise SpecError(f"qml: item {bad!r} must load on exactly one latent variable")
        owner = lmask.argmax(1)
        self.xi = np.array([k for k in range(len(obs)) if owner[k] in set(self.E)], int)
        yi = [k for k in range(len(obs)) if owner[k] in endo]
        ref = []
        for v in self.N:
            items = [k for k in yi if owner[k] == v]
            if not items:
                raise SpecError(f"qml: the endogenous latent variable {inner[v]!r} has no indicator")
            ref.append(items[0])
        self.R = np.array(ref, int)
        self.Nn = np.array([k for k in yi if k not in set(ref)], int)
        thmask = M["theta"][0] != 0
        for locs in lm.pm.locations:
            for mm, i, j in locs:
                if mm == 3:
                    thmask[i, j] = thmask[j, i] = True
        if thmask[np.ix_(self.xi, np.array(yi, int))].any():
            raise SpecError("qml: residual covariances between items of exogenous and endogenous variables are "
                            "not supported")
        # topological order of the endogenous variables
        order, done = [], set(self.E.tolist())
        while len(order) < len(self.N):
            ready = [v for v in self.N if v not in done and all(u in done for u in np.nonzero(bmask[v])[0])
                     and all(u in done for pr in lm.products if pr.target == v for u in (pr.a, pr.b))]
            if not ready:
                raise SpecError("qml: the structural model is not recursive")
            for v in ready:
                order.append(int(v))
                done.add(int(v))
        self.order = order
        self.bmask = bmask
        self.nw = len(self.E) + len(self.N)

    def loglik(self, theta: np.ndarray, x: np.ndarray, per_case: bool = False):
        lm = self.lm
        M = lm.batch_matrices(theta[None])
        beta, lam, psi, th, nu, alpha, g = (M[k][0] for k in ("beta", "lambda", "psi", "theta", "nu", "alpha",
                                                               "omega"))
        E, N, xi, R, Nn = self.E, self.N, self.xi, self.R, self.Nn
        nE, nN = len(E), len(N)
        # f(x)
        LX = lam[np.ix_(xi, E)]
        phi = psi[np.ix_(E, E)]
        kappa = alpha[E]
        mu_x = nu[xi] + LX @ kappa
        S_x = LX @ phi @ LX.T + th[np.ix_(xi, xi)]
        dx = x[:, xi] - mu_x
        ll = _mvn_logpdf(dx, S_x)
        # xi | x
        Kx = np.linalg.solve(S_x, LX @ phi).T  # (nE, px) = Phi LX' Sx^-1
        m_xi = kappa + dx @ Kx.T  # (n, nE)
        V_xi = phi - Kx @ LX @ phi
        V = np.zeros((self.nw, self.nw))
        V[:nE, :nE] = V_xi
        V[nE:, nE:] = psi[np.ix_(N, N)]
        n = x.shape[0]
        mw = np.zeros((n, self.nw))
        mw[:, :nE] = m_xi
        # quadratic polynomials in w of every inner variable
        m = len(lm.inner)
        c = np.zeros(m)
        b = np.zeros((m, self.nw))
        A = np.zeros((m, self.nw, self.nw))
        quad = np.zeros(m, bool)
        for j, v in enumerate(E):
            b[v, j] = 1.0
        npos = {int(v): nE + k for k, v in enumerate(N)}
        for v in self.order:
            c[v] = alpha[v]
            b[v, npos[v]] = 1.0
            for s in np.nonzero(self.bmask[v])[0]:
                c[v] += beta[v, s] * c[s]
                b[v] += beta[v, s] * b[s]
                A[v] += beta[v, s] * A[s]
                quad[v] |= quad[s] and beta[v, s] != 0
            for jj, pr in enumerate(lm.products):
                if pr.target != v:
                    continue
                a_, b_ = pr.a, pr.b
                if quad[a_] or quad[b_]:
                    raise SpecError(f"qml: the product {pr.name!r} is of order above two in the exogenous "
                                    "variables and disturbances")
                gg = g[jj]
                c[v] += gg * c[a_] * c[b_]
                b[v] += gg * (c[a_] * b[b_] + c[b_] * b[a_])
                outer = np.outer(b[a_], b[b_])
                A[v] += gg * 0.5 * (outer + outer.T)
                quad[v] = True
        cN, bN, AN = c[N], b[N], A[N]
        # conditional moments of eta | x
        Am = np.einsum("kij,nj->nki", AN, mw)  # (n,e,w)
        mean_eta = cN + mw @ bN.T + np.einsum("nki,ni->nk", Am, mw) + np.einsum("kij,ji->k", AN, V)
        BV = bN @ V
        G = np.einsum("kd,nld->nkl", BV, Am)  # b_k' V A_l m
        AV = AN @ V  # (e,w,w)
        cov_eta = (BV @ bN.T)[None] + 2 * (G + G.transpose(0, 2, 1)) \
            + 4 * np.einsum("nki,ij,nlj->nkl", Am, V, Am) + 2 * np.einsum("kij,lji->kl", AV, AV)[None]
        # residual items r and the reference items
        LR = lam[np.ix_(R, N)]
        LN = lam[np.ix_(Nn, N)]
        T = LN @ np.linalg.inv(LR)
        thRR, thNN, thRN = th[np.ix_(R, R)], th[np.ix_(Nn, Nn)], th[np.ix_(R, Nn)]
        if len(Nn):
            mu_r = nu[Nn] - T @ nu[R]
            S_r = thNN + T @ thRR @ T.T - thRN.T @ T.T - T @ thRN
            r = x[:, Nn] - x[:, R] @ T.T - mu_r
            ll = ll + _mvn_logpdf(r, S_r)
            C_er = thRN - thRR @ T.T  # Cov(eps_R, r)
            K = np.linalg.solve(S_r, C_er.T).T
            e_mean = r @ K.T
            e_cov = thRR - K @ C_er.T
        else:
            e_mean = np.zeros((n, len(R)))
            e_cov = thRR
        mu_y = nu[R] + mean_eta @ LR.T + e_mean
        S_y = LR[None] @ cov_eta @ LR.T[None] + e_cov[None]
        ll = ll + _mvn_logpdf(x[:, R] - mu_y, S_y)
        return ll if per_case else float(ll.sum())


def _safe(qm: QMLModel, t: np.ndarray, x: np.ndarray) -> float:
    try:
        v = qm.loglik(t, x)
    except np.linalg.LinAlgError:
        return -np.inf
    return v if np.isfinite(v) else -np.inf


def fit_qml(model: Any, pt: Any, data: pd.DataFrame, *, se: bool = True, start: np.ndarray | None = None,
            **options: Any):
    """Fit the parameter table ``pt`` (with its ``y ~ a:b`` rows) by QML.

    Same parameters and result as :func:`smsem.estimate.interaction.lms.fit_lms`
    (``method == "qml"``; ``loglik`` is the quasi-log-likelihood).
    """
    from scipy.optimize import minimize

    from ..._threads import single_thread
    from .results import InteractionFit

    if options:
        raise SpecError(f"fit_qml: unknown option(s) {', '.join(sorted(options))}")
    t0 = time.perf_counter()
    qm = QMLModel(pt)
    lm = qm.lm
    xdf, dropped = _item_data(pt, data)
    if dropped:
        warnings.warn(f"{dropped} row(s) with missing values were dropped (listwise deletion)", stacklevel=2)
    x = xdf.to_numpy(dtype=float)
    n = len(x)
    with single_thread():
        theta0 = lm.start(x) if start is None else np.asarray(start, float)

        def f(t):
            v = _safe(qm, t, x)
            return 1e300 if not np.isfinite(v) else -v / n

        def fg(t):
            v = f(t)
            h = 1e-6 * np.maximum(1.0, np.abs(t))
            g = np.empty_like(t)
            for j in range(len(t)):
                tp, tm = t.copy(), t.copy()
                tp[j] += h[j]
                tm[j] -= h[j]
                g[j] = (f(tp) - f(tm)) / (2 * h[j])
            return v, g

        res = minimize(fg, theta0, jac=True, method="BFGS", options={"gtol": 1e-6, "maxiter": 1000})
        theta = res.x
        ll = qm.loglik(theta, x)
        _, gr = fg(theta)
        ok = bool(np.max(np.abs(gr)) < 1e-4)
        if not ok:
            warnings.warn("the QML fit did not converge (gradient not zero); estimates may be unreliable",
                          ConvergenceWarning, stacklevel=2)
        nt = len(theta)
        vcov = np.full((nt, nt), np.nan)
        if se:
            H = np.zeros((nt, nt))
            for j in range(nt):
                hj = 1e-4 * max(1.0, abs(theta[j]))
                tp, tm = theta.copy(), theta.copy()
                tp[j] += hj
                tm[j] -= hj
                H[:, j] = -(fg(tp)[1] - fg(tm)[1]) * n / (2 * hj)
            H = 0.5 * (H + H.T)
            try:
                vcov = np.linalg.inv(-H)
                if np.any(np.diag(vcov) < 0):
                    raise np.linalg.LinAlgError
            except np.linalg.LinAlgError:
                warnings.warn("the observed information of the QML fit is singular: standard errors are NaN",
                              ConvergenceWarning, stacklevel=2)
                vcov = np.full((nt, nt), np.nan)
    return InteractionFit.build("qml", model, pt, xdf, lm, theta, vcov, ll, ok, int(res.nit), dropped,
                                seconds=time.perf_counter() - t0)
