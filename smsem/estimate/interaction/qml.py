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
The maximum is found by BFGS (central-difference gradient); SEs are the inverse observed
information (forward differences of that gradient: a numerical Hessian of the
quasi-log-likelihood).

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
from .lms import LMSModel, _item_data, _name, _weakest

__all__ = ["fit_qml", "QMLModel"]

_LOG2PI = np.log(2 * np.pi)


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
        quad = set()
        for v in order:
            if any(s_ in quad for s_ in np.nonzero(bmask[v])[0]):
                quad.add(v)
            for pr in lm.products:
                if pr.target == v:
                    if pr.a in quad or pr.b in quad:
                        raise SpecError(f"qml: the product {pr.name!r} is of order above two in the exogenous "
                                        "variables and disturbances (lms fits it)")
                    quad.add(v)
        self.nw = len(self.E) + len(self.N)

    def loglik(self, theta: np.ndarray, x: np.ndarray, per_case: bool = False):
        """The quasi-log-likelihood at ``theta`` (its per-case terms with ``per_case``)."""
        v = self.loglik_batch(np.asarray(theta, float)[None], x, per_case=per_case)
        return v[0] if per_case else float(v[0])

    def loglik_batch(self, thetas: np.ndarray, x: np.ndarray, per_case: bool = False) -> np.ndarray:
        """The quasi-log-likelihood at each row of ``thetas`` (K, n_theta)."""
        lm = self.lm
        M = lm.batch_matrices(thetas)
        beta, lam, psi, th, nu, alpha, g = (M[k] for k in ("beta", "lambda", "psi", "theta", "nu", "alpha",
                                                            "omega"))
        E, N, xi, R, Nn = self.E, self.N, self.xi, self.R, self.Nn
        nE = len(E)
        K, n = thetas.shape[0], x.shape[0]
        tr = lambda a: a.transpose(0, 2, 1)  # noqa: E731
        # f(x)
        LX = lam[:, xi][:, :, E]
        phi = psi[:, E][:, :, E]
        kappa = alpha[:, E]
        mu_x = nu[:, xi] + (LX @ kappa[..., None])[..., 0]
        S_x = LX @ phi @ tr(LX) + th[:, xi][:, :, xi]
        dx = x[None, :, xi] - mu_x[:, None, :]  # (K,n,px)
        ll = _mvn_logpdf_k(dx, S_x)
        Kx = tr(np.linalg.solve(S_x, LX @ phi))  # (K,nE,px)
        m_xi = kappa[:, None, :] + dx @ tr(Kx)  # (K,n,nE)
        V = np.zeros((K, self.nw, self.nw))
        V[:, :nE, :nE] = phi - Kx @ LX @ phi
        V[:, nE:, nE:] = psi[:, N][:, :, N]
        mw = np.zeros((K, n, self.nw))
        mw[:, :, :nE] = m_xi
        m = len(lm.inner)
        c = np.zeros((K, m))
        b = np.zeros((K, m, self.nw))
        A = np.zeros((K, m, self.nw, self.nw))
        for j, v in enumerate(E):
            b[:, v, j] = 1.0
        npos = {int(v): nE + k for k, v in enumerate(N)}
        for v in self.order:
            c[:, v] = alpha[:, v]
            b[:, v, npos[v]] = 1.0
            for s_ in np.nonzero(self.bmask[v])[0]:
                w_ = beta[:, v, s_]
                c[:, v] += w_ * c[:, s_]
                b[:, v] += w_[:, None] * b[:, s_]
                A[:, v] += w_[:, None, None] * A[:, s_]
            for jj, pr in enumerate(lm.products):
                if pr.target != v:
                    continue
                a_, b_ = pr.a, pr.b
                gg = g[:, jj]
                c[:, v] += gg * c[:, a_] * c[:, b_]
                b[:, v] += gg[:, None] * (c[:, a_, None] * b[:, b_] + c[:, b_, None] * b[:, a_])
                outer = b[:, a_, :, None] * b[:, b_, None, :]
                A[:, v] += gg[:, None, None] * 0.5 * (outer + tr(outer))
        cN, bN, AN = c[:, N], b[:, N], A[:, N]
        Am = (AN[:, None] @ mw[:, :, None, :, None])[..., 0]  # (K,n,e,w): A_e m
        mean_eta = (cN[:, None] + mw @ tr(bN) + (Am @ mw[..., None])[..., 0]
                    + np.einsum("keij,kji->ke", AN, V)[:, None])
        BV = bN @ V  # (K,e,w)
        G = BV[:, None] @ Am.transpose(0, 1, 3, 2)  # (K,n,e,e): b_k' V A_l m
        AV = AN @ V[:, None]  # (K,e,w,w)
        cov_eta = ((BV @ tr(bN))[:, None] + 2 * (G + G.transpose(0, 1, 3, 2))
                   + 4 * (Am @ V[:, None]) @ Am.transpose(0, 1, 3, 2)
                   + 2 * np.einsum("keij,klji->kel", AV, AV)[:, None])
        LR = lam[:, R][:, :, N]
        LN = lam[:, Nn][:, :, N]
        T = LN @ np.linalg.inv(LR)
        thRR = th[:, R][:, :, R]
        if len(Nn):
            thNN, thRN = th[:, Nn][:, :, Nn], th[:, R][:, :, Nn]
            mu_r = nu[:, Nn] - (T @ nu[:, R, None])[..., 0]
            S_r = thNN + T @ thRR @ tr(T) - tr(thRN) @ tr(T) - T @ thRN
            r = x[None, :, Nn] - x[None, :, R] @ tr(T) - mu_r[:, None]
            ll = ll + _mvn_logpdf_k(r, S_r)
            C_er = thRN - thRR @ tr(T)
            Kr = tr(np.linalg.solve(S_r, tr(C_er)))
            e_mean = r @ tr(Kr)
            e_cov = thRR - Kr @ tr(C_er)
        else:
            e_mean = np.zeros((K, n, len(R)))
            e_cov = thRR
        mu_y = nu[:, None, R] + mean_eta @ tr(LR) + e_mean
        S_y = LR[:, None] @ cov_eta @ tr(LR)[:, None] + e_cov[:, None]
        ll = ll + _mvn_logpdf_k(x[None, :, R] - mu_y, S_y)
        return ll if per_case else ll.sum(1)


