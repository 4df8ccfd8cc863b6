"""Batched maximum-likelihood estimation for many covariance matrices at once.

The bootstrap refits one model to thousands of resampled covariance matrices. This module
does all of them together, in pure numpy: every draw is warm-started from the full-sample
estimate, and Fisher-scoring (Gauss-Newton) steps with analytic derivatives are taken for
the whole stack of draws at once. Nothing here imports semopy; the model structure comes
from a :class:`~smsem.estimate.backend.ParamMap`.

Model (RAM/LISREL all-y, as semopy's ``Model``)::

    Sigma = L (I - B)^-1 Psi (I - B)^-T L' + Theta

Fit function (lavaan's ML, semopy's ``MLW``; ``S`` divides by N)::

    F = log|Sigma| + tr(S Sigma^-1) - log|S| - p

Derivatives. With ``C = (I - B)^-1``, ``G = L C``, ``Phi = C Psi C'`` (latent covariance),
``K = L Phi`` and ``Gamma = dF/dSigma = Sigma^-1 - Sigma^-1 S Sigma^-1``, the gradient
with respect to a single matrix cell ``(i, j)`` is

* theta:  ``Gamma[j, i]``            (dSigma = E_ij)
* psi:    ``(G' Gamma G)[j, i]``     (dSigma = G E_ij G')
* lambda: ``2 (Gamma K)[i, j]``      (dSigma = E_ij K' + K E_ji)
* beta:   ``2 (G' Gamma K)[i, j]``   (dSigma = G E_ij K' + K E_ji G')

and a free parameter's derivative is the sum over its cells (a symmetric cell lists both
triangles). The expected information (the Gauss-Newton matrix of F) is
``H[k, l] = tr(Sigma^-1 D_k Sigma^-1 D_l)`` with ``D_k = dSigma/dtheta_k``; it is computed as
``vec(R D_k R') . vec(R D_l R')`` with ``R`` the inverse Cholesky factor, i.e. the trace form
of ``Delta' (Sigma^-1 (x) Sigma^-1) Delta`` without a Kronecker product.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..exceptions import OptionError
from .backend import ParamMap

__all__ = [
    "ModelStructure", "BatchFit", "fit_batch", "weighted_moments", "resample_counts",
    "FAIL_REASONS", "STATUS_OK", "MissingPatterns", "FimlMoments", "FimlStructure", "fiml_moments",
    "fiml_evaluate", "fiml_hessian", "fit_batch_fiml",
]

# Status codes of a draw; 0 is success.
STATUS_OK = 0
FAIL_REASONS = {
    1: "nonconvergence",
    2: "negative variance",
    3: "non-positive-definite covariance",
    4: "singular resample",
}


@dataclass(frozen=True)
class ModelStructure:
    """The free cells of the model matrices as index arrays (built from a ParamMap).

    Attributes
    ----------
    pmap : ParamMap
    n_obs, n_lat : int
        ``p`` observed items and ``m`` inner (latent) variables.
    """

    pmap: ParamMap

    @property
    def n_free(self) -> int:
        return self.pmap.n_free

    @property
    def n_obs(self) -> int:
        return len(self.pmap.base.observed)

    @property
    def n_lat(self) -> int:
        return len(self.pmap.base.inner)

    @cached_property
    def cells(self) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]:
        """For matrices beta, lambda, psi, theta: arrays ``(param, row, col)`` of the free cells."""
        out: list[list[tuple[int, int, int]]] = [[], [], [], []]
        for k, locs in enumerate(self.pmap.locations):
            for m, i, j in locs:
                if m < 4:  # nu and alpha (a mean structure) are in ``mean_cells``
                    out[m].append((k, i, j))
        return tuple(
            tuple(np.array([c[t] for c in cl], dtype=np.intp) for t in range(3)) for cl in out
        )  # type: ignore[return-value]

    def matrices(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Batched ``(beta, lambda, psi, theta)`` at parameter rows ``theta`` (B, q)."""
        base = self.pmap.base
        nb = theta.shape[0]
        mats = []
        for m, b in enumerate((base.beta, base.lambda_, base.psi, base.theta)):
            arr = np.broadcast_to(b, (nb, *b.shape)).copy()
            k, i, j = self.cells[m]
            if len(k):
                arr[:, i, j] = theta[:, k]
            mats.append(arr)
        return mats[0], mats[1], mats[2], mats[3]

    def implied(self, theta: np.ndarray, with_sigma: bool = True) -> dict[str, np.ndarray]:
        """Implied covariance and the pieces its derivatives need, for each row of ``theta``
        (``with_sigma=False`` skips Sigma itself, for the Woodbury path)."""
        beta, lam, psi, th = self.matrices(theta)
        m = self.n_lat
        depth = self.beta_depth
        if depth is None:
            c = np.linalg.inv(np.eye(m) - beta)
        else:
            # Recursive model: B is nilpotent, so (I - B)^-1 = I + B + ... + B^(d-1)
            # exactly (Horner form); much faster than a batched LU inverse.
            c = np.broadcast_to(np.eye(m), beta.shape)
            for _ in range(depth - 1):
                c = np.eye(m) + beta @ c
        g = lam @ c
        phi = c @ psi @ np.swapaxes(c, 1, 2)
        kmat = lam @ phi
        out = {"lambda": lam, "psi": psi, "theta": th, "G": g, "Phi": phi, "K": kmat}
        if with_sigma:
            out["Sigma"] = _sigma(kmat, lam, th)
        return out

    @cached_property
    def diagonal_theta(self) -> bool:
        """True when Theta is diagonal for every parameter value (no residual covariances)."""
        k, i, j = self.cells[3]
        base = self.pmap.base.theta
        return bool(np.all(i == j)) and not np.any(base - np.diag(np.diag(base)))

    @cached_property
    def beta_depth(self) -> int | None:
        """Smallest ``d`` with ``B^d = 0`` for every value of the free cells (recursive
        models), or None when the structural part has a cycle."""
        m = self.n_lat
        pattern = (self.pmap.base.beta != 0).astype(float)
        k, i, j = self.cells[0]
        pattern[i, j] = 1.0
        power = np.eye(m)
        for d in range(1, m + 1):
            power = power @ pattern
            if not power.any():
                return d
        return None

    def gradient(self, parts: dict[str, np.ndarray], gamma: np.ndarray) -> np.ndarray:
        """dF/dtheta (B, q) from ``Gamma = dF/dSigma`` (B, p, p)."""
        g, kmat = parts["G"], parts["K"]
        gt = np.swapaxes(g, 1, 2)
        gamma_g = gamma @ g
        gamma_k = gamma @ kmat
        cell_grads = (
            2.0 * (gt @ gamma_k),           # beta
            2.0 * gamma_k,                  # lambda
            np.swapaxes(gt @ gamma_g, 1, 2),  # psi
            np.swapaxes(gamma, 1, 2),        # theta
        )
        out = np.zeros((gamma.shape[0], self.n_free))
        for m, cg in enumerate(cell_grads):
            k, i, j = self.cells[m]
            if len(k):
                # Sum the cells of each parameter through a 0/1 matrix, one product
                # per draw (see _rowwise: results must not depend on the batch).
                out += _rowwise(cg[:, i, j], self._scatter(m))
        return out

    def _scatter(self, m: int) -> np.ndarray:
        return self._scatters[m]

    @cached_property
    def _scatters(self) -> tuple[np.ndarray, ...]:
        out = []
        for m in range(4):
            k = self.cells[m][0]
            s = np.zeros((len(k), self.n_free))
            s[np.arange(len(k)), k] = 1.0
            out.append(s)
        return tuple(out)

    def jacobian(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        """dSigma/dtheta as a stack (B, q, p, p) of symmetric matrices."""
        nb, p = parts["Sigma"].shape[:2]
        g, kmat = parts["G"], parts["K"]
        d = np.zeros((nb, self.n_free, p, p))
        k, i, j = self.cells[0]  # beta: G E_ij K' + transpose
        for kk, ii, jj in zip(k, i, j):
            t = g[:, :, ii, None] * kmat[:, None, :, jj]
            d[:, kk] += t + np.swapaxes(t, 1, 2)
        k, i, j = self.cells[1]  # lambda: E_ij K' + transpose
        for kk, ii, jj in zip(k, i, j):
            d[:, kk, ii, :] += kmat[:, :, jj]
            d[:, kk, :, ii] += kmat[:, :, jj]
        k, i, j = self.cells[2]  # psi: G E_ij G'
        for kk, ii, jj in zip(k, i, j):
            d[:, kk] += g[:, :, ii, None] * g[:, None, :, jj]
        k, i, j = self.cells[3]  # theta: E_ij
        d[:, k, i, j] += 1.0
        return d

    def information(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        """Expected information ``tr(Sigma^-1 D_k Sigma^-1 D_l)`` (B, q, q); Sigma must be
        positive definite."""
        sigma_chol = np.linalg.cholesky(parts["Sigma"])
        d = self.jacobian(parts)
        nb, q, p, _ = d.shape
        rinv = np.linalg.inv(sigma_chol)  # R = L^-1, Sigma^-1 = R' R
        t = rinv[:, None] @ d @ np.swapaxes(rinv, 1, 2)[:, None]
        flat = t.reshape(nb, q, p * p)
        return flat @ np.swapaxes(flat, 1, 2)


def _sigma(kmat: np.ndarray, lam: np.ndarray, th: np.ndarray) -> np.ndarray:
    sigma = kmat @ np.swapaxes(lam, 1, 2) + th
    return 0.5 * (sigma + np.swapaxes(sigma, 1, 2))


def _cholesky(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batched Cholesky factor and a flag per matrix (False: not positive definite)."""
    ok = np.ones(a.shape[0], dtype=bool)
    try:
        return np.linalg.cholesky(a), ok
    except np.linalg.LinAlgError:
        pass
    out = np.full_like(a, np.nan)
    for b in range(a.shape[0]):
        try:
            out[b] = np.linalg.cholesky(a[b])
        except np.linalg.LinAlgError:
            ok[b] = False
    return out, ok


def _logdet_chol(chol: np.ndarray) -> np.ndarray:
    return 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)


@dataclass(frozen=True)
class _Eval:
    f: np.ndarray
    parts: dict
    sinv: np.ndarray
    ok: np.ndarray


def _evaluate(st: ModelStructure, theta: np.ndarray, s: np.ndarray, logdet_s: np.ndarray) -> _Eval:
    """F, Sigma^-1 and the implied pieces at each row of ``theta``."""
    parts = st.implied(theta, with_sigma=not st.diagonal_theta)
    nb, p = theta.shape[0], st.n_obs
    f = np.full(nb, np.inf)
    sinv = np.full((nb, p, p), np.nan)
    logdet = np.full(nb, np.nan)
    todo = np.ones(nb, dtype=bool)
    if st.diagonal_theta:
        # Woodbury: with Theta diagonal positive and Phi = Lp Lp' positive definite,
        # Sigma^-1 = T - T L Lp M^-1 Lp' L' T with T = Theta^-1, M = I + Lp' L' T L Lp,
        # and log|Sigma| = log|Theta| + log|M|: m x m work instead of p x p inverses.
        th_d = np.diagonal(parts["theta"], axis1=1, axis2=2)
        cand = np.flatnonzero((th_d > 0).all(axis=1))
        full = cand.size == nb  # the common case: no fancy-index copies
        lam, phi = parts["lambda"], parts["Phi"]
        if cand.size:
            lp, okp = _cholesky(phi if full else phi[cand])
            if not okp.all():
                cand, lp, full = cand[okp], lp[okp], False
        if cand.size:
            thc = th_d if full else th_d[cand]
            lamc = lam if full else lam[cand]
            ti = 1.0 / thc
            w = (lamc * ti[:, :, None]) @ lp
            m = lp.shape[1]
            mm = np.eye(m) + np.swapaxes(lp, 1, 2) @ (np.swapaxes(lamc, 1, 2) @ w)
            lm, okm = _cholesky(mm)
            if not okm.all():
                cand, w, lm, ti, thc, mm, full = (cand[okm], w[okm], lm[okm], ti[okm], thc[okm],
                                                  mm[okm], False)
            if cand.size:
                minv = np.linalg.inv(mm)
                minv = 0.5 * (minv + np.swapaxes(minv, 1, 2))
                si = -(w @ minv @ np.swapaxes(w, 1, 2))
                si.reshape(len(cand), p * p)[:, ::p + 1] += ti
                if full:
                    sinv = si
                else:
                    sinv[cand] = si
                logdet[cand] = np.log(thc).sum(axis=1) + _logdet_chol(lm)
                todo[cand] = False
    rest = np.flatnonzero(todo)
    ok = ~todo
    if rest.size:
        if "Sigma" in parts:
            sig = parts["Sigma"][rest]
        else:
            sig = _sigma(parts["K"][rest], parts["lambda"][rest], parts["theta"][rest])
        chol, okr = _cholesky(sig)
        rest, chol, sig = rest[okr], chol[okr], sig[okr]
        if rest.size:
            sinv[rest] = _inverse(sig)
            logdet[rest] = _logdet_chol(chol)
            ok[rest] = True
    if ok.all():
        f = logdet + (s * sinv).sum(axis=(1, 2)) - logdet_s - p
    elif ok.any():
        tr = (s[ok] * sinv[ok]).sum(axis=(1, 2))
        f[ok] = logdet[ok] + tr - logdet_s[ok] - p
    f[~np.isfinite(f)] = np.inf
    return _Eval(f, {"G": parts["G"], "K": parts["K"]}, sinv, ok & np.isfinite(f))


def _inverse(a: np.ndarray) -> np.ndarray:
    """Inverses of symmetric positive definite matrices (symmetrized LU inverses)."""
    x = np.linalg.inv(a)
    return 0.5 * (x + np.swapaxes(x, 1, 2))


@dataclass(frozen=True)
class BatchFit:
    """Solutions of a batch of ML fits.

    Attributes
    ----------
    theta : ndarray (B, q)
        Estimates (ParamMap order); rows of failed draws hold the last iterate.
    fmin : ndarray (B,)
        Minimum of the fit function ``F`` (``chi2 = n * fmin`` as lavaan's ML test).
    status : ndarray of int (B,)
        0 for an admissible converged solution, else a key of :data:`FAIL_REASONS`.
    n_iter : ndarray of int (B,)
    grad_max : ndarray (B,)
        ``max |dF/dtheta|`` at the solution.
    """

    theta: np.ndarray
    fmin: np.ndarray
    status: np.ndarray
    n_iter: np.ndarray
    grad_max: np.ndarray

    @property
    def ok(self) -> np.ndarray:
        return self.status == STATUS_OK

    @property
    def converged(self) -> np.ndarray:
        """Converged (admissible or not)."""
        return (self.status != 1) & (self.status != 4)

    def failures(self) -> dict[str, int]:
        """Count of failed draws per reason."""
        out: dict[str, int] = {}
        for code, name in FAIL_REASONS.items():
            c = int(np.sum(self.status == code))
            if c:
                out[name] = c
        return out


def fit_batch(
    pmap: ParamMap,
    s: np.ndarray,
    start: np.ndarray,
    *,
    s_start: np.ndarray | None = None,
    method: str = "quasi-newton",
    max_iter: int = 200,
    gtol: float = 1e-9,
    ftol: float = 1e-12,
    structure: ModelStructure | None = None,
) -> BatchFit:
    """Minimize the ML discrepancy for a stack of sample covariance matrices.

    Parameters
    ----------
    pmap : ParamMap
        Model structure (from :attr:`FitResults.param_map`).
    s : ndarray (B, p, p)
        Sample covariance matrices (N-divided, item order of ``pmap.base.observed``).
    start : ndarray (q,)
        Start values for every draw (the full-sample estimate for a bootstrap).
    s_start : ndarray (p, p), optional
        The covariance matrix that ``start`` solves (the full sample's). With it, the
        first metric is the exact Hessian of ``F`` at ``start`` (central differences of
        the analytic gradient, computed once for all draws); without it, the expected
        information at ``start``.
    method : {"quasi-newton", "chord", "fisher"}, default="quasi-newton"
        ``"quasi-newton"``: steps ``-H_b^-1 g`` where ``H_b`` starts as the shared
        metric above and is refined per draw by BFGS updates from the analytic
        gradients (two-loop recursion). ``"chord"``: the shared metric without updates
        (for diagnostics; it converges slowly). ``"fisher"``: classical Fisher scoring,
        the expected information ``Delta' W Delta`` at each draw's current iterate.
        Measured on 300 resamples of the integrative survey: quasi-Newton 9-19 steps,
        0.67 ms/draw; Fisher scoring 9-30 steps but 13 ms/draw (a q x q information per
        draw and step); chord median 31 steps, 8 of 300 unconverged after 400. A draw that stops
        decreasing ``F`` is restarted with Fisher-scoring steps before it is given up.
    max_iter : int, default=200
    gtol : float, default=1e-9
        Converged when ``max |dF/dtheta| <= gtol`` ...
    ftol : float, default=1e-12
        ... or when the step would decrease a quadratic model of ``F`` by at most
        ``ftol * max(1, F)`` (half the Newton decrement ``g' H^-1 g``), i.e. the relative
        change of ``F`` left to gain is below ``ftol``.
    structure : ModelStructure, optional
        Reuse a structure already built from ``pmap``.

    Returns
    -------
    BatchFit
        Each draw is iterated until its own convergence and then frozen, so its result
        does not depend on the other draws in the batch.
    """
    if method not in ("quasi-newton", "chord", "fisher"):
        raise OptionError(f"method must be one of quasi-newton, chord, fisher; got {method!r}")
    st = structure if structure is not None else ModelStructure(pmap)
    s = np.asarray(s, dtype=float)
    nb, q = s.shape[0], st.n_free
    start = np.asarray(start, dtype=float)
    theta = np.array(np.broadcast_to(start, (nb, q)))
    status = np.zeros(nb, dtype=np.int64)
    n_iter = np.zeros(nb, dtype=np.int64)
    grad_max = np.full(nb, np.nan)
    fmin = np.full(nb, np.nan)

    s_chol, s_ok = _cholesky(s)
    logdet_s = np.zeros(nb)
    logdet_s[s_ok] = _logdet_chol(s_chol[s_ok])
    status[~s_ok] = 4

    fisher = np.zeros(nb, dtype=bool)
    hinv = None
    if method == "fisher":
        fisher[:] = True
    else:
        h0 = start_metric(st, start, s_start)
        if h0 is None:
            fisher[:] = True
        else:
            hinv = _inv_psd(h0)

    # State of the active draws, kept compact (aligned with ``active``).
    active = np.flatnonzero(s_ok)
    ev = _evaluate(st, theta[active], s[active], logdet_s[active])
    status[active[~ev.ok]] = 3
    active, ev = active[ev.ok], _take(ev, ev.ok)
    sa, lsa, th_a = s[active], logdet_s[active], theta[active]
    grad = st.gradient(ev.parts, _gamma(ev, sa)) if active.size else np.zeros((0, q))
    # BFGS memory per draw: pairs (ds, dy, rho) in the two-loop recursion, all kept
    # (draws converge in far fewer steps than q), which is exactly BFGS from ``hinv``
    # at O(q) cost per pair instead of O(q^2) for a dense inverse per draw.
    hist: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    fi_a = fisher[active]

    for it in range(1, max_iter + 1):
        if active.size == 0:
            break
        gmax = np.abs(grad).max(axis=1)
        step = np.empty_like(grad)
        if (~fi_a).any():
            qn_step = -_two_loop(hinv, hist, grad)
            step[~fi_a] = qn_step[~fi_a]
        if fi_a.any():
            idx = np.flatnonzero(fi_a)
            info = st.information(st.implied(th_a[idx]))
            step[idx] = -_solve_psd(info, grad[idx])
        # Newton decrement g' H^-1 g: twice the decrease F would make if it were quadratic.
        decrement = -np.einsum("bi,bi->b", grad, step)
        done = (gmax <= gtol) | (np.abs(decrement) <= 2.0 * ftol * np.maximum(1.0, np.abs(ev.f)))
        # Step halving on F, per draw.
        alpha = np.ones(active.size)
        todo = np.flatnonzero(~done)
        accepted = np.zeros(active.size, dtype=bool)
        f_old = ev.f.copy()
        th_old = th_a.copy()
        for _ in range(40):
            if todo.size == 0:
                break
            trial = th_old[todo] + alpha[todo, None] * step[todo]
            tev = _evaluate(st, trial, sa[todo], lsa[todo])
            better = tev.ok & (tev.f <= f_old[todo] + 1e-13 * np.maximum(1.0, np.abs(f_old[todo])))
            acc = todo[better]
            if acc.size:
                th_a[acc] = trial[better]
                if acc.size == active.size:
                    ev = tev
                else:
                    _put(ev, acc, _take(tev, better))
                accepted[acc] = True
            todo = todo[~better]
            alpha[todo] *= 0.5
        n_iter[active] = it
        new_grad = grad.copy()
        if accepted.any():
            acc = np.flatnonzero(accepted)
            if acc.size == active.size:
                new_grad = st.gradient(ev.parts, _gamma(ev, sa))
            else:
                new_grad[acc] = st.gradient(_take_parts(ev.parts, acc), _gamma(_take(ev, acc), sa[acc]))
        if hinv is not None and method == "quasi-newton":
            ds = th_a - th_old
            dy = new_grad - grad
            sy = np.einsum("bi,bi->b", ds, dy)
            # Curvature condition; rho = 0 disables the pair for the draws that fail it.
            good = accepted & ~fi_a & (sy > 1e-12 * np.linalg.norm(ds, axis=1) * np.linalg.norm(dy, axis=1))
            rho = np.where(good, 1.0 / np.where(good, sy, 1.0), 0.0)
            hist.append((ds, dy, rho))
        # No decrease along the step: restart with Fisher scoring, then give up.
        stuck = ~done & ~accepted
        retry = stuck & ~fi_a
        fi_a[retry] = True
        give_up = stuck & ~retry
        finished = done | give_up
        if finished.any():
            fin = np.flatnonzero(finished)
            theta[active[fin]] = th_a[fin]
            fmin[active[fin]] = ev.f[fin]
            grad_max[active[fin]] = np.abs(new_grad[fin]).max(axis=1)
            status[active[give_up]] = 1
            keep = ~finished
            active, grad, ev = active[keep], new_grad[keep], _take(ev, keep)
            sa, lsa, th_a, fi_a = sa[keep], lsa[keep], th_a[keep], fi_a[keep]
            hist = [(a_[keep], b_[keep], c_[keep]) for a_, b_, c_ in hist]
        else:
            grad = new_grad
    theta[active] = th_a
    status[active] = 1  # iteration limit

    # Final gradient and admissibility of the converged draws.
    conv = np.flatnonzero(status == 0)
    if conv.size:
        ev = _evaluate(st, theta[conv], s[conv], logdet_s[conv])
        grad_max[conv] = np.abs(st.gradient(ev.parts, _gamma(ev, s[conv]))).max(axis=1)
        fmin[conv] = ev.f
        full = st.implied(theta[conv])
        negvar = (np.diagonal(full["psi"], axis1=1, axis2=2) < 0).any(axis=1) | (
            np.diagonal(full["theta"], axis1=1, axis2=2) < 0).any(axis=1)
        status[conv[negvar]] = 2
        _, phi_ok = _cholesky(full["Phi"])
        status[conv[~negvar & (~phi_ok | ~ev.ok)]] = 3
    return BatchFit(theta, fmin, status, n_iter, grad_max)


def start_metric(st: ModelStructure, start: np.ndarray, s_start: np.ndarray | None) -> np.ndarray | None:
    """The shared first metric: exact Hessian of F at ``start`` for ``s_start``, or the
    expected information at ``start``; None if ``Sigma(start)`` is not positive definite."""
    parts0 = st.implied(start[None, :])
    chol0, ok0 = _cholesky(parts0["Sigma"])
    if not ok0[0]:
        return None
    if s_start is None:
        h = st.information(parts0)[0]
    else:
        q = st.n_free
        # Central differences of the analytic gradient: error O(h^2) ~ 1e-10 relative,
        # ample for a metric that BFGS refines anyway.
        hstep = 1e-5 * np.maximum(1.0, np.abs(start))
        pts = np.concatenate([start + np.diag(hstep), start - np.diag(hstep)])
        s2 = np.broadcast_to(s_start, (2 * q, *s_start.shape))
        ev = _evaluate(st, pts, s2, np.zeros(2 * q))
        g = st.gradient(ev.parts, _gamma(ev, s2))
        h = (g[:q] - g[q:]) / (2 * hstep[:, None])
    h = 0.5 * (h + h.T)
    return h


def _inv_psd(h: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric metric; not positive definite -> eigenvalues floored."""
    w, v = np.linalg.eigh(h)
    floor = 1e-8 * max(float(np.abs(w).max()), 1e-300)
    w = np.maximum(np.abs(w), floor)
    return (v / w) @ v.T


def _two_loop(hinv: np.ndarray, hist: list, grad: np.ndarray) -> np.ndarray:
    """BFGS inverse-Hessian times gradient by the two-loop recursion (Nocedal & Wright,
    Algorithm 7.4), for every draw at once; ``hinv`` is the shared initial inverse."""
    r = grad.copy()
    alphas = []
    for ds, dy, rho in reversed(hist):
        a = rho * np.einsum("bi,bi->b", ds, r)
        r -= a[:, None] * dy
        alphas.append(a)
    r = _rowwise(r, hinv)
    for (ds, dy, rho), a in zip(hist, reversed(alphas)):
        b = rho * np.einsum("bi,bi->b", dy, r)
        r += (a - b)[:, None] * ds
    return r


def _gamma(ev: "_Eval", s: np.ndarray) -> np.ndarray:
    """dF/dSigma = Sigma^-1 - Sigma^-1 S Sigma^-1."""
    return ev.sinv - ev.sinv @ s @ ev.sinv


def _put(ev: "_Eval", idx: np.ndarray, new: "_Eval") -> None:
    ev.f[idx] = new.f
    ev.sinv[idx] = new.sinv
    ev.ok[idx] = new.ok
    for k in ev.parts:
        ev.parts[k][idx] = new.parts[k]


def _take_parts(parts: dict, idx: np.ndarray) -> dict:
    return {k: v[idx] for k, v in parts.items()}


def _take(ev: _Eval, idx: np.ndarray) -> _Eval:
    return _Eval(ev.f[idx], _take_parts(ev.parts, idx), ev.sinv[idx], ev.ok[idx])


def _solve_psd(h: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Solve ``h x = g`` per draw; a singular information falls back to the pseudo-inverse."""
    try:
        return np.linalg.solve(h, g[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return (np.linalg.pinv(h) @ g[..., None])[..., 0]


# ---------------------------------------------------------------- resampling moments


def _rowwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` computed one row of ``a`` at a time (a stack of vector-matrix products).

    A single GEMM over all draws may sum in a different order depending on how many rows
    it gets (BLAS kernels differ by shape), which would make a draw's last bits depend on
    the other draws in its batch; a stacked product treats every draw alike, so draw b is
    bit-identical however the draws are chunked or spread over processes.
    """
    return (a[:, None, :] @ b)[:, 0, :]


def resample_counts(rng: np.random.Generator, n: int) -> np.ndarray:
    """How often each of ``n`` rows is drawn in one nonparametric resample (sums to ``n``).

    Draws ``n`` row indices uniformly with replacement and counts them, so the same
    stream gives the same resample as ``data[rng.integers(0, n, n)]``.
    """
    return np.bincount(rng.integers(0, n, n), minlength=n)


def weighted_moments(x: np.ndarray, weights: np.ndarray, *, block_rows: int = 4096) -> np.ndarray:
    """N-divided covariance matrices of ``x`` under each row of ``weights``.

    Parameters
    ----------
    x : ndarray (n, p)
        The data, best centered at the full-sample mean (limits rounding error).
    weights : ndarray (B, n)
        Non-negative case weights (bootstrap counts); each row's sum is its sample size.
    block_rows : int
        Rows of ``x`` processed at a time: memory stays ``O(block_rows * p^2)`` whatever n,
        and no resampled data set is ever formed.

    Returns
    -------
    ndarray (B, p, p)
    """
    n, p = x.shape
    w = np.asarray(weights, dtype=float)
    iu, ju = np.triu_indices(p)
    sums = np.zeros((w.shape[0], p))
    cross = np.zeros((w.shape[0], iu.size))
    for r0 in range(0, n, block_rows):
        xb = x[r0:r0 + block_rows]
        wb = w[:, r0:r0 + block_rows]
        sums += _rowwise(wb, xb)
        # Khatri-Rao products x_i x_j of each row, weighted per draw.
        cross += _rowwise(wb, xb[:, iu] * xb[:, ju])
    tot = w.sum(axis=1)
    mean = sums / tot[:, None]
    cov = np.empty((w.shape[0], p, p))
    cov[:, iu, ju] = cross / tot[:, None]
    cov[:, ju, iu] = cov[:, iu, ju]
    cov -= mean[:, :, None] * mean[:, None, :]
    return cov


# ---------------------------------------------------------------- FIML (missing data)
#
# lavaan's ``missing = "ml"`` objective (R/lav_mvnorm_missing.R) for a resample: the
# casewise normal log-likelihood summed over missing-data patterns. A resample is a vector
# of counts over respondents, so draw b is summarized per pattern k (items ``o_k``) by its
# weighted count ``n_bk``, mean ``xbar_bk`` and N-divided covariance ``S_bk``:
#
#     -l_b / N_b = 1/(2 N_b) sum_k n_bk [q_k log 2pi + log|Sigma_oo| + tr(Sigma_oo^-1 M_bk)],
#     M_bk = S_bk + (xbar_bk - mu_o)(xbar_bk - mu_o)'
#
# with derivatives ``dF/dSigma_oo = n_bk/(2 N_b) (Sigma_oo^-1 - Sigma_oo^-1 M Sigma_oo^-1)``
# and ``dF/dmu_o = -n_bk/N_b Sigma_oo^-1 (xbar_bk - mu_o)``, scattered into the full
# ``p x p`` and ``p`` arrays and taken through the model (covariance part as in
# :meth:`ModelStructure.gradient`, mean part ``mu = nu + Lambda (I - B)^-1 alpha``).
# Only the (draw, pattern) pairs with ``n_bk > 0`` are evaluated.

_LOG2PI = float(np.log(2 * np.pi))


@dataclass(frozen=True)
class MissingPatterns:
    """The full sample's missing-data patterns, set up for resampling.

    ``rows[k]`` are the respondents (row positions) with pattern ``k``, ``observed[k]`` its
    observed items, ``centers[k]`` the full-sample mean of those items in those rows (the
    weighted sums are taken about it, which limits rounding error).
    """

    n: int
    p: int
    rows: tuple[np.ndarray, ...]
    observed: tuple[np.ndarray, ...]
    centers: tuple[np.ndarray, ...]
    z: tuple[np.ndarray, ...]  # centred observed values of each pattern's rows

    @classmethod
    def from_data(cls, x: np.ndarray) -> "MissingPatterns":
        x = np.asarray(x, dtype=float)
        mask = ~np.isnan(x)
        keys, inverse = np.unique(mask, axis=0, return_inverse=True)
        inverse = np.asarray(inverse).ravel()
        rows, obs, centers, zs = [], [], [], []
        for k, key in enumerate(keys):
            if not key.any():
                continue  # a row with nothing observed adds nothing to the likelihood
            r = np.flatnonzero(inverse == k)
            o = np.flatnonzero(key)
            v = x[np.ix_(r, o)]
            c = v.mean(axis=0)
            rows.append(r)
            obs.append(o)
            centers.append(c)
            zs.append(v - c)
        return cls(x.shape[0], x.shape[1], tuple(rows), tuple(obs), tuple(centers), tuple(zs))

    @property
    def n_patterns(self) -> int:
        return len(self.rows)

    @cached_property
    def singletons(self) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Patterns of one respondent, by number of observed items ``q``: ``(row, observed
        (K, q), missing (K, p - q), values (K, q))``. Their covariance is 0 in every
        resample, so they are summarized all at once, without a loop over patterns."""
        out: dict[int, list] = {}
        for r, o, c in zip(self.rows, self.observed, self.centers):
            if len(r) == 1:
                out.setdefault(len(o), []).append((r[0], o, np.setdiff1d(np.arange(self.p), o), c))
        return {q: (np.array([t[0] for t in v], dtype=np.intp), np.stack([t[1] for t in v]),
                    np.stack([t[2] for t in v]).reshape(len(v), self.p - q), np.stack([t[3] for t in v]))
                for q, v in sorted(out.items())}


@dataclass(frozen=True)
class FimlMoments:
    """Per-draw, per-pattern weighted moments, stored as flat lists of the (draw, pattern)
    pairs with a positive count, one list per number of observed items ``q``.

    ``groups``: tuples ``(idx (P, q), mis (P, p - q), b (P,), nk (P,), mean (P, q),
    cov (P, q, q) or None, mean_pad (P, p), obs_pad (P, p), scatter (P, p - q, p))``: observed
    and missing items, draw, count, moments (``cov`` None for the patterns of one
    respondent, whose covariance is 0), the mean padded with 0 at the missing items, the
    0/1 mask of the observed ones, and the flat index ``mis * p + [obs, mis]`` of the
    missing rows in a p x p matrix; the pairs sorted by draw ``b`` (and by pattern within a
    draw). Per draw: ``total`` (B,) its sample size ``N_b``; ``qcov`` (B, p, p) the sum
    ``sum_k n_bk S_bk`` of the padded pattern covariances; ``cnst`` (B,)
    ``sum_k n_bk q_k log 2pi``.
    """

    nb: int
    p: int
    total: np.ndarray
    groups: tuple[tuple[np.ndarray, ...], ...]
    qcov: np.ndarray
    cnst: np.ndarray

    @cached_property
    def layout(self) -> dict:
        """Every pair (all groups, group order): draw, slot within its draw, padded mean,
        observed mask and count, for the per-draw padded products of :func:`fiml_evaluate`."""
        p = self.p
        if not self.groups:
            return {"b": np.zeros(0, dtype=np.intp), "slot": np.zeros(0, dtype=np.intp), "kmax": 0,
                    "mean": np.zeros((0, p)), "obs": np.zeros((0, p)), "n": np.zeros(0)}
        b_all = np.concatenate([g[2] for g in self.groups])
        order = np.argsort(b_all, kind="stable")
        slot = np.empty(b_all.size, dtype=np.intp)
        sb_ = b_all[order]
        slot[order] = np.arange(b_all.size) - np.searchsorted(sb_, sb_, "left")
        return {"b": b_all, "slot": slot, "kmax": int(slot.max()) + 1 if slot.size else 0,
                "mean": np.concatenate([g[6] for g in self.groups]),
                "obs": np.concatenate([g[7] for g in self.groups]),
                "n": np.concatenate([g[3] for g in self.groups])}

    def take(self, sel: np.ndarray) -> "FimlMoments":
        """The draws ``sel`` (in that order; repeats allowed) as a new batch."""
        sel = np.asarray(sel, dtype=np.intp)
        out = []
        for g in self.groups:
            b = g[2]
            starts = np.searchsorted(b, sel, "left")
            lens = np.searchsorted(b, sel, "right") - starts
            tot = int(lens.sum())
            offs = np.cumsum(lens) - lens
            pos = np.arange(tot) - np.repeat(offs, lens) + np.repeat(starts, lens)
            new = [None if a is None else a[pos] for a in g]
            new[2] = np.repeat(np.arange(sel.size), lens)
            out.append(tuple(new))
        return FimlMoments(sel.size, self.p, self.total[sel], tuple(out), self.qcov[sel], self.cnst[sel])


def fiml_moments(pat: MissingPatterns, weights: np.ndarray) -> FimlMoments:
    """Weighted per-pattern moments of the draws ``weights`` (B, n) (bootstrap counts, or
    leave-one-out weights); no resampled data set is formed. Patterns of one respondent
    (most of them in a survey) are handled together; their covariance is ``None`` (0)."""
    w = np.asarray(weights, dtype=float)
    nb, p = w.shape[0], pat.p
    by_key: dict[tuple[int, int], list] = {}
    qcov = np.zeros((nb, p, p))
    cnst = np.zeros(nb)

    def add(q: int, single: int, o: np.ndarray, mis: np.ndarray, pos: np.ndarray, nkp: np.ndarray,
            mean: np.ndarray, cov: np.ndarray | None) -> None:
        cnst[:] += np.bincount(pos, weights=nkp * q * _LOG2PI, minlength=nb)
        mean_pad = np.zeros((pos.size, p))
        np.put_along_axis(mean_pad, o, mean, axis=1)
        obs_pad = np.zeros((pos.size, p))
        np.put_along_axis(obs_pad, o, 1.0, axis=1)
        perm = np.concatenate([o, mis], axis=1)
        scat = mis[:, :, None] * p + perm[:, None, :]
        by_key.setdefault((q, single), []).append((o, mis, pos, nkp, mean, cov, mean_pad, obs_pad, scat))

    for q, (rows, obs, mis, vals) in pat.singletons.items():
        wk = w[:, rows]
        pos, kk = np.nonzero(wk)          # by draw, then by pattern
        add(q, 1, obs[kk], mis[kk], pos, wk[pos, kk], vals[kk], None)
    for r, o, c, z in zip(pat.rows, pat.observed, pat.centers, pat.z):
        if len(r) == 1:
            continue
        q = len(o)
        wk = w[:, r]
        nk = wk.sum(axis=1)
        iu, ju = np.triu_indices(q)
        s1 = _rowwise(wk, z)
        s2 = _rowwise(wk, z[:, iu] * z[:, ju])
        pos = np.flatnonzero(nk > 0)
        if not pos.size:
            continue
        nkp = nk[pos]
        d = s1[pos] / nkp[:, None]
        cov = np.empty((pos.size, q, q))
        cov[:, iu, ju] = s2[pos] / nkp[:, None]
        cov[:, ju, iu] = cov[:, iu, ju]
        cov -= d[:, :, None] * d[:, None, :]
        # Per draw, in pattern order: the same sums whatever the other draws.
        qcov[np.ix_(pos, o, o)] += nkp[:, None, None] * cov
        mis = np.setdiff1d(np.arange(p), o)
        add(q, 0, np.broadcast_to(o, (pos.size, q)), np.broadcast_to(mis, (pos.size, mis.size)), pos, nkp,
            c + d, cov)
    groups = []
    for key in sorted(by_key):
        parts = by_key[key]
        b = np.concatenate([t[2] for t in parts])
        order = np.argsort(b, kind="stable")  # by draw, then by pattern
        g = [None if parts[0][j] is None else np.concatenate([t[j] for t in parts])[order] for j in range(9)]
        g[2] = g[2].astype(np.intp)
        groups.append(tuple(g))
    return FimlMoments(nb, p, w.sum(axis=1), tuple(groups), qcov, cnst)


@dataclass(frozen=True)
class FimlStructure:
    """A :class:`ModelStructure` with its mean structure ``mu = nu + Lambda (I - B)^-1 alpha``."""

    st: ModelStructure

    @cached_property
    def mean_cells(self) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """``(param, index)`` arrays of the free cells of nu and of alpha."""
        out: list[list[tuple[int, int]]] = [[], []]
        for k, locs in enumerate(self.st.pmap.locations):
            for m, i, _ in locs:
                if m >= 4:
                    out[m - 4].append((k, i))
        return tuple(tuple(np.array([c[t] for c in cl], dtype=np.intp) for t in range(2))
                     for cl in out)  # type: ignore[return-value]

    @cached_property
    def _scatters(self) -> tuple[np.ndarray, ...]:
        """0/1 matrices summing cells into parameters: nu, alpha, lambda, beta cells."""
        q = self.st.n_free
        keys = (self.mean_cells[0][0], self.mean_cells[1][0], self.st.cells[1][0], self.st.cells[0][0])
        out = []
        for k in keys:
            s = np.zeros((len(k), q))
            s[np.arange(len(k)), k] = 1.0
            out.append(s)
        return tuple(out)

    def vectors(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Batched ``(nu, alpha)`` at parameter rows ``theta``."""
        base = self.st.pmap.base
        nb = theta.shape[0]
        out = []
        for v, (k, i) in zip((base.nu, base.alpha), self.mean_cells):
            arr = np.array(np.broadcast_to(np.asarray(v, dtype=float), (nb, len(v))))
            if len(k):
                arr[:, i] = theta[:, k]
            out.append(arr)
        return out[0], out[1]

    def means(self, theta: np.ndarray, parts: dict) -> tuple[np.ndarray, np.ndarray]:
        """Implied means ``mu`` (B, p) and inner means ``eta = (I - B)^-1 alpha`` (B, m)."""
        nu, alpha = self.vectors(theta)
        beta = self.st.matrices(theta)[0]
        m = beta.shape[1]
        eta = np.linalg.solve(np.eye(m) - beta, alpha[:, :, None])[:, :, 0]
        mu = nu + (parts["lambda"] @ eta[:, :, None])[:, :, 0]
        return mu, eta

    def mean_gradient(self, parts: dict, eta: np.ndarray, gm: np.ndarray) -> np.ndarray:
        """dF/dtheta (B, q) through mu from ``gm = dF/dmu`` (B, p)."""
        gtg = (gm[:, None, :] @ parts["G"])[:, 0, :]   # G' gm, G = Lambda (I - B)^-1
        (_, nu_i), (_, al_i) = self.mean_cells
        _, li, lj = self.st.cells[1]
        _, bi, bj = self.st.cells[0]
        cell_grads = (gm[:, nu_i], gtg[:, al_i], gm[:, li] * eta[:, lj], gtg[:, bi] * eta[:, bj])
        out = np.zeros((gm.shape[0], self.st.n_free))
        for cg, sc in zip(cell_grads, self._scatters):
            if sc.shape[0]:
                out += _rowwise(cg, sc)
        return out


def fiml_evaluate(fs: FimlStructure, theta: np.ndarray, mom: FimlMoments, grad: bool = True
                  ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """``(F, dF/dtheta, ok)`` per draw with ``F = -loglik_b / N_b`` (lavaan's FIML objective
    up to the constant); ``F = inf`` and ``ok = False`` where the implied covariance is not
    positive definite.

    Everything is computed from the full precision matrix ``P = Sigma^-1`` of each draw
    (one p x p inverse per draw, not one per pattern): for a pattern missing the items
    ``m``, ``log|Sigma_oo| = log|Sigma| + log|P_mm|`` and ``Sigma_oo^-1 = P_oo + P_om B``
    with ``B = -P_mm^-1 P_mo`` (the regression of the missing items on the observed ones),
    so only ``|m| x |m|`` systems are solved. The gradient uses Fisher's identity: the
    observed-data score is the complete-data score at the expected sufficient statistics
    (EM's E-step), ``dl/dSigma = (P Q P - N P) / 2`` and ``dl/dmu = P s`` with ``Q`` and
    ``s`` the expected centred cross-products and sums. The parts of ``Q`` and of
    ``sum_k n_k tr(P_oo M_k)`` that are linear in the pattern statistics are sums over the
    patterns formed once per draw (``qcov``, and ``D' N D`` of the padded mean deviations
    by one matrix product), so no work per (draw, pattern) pair grows with ``q^2`` except
    ``B S_bk`` for the incomplete patterns (``|m| q^2``).
    """
    st = fs.st
    parts = st.implied(theta)
    sigma = parts["Sigma"]
    mu, eta = fs.means(theta, parts)
    nb, p = sigma.shape[:2]
    chol, ok = _cholesky(sigma)
    if not ok.all():
        sigma = sigma.copy()
        sigma[~ok] = np.eye(p)
        chol[~ok] = np.eye(p)
    logdet_s = _logdet_chol(chol)
    prec = _inverse(sigma)
    lay = mom.layout
    # Padded deviations d~ = xbar_bk - mu (0 at missing items), one row per pair, laid out
    # per draw: DD = sum_k n_bk d~ d~' and sum_k n_bk d~ by batched products.
    dev = lay["mean"] - mu[lay["b"]] * lay["obs"]
    dpad = np.zeros((nb, lay["kmax"], p))
    npad = np.zeros((nb, lay["kmax"]))
    dpad[lay["b"], lay["slot"]] = dev
    npad[lay["b"], lay["slot"]] = lay["n"]
    nd = npad[:, :, None] * dpad
    qmat = mom.qcov + np.swapaxes(dpad, 1, 2) @ nd
    sv = nd.sum(axis=1)
    extra = np.zeros(nb)
    u = np.zeros(nb * p * p) if grad else None
    svm = np.zeros(nb * p) if grad else None
    for idx, mis, b, nk, mean, cov, _, _, scat in mom.groups:
        if not b.size or not mis.shape[1]:
            continue
        bb = b[:, None, None]
        p_mm = prec[bb, mis[:, :, None], mis[:, None, :]]
        p_mo = prec[bb, mis[:, :, None], idx[:, None, :]]
        cmm = _inverse(p_mm)                 # Sigma_mm.o, the conditional covariance
        bmat = -(cmm @ p_mo)                 # (P, m, q)
        d = mean - mu[b[:, None], idx]
        bd = (bmat @ d[:, :, None])[:, :, 0]
        bm = bd[:, :, None] * d[:, None, :]                # B M, M = S + d d'
        if cov is not None:                                 # (S = 0 for one respondent)
            bm = bm + bmat @ cov
        tr = np.einsum("kij,kij->k", bm, p_mo)
        logdet_c = _logdet_chol(np.linalg.cholesky(cmm))
        extra += np.bincount(b, weights=nk * (tr - logdet_c), minlength=nb)
        if grad:
            w3 = nk[:, None, None]
            z = np.concatenate([w3 * bm, 0.5 * w3 * (bm @ np.swapaxes(bmat, 1, 2) + cmm)], axis=2)
            u += np.bincount((scat + (b * (p * p))[:, None, None]).ravel(), weights=z.ravel(), minlength=nb * p * p)
            svm += np.bincount((b[:, None] * p + mis).ravel(), weights=(nk[:, None] * bd).ravel(),
                               minlength=nb * p)
    tot = mom.total
    f = 0.5 * (mom.cnst + tot * logdet_s + np.einsum("bij,bij->b", prec, qmat) + extra) / tot
    f[~ok | ~np.isfinite(f)] = np.inf
    ok = np.isfinite(f)
    if not grad:
        return f, None, ok
    u3 = u.reshape(nb, p, p)
    qn = (qmat + u3 + np.swapaxes(u3, 1, 2)) / tot[:, None, None]
    g_sigma = 0.5 * (prec - prec @ qn @ prec)
    g_mu = -(prec @ ((sv + svm.reshape(nb, p)) / tot[:, None])[:, :, None])[:, :, 0]
    g = st.gradient(parts, g_sigma) + fs.mean_gradient(parts, eta, g_mu)
    return f, g, ok


def fiml_hessian(fs: FimlStructure, theta: np.ndarray, mom: FimlMoments) -> np.ndarray:
    """Hessian (q, q) of ``F`` at ``theta`` for the single draw of ``mom`` (central
    differences of the analytic gradient, all 2q points in one batch)."""
    q = theta.size
    hstep = 1e-5 * np.maximum(1.0, np.abs(theta))
    pts = np.concatenate([theta + np.diag(hstep), theta - np.diag(hstep)])
    _, g, _ = fiml_evaluate(fs, pts, mom.take(np.zeros(2 * q, dtype=np.intp)))
    h = (g[:q] - g[q:]) / (2 * hstep[:, None])
    return 0.5 * (h + h.T)


def fit_batch_fiml(
    fs: FimlStructure,
    mom: FimlMoments,
    start: np.ndarray,
    hess0: np.ndarray,
    *,
    max_iter: int = 300,
    gtol: float = 1e-10,
    xtol: float = 1e-10,
) -> BatchFit:
    """Minimize the FIML objective of every draw of ``mom`` at once.

    Quasi-Newton as :func:`fit_batch`: every draw starts at ``start`` (the full-sample
    FIML estimate) with the shared metric ``hess0`` (the full sample's Hessian of ``F``),
    refined per draw by BFGS updates (two-loop recursion), with step halving on ``F``.
    A draw is converged when ``max |dF/dtheta| <= gtol`` or its quasi-Newton step is below
    ``xtol`` in every parameter (the single FIML fit stops on a Newton step below 1e-9).
    A draw whose line search fails restarts once from the shared metric, then is counted
    as not converged unless its gradient is already at rounding level (1e-7). A draw in
    which an item is never observed is not fitted (status 4, singular resample).
    Each draw is iterated until its own convergence and then frozen, so its result does
    not depend on the other draws in the batch.
    """
    st = fs.st
    nb, q = mom.nb, st.n_free
    start = np.asarray(start, dtype=float)
    theta = np.array(np.broadcast_to(start, (nb, q)))
    status = np.zeros(nb, dtype=np.int64)
    n_iter = np.zeros(nb, dtype=np.int64)
    grad_max = np.full(nb, np.nan)
    fmin = np.full(nb, np.nan)
    hinv = _inv_psd(hess0)

    # A resample in which an item is never observed leaves its parameters unidentified.
    lay = mom.layout
    seen = np.zeros((nb, mom.p))
    np.add.at(seen, lay["b"], lay["n"][:, None] * lay["obs"])
    singular = (seen <= 0).any(axis=1)
    status[singular] = 4
    active = np.flatnonzero(~singular)
    mom_a = mom if active.size == nb else mom.take(active)
    theta_a = theta[active]
    f_a, grad, ok = fiml_evaluate(fs, theta_a, mom_a)
    status[active[~ok]] = 3
    if not ok.all():
        mom_a, f_a, grad = mom_a.take(np.flatnonzero(ok)), f_a[ok], grad[ok]
        active = active[ok]
    th_a = theta[active]
    hist: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    restarted = np.zeros(active.size, dtype=bool)

    for it in range(1, max_iter + 1):
        if active.size == 0:
            break
        gmax = np.abs(grad).max(axis=1)
        step = -_two_loop(hinv, hist, grad)
        done = (gmax <= gtol) | (np.abs(step).max(axis=1) <= xtol)
        alpha = np.ones(active.size)
        todo = np.flatnonzero(~done)
        accepted = np.zeros(active.size, dtype=bool)
        th_old = th_a.copy()
        new_grad = grad.copy()
        for _ in range(40):
            if todo.size == 0:
                break
            trial = th_old[todo] + alpha[todo, None] * step[todo]
            sub = mom_a if todo.size == active.size else mom_a.take(todo)
            tf, tg, tok = fiml_evaluate(fs, trial, sub)
            better = tok & (tf <= f_a[todo] + 1e-13 * np.maximum(1.0, np.abs(f_a[todo])))
            acc = todo[better]
            if acc.size:
                th_a[acc] = trial[better]
                f_a[acc] = tf[better]
                new_grad[acc] = tg[better]
                accepted[acc] = True
            todo = todo[~better]
            alpha[todo] *= 0.5
        n_iter[active] = it
        ds = th_a - th_old
        dy = new_grad - grad
        sy = np.einsum("bi,bi->b", ds, dy)
        good = accepted & (sy > 1e-12 * np.linalg.norm(ds, axis=1) * np.linalg.norm(dy, axis=1))
        rho = np.where(good, 1.0 / np.where(good, sy, 1.0), 0.0)
        hist.append((ds, dy, rho))
        stuck = ~done & ~accepted
        at_rounding = stuck & (gmax <= 1e-7)
        retry = stuck & ~at_rounding & ~restarted
        if retry.any():
            # Forget this draw's BFGS pairs: restart from the shared metric.
            for _, _, r_ in hist:
                r_[retry] = 0.0
            restarted |= retry
        give_up = stuck & ~at_rounding & ~retry
        finished = done | at_rounding | give_up
        grad = new_grad
        if finished.any():
            fin = np.flatnonzero(finished)
            theta[active[fin]] = th_a[fin]
            fmin[active[fin]] = f_a[fin]
            grad_max[active[fin]] = np.abs(grad[fin]).max(axis=1)
            status[active[give_up]] = 1
            keep = np.flatnonzero(~finished)
            active, grad, f_a, th_a = active[keep], grad[keep], f_a[keep], th_a[keep]
            restarted = restarted[keep]
            mom_a = mom_a.take(keep)
            hist = [(a_[keep], b_[keep], c_[keep]) for a_, b_, c_ in hist]
    theta[active] = th_a
    fmin[active] = f_a
    status[active] = 1  # iteration limit

    conv = np.flatnonzero(status == 0)
    if conv.size:
        full = st.implied(theta[conv])
        negvar = (np.diagonal(full["psi"], axis1=1, axis2=2) < 0).any(axis=1) | (
            np.diagonal(full["theta"], axis1=1, axis2=2) < 0).any(axis=1)
        status[conv[negvar]] = 2
        _, phi_ok = _cholesky(full["Phi"])
        _, sig_ok = _cholesky(full["Sigma"])
        status[conv[~negvar & (~phi_ok | ~sig_ok)]] = 3
    return BatchFit(theta, fmin, status, n_iter, grad_max)