def _mvn_logpdf_k(d: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """log N(d; 0, cov): ``d`` (K,n,p), ``cov`` (K,p,p) or per case (K,n,p,p)."""
    L = np.linalg.cholesky(cov)
    p = d.shape[-1]
    if cov.ndim == 3:
        z = d @ np.linalg.inv(L).transpose(0, 2, 1)
        logdet = 2 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(-1)[:, None]
    else:  # small per-case matrices: forward substitution, vectorized over (K, n)
        z = np.empty_like(d)
        for i in range(p):
            z[..., i] = (d[..., i] - (L[..., i, :i] * z[..., :i]).sum(-1)) / L[..., i, i]
        logdet = 2 * np.log(np.diagonal(L, axis1=2, axis2=3)).sum(-1)
    return -0.5 * (p * _LOG2PI + logdet + (z * z).sum(-1))


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
            if v >= 1e300:
                return v, np.zeros_like(t)
            nt_ = len(t)
            h = 1e-6 * np.maximum(1.0, np.abs(t))
            T = np.repeat(t[None], 2 * nt_, 0)
            idx = np.arange(nt_)
            T[idx, idx] += h
            T[nt_ + idx, idx] -= h
            chunk = max(1, int(2e6 // (n * 64)))
            try:
                vals = np.concatenate([qm.loglik_batch(T[i:i + chunk], x) for i in range(0, 2 * nt_, chunk)])
            except np.linalg.LinAlgError:
                vals = np.array([_safe(qm, tt, x) for tt in T])
            return v, -(vals[:nt_] - vals[nt_:]) / (2 * h) / n

        res = minimize(fg, theta0, jac=True, method="BFGS", options={"gtol": 1e-6, "maxiter": 1000})
        theta = res.x
        ll = qm.loglik(theta, x)
        _, gr = fg(theta)
        ok = bool(np.max(np.abs(gr)) < 1e-4)
        if not ok:
            warnings.warn(f"the QML fit did not converge (largest gradient at {_name(lm, int(np.argmax(np.abs(gr))))}); "
                          "estimates may be unreliable", ConvergenceWarning, stacklevel=2)
        nt = len(theta)
        vcov = np.full((nt, nt), np.nan)
        if se:
            H = np.zeros((nt, nt))
            g0 = fg(theta)[1]
            for j in range(nt):  # forward differences of the (central-difference) gradient
                hj = 1e-4 * max(1.0, abs(theta[j]))
                tp = theta.copy()
                tp[j] += hj
                H[:, j] = -(fg(tp)[1] - g0) * n / hj
            H = 0.5 * (H + H.T)
            try:
                vcov = np.linalg.inv(-H)
                if np.any(np.diag(vcov) < 0):
                    raise np.linalg.LinAlgError
            except np.linalg.LinAlgError:
                warnings.warn("the observed information of the QML fit is singular (weakest direction mostly "
                              f"{_name(lm, _weakest(H))}): standard errors are NaN", ConvergenceWarning,
                              stacklevel=2)
                vcov = np.full((nt, nt), np.nan)
    return InteractionFit.build("qml", model, pt, xdf, lm, theta, vcov, ll, ok, int(res.nit), dropped,
                                seconds=time.perf_counter() - t0)
