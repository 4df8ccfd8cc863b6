"""Normal-theory ML for covariance structures, in plain numpy (no semopy).

The implied covariance is ``Sigma = Lambda (I - B)^-1 Psi (I - B)^-T Lambda' + Theta``
(semopy's RAM-like layout, see :class:`~smsem.estimate.backend.Matrices`). This module
gives its exact derivatives with respect to the free parameters, lavaan's ML discrepancy
and expected information, and Fisher scoring that polishes an estimate to the precision
the lavaan conformance tests need (the optimizer's stopping rule alone leaves ~1e-4).

Conventions are lavaan's defaults: the sample covariance ``S`` divides by N,
``chi2 = N * F_ML`` (normal likelihood, not Wishart's N - 1), and the information is the
expected one evaluated at the model-implied covariance.
"""

from __future__ import annotations

import numpy as np


from .matrices import Matrices, ParamMap

__all__ = [
    "sigma_jacobian", "vech_indices", "vech", "f_ml", "expected_information", "fisher_scoring",
    "sample_moments", "loglik_normal", "mean_jacobian", "f_ml_means", "ml_gradient_means",
    "expected_information_means", "fisher_scoring_means", "minimize_ml",
]


def sample_moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of ``x`` (rows = cases), the covariance divided by N as in lavaan."""
    mean = x.mean(axis=0)
    d = x - mean
    return mean, d.T @ d / len(x)


def vech_indices(p: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of each element of ``vech`` (lower triangle, column by column)."""
    rows, cols = [], []
    for j in range(p):
        for i in range(j, p):
            rows.append(i)
            cols.append(j)
    return np.array(rows), np.array(cols)


def vech(a: np.ndarray) -> np.ndarray:
    """Half-vectorization of the symmetric matrix (or stack of matrices) ``a``."""
    r, c = vech_indices(a.shape[-1])
    return a[..., r, c]


def sigma_jacobian(pm: ParamMap, theta: np.ndarray) -> np.ndarray:
    """``dSigma / dtheta_k`` for every free parameter: an array of shape (k, p, p).

    Exact (analytic) derivatives. With ``B = I - beta``, ``C = B^-1 Psi B^-T`` and a unit
    matrix ``E`` at the parameter's cell:

    - loading:      ``E C L' + L C E'``
    - path:         ``L (B^-1 E C + C E' B^-T) L'``
    - latent (co)variance: ``L B^-1 E B^-T L'``
    - residual (co)variance: ``E``

    A parameter with several cells (symmetric pairs, equality labels) sums its cells.
    """
    mx = pm.matrices_at(theta)
    lam = mx.lambda_
    binv = np.linalg.inv(np.eye(len(mx.inner)) - mx.beta)
    c = binv @ mx.psi @ binv.T
    lb = lam @ binv
    lc = lam @ c
    p = len(mx.observed)
    out = np.zeros((pm.n_free, p, p))
    # The r-th location of every parameter in one step per matrix ("round" r): each
    # parameter's cells are added in the order listed, with the same element-wise
    # operations as one location at a time.
    for rnd in _jacobian_rounds(pm):
        for m, k, i, j in rnd:
            if m == 0:  # beta[i, j]: dC = B^-1 E C + (B^-1 E C)'
                t = lb[:, i].T[:, :, None] * lc[:, j].T[:, None, :]
                out[k] += t + t.transpose(0, 2, 1)
            elif m == 1:  # lambda[i, j]
                t = np.zeros((len(k), p, p))
                t[np.arange(len(k)), i, :] = lc[:, j].T
                out[k] += t + t.transpose(0, 2, 1)
            elif m == 2:  # psi[i, j] (each triangle listed separately)
                out[k] += lb[:, i].T[:, :, None] * lb[:, j].T[:, None, :]
            elif m == 3:  # theta[i, j]
                out[k, i, j] += 1.0
            # m = 4, 5 (nu, alpha): means only
    return out


def _jacobian_rounds(pm: ParamMap) -> list[list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]]:
    """Per round r, per matrix: the parameters with an r-th location and its cells (built
    once per parameter map)."""
    store = getattr(pm, "__dict__", {})
    kept = store.get("_jacobian_rounds")
    if kept is not None:
        return kept
    rounds: list[dict[int, list[tuple[int, int, int]]]] = []
    for k, locs in enumerate(pm.locations):
        for r, (m, i, j) in enumerate(locs):
            if r == len(rounds):
                rounds.append({})
            rounds[r].setdefault(m, []).append((k, i, j))
    plan = [[(m, *(np.array(x, dtype=np.intp) for x in zip(*cells))) for m, cells in sorted(rnd.items())]
            for rnd in rounds]
    store["_jacobian_rounds"] = plan
    return plan


def mean_jacobian(pm: ParamMap, theta: np.ndarray) -> np.ndarray:
    """``dmu / dtheta_k`` for every free parameter: an array of shape (k, p).

    ``mu = nu + L B^-1 alpha`` with ``B = I - beta``:

    - intercept ``nu_i``: ``e_i``
    - inner mean ``alpha_i``: ``(L B^-1)[:, i]``
    - loading ``lambda[i, j]``: ``e_i (B^-1 alpha)_j``
    - path ``beta[i, j]``: ``(L B^-1)[:, i] (B^-1 alpha)_j``

    Zero everywhere without a mean structure.
    """
    mx = pm.matrices_at(theta)
    p = len(mx.observed)
    out = np.zeros((pm.n_free, p))
    if mx.alpha is None:
        return out
    binv = np.linalg.inv(np.eye(len(mx.inner)) - mx.beta)
    lb = mx.lambda_ @ binv
    eta = binv @ mx.alpha
    for k, locs in enumerate(pm.locations):
        d = out[k]
        for m, i, j in locs:
            if m == 0:
                d += lb[:, i] * eta[j]
            elif m == 1:
                d[i] += eta[j]
            elif m == 4:
                d[i] += 1.0
            elif m == 5:
                d += lb[:, i]
    return out


def f_ml(s: np.ndarray, sigma: np.ndarray) -> float:
    """lavaan's ML discrepancy ``log|Sigma| - log|S| + tr(S Sigma^-1) - p`` (inf if not PD).

    Positive definiteness is checked by a Cholesky factorization: a positive determinant
    alone also admits an even number of negative eigenvalues (where ``F`` can go below 0).
    """
    try:
        chol = np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:
        return np.inf
    logdet = 2.0 * float(np.sum(np.log(np.diag(chol))))
    _, logdet_s = np.linalg.slogdet(s)
    return float(logdet - logdet_s + np.trace(np.linalg.solve(sigma, s)) - s.shape[0])


def loglik_normal(s: np.ndarray, sigma: np.ndarray, n: int) -> float:
    """Normal log-likelihood of N cases with covariance ``S`` (N divisor) under ``sigma``.

    The mean is saturated (it equals the sample mean), so it drops out; this is lavaan's
    ``logl`` (``unrestricted.logl`` when ``sigma`` is ``S``).
    """
    p = s.shape[0]
    _, logdet = np.linalg.slogdet(sigma)
    return float(-n / 2 * (p * np.log(2 * np.pi) + logdet + np.trace(np.linalg.solve(sigma, s))))


def _w_vech(sigma: np.ndarray) -> np.ndarray:
    """``0.5 D' (Sigma^-1 kron Sigma^-1) D`` in the vech basis (normal-theory weight)."""
    p = sigma.shape[0]
    si = np.linalg.inv(sigma)
    r, c = vech_indices(p)
    # Element (ab, cd) of D'(A kron A)D for symmetric A is 2 (A_ac A_bd + A_ad A_bc) s_ab s_cd
    # with s = 1/2 on the diagonal, 1 off it; written out so no p^2 x p^2 matrix is formed.
    w = si[np.ix_(r, r)] * si[np.ix_(c, c)] + si[np.ix_(r, c)] * si[np.ix_(c, r)]
    scale = np.where(r == c, 0.5, 1.0)
    return w * scale[:, None] * scale[None, :]


def weight_matrix(sigma: np.ndarray) -> np.ndarray:
    """The normal-theory weight matrix for ``vech`` residuals (lavaan's ``WLS.V`` for ML)."""
    return _w_vech(sigma)


def expected_information(jac: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Expected information per case: ``0.5 tr(Sigma^-1 dS_k Sigma^-1 dS_l)``."""
    si = np.linalg.inv(sigma)
    a = np.einsum("ij,kjl->kil", si, jac)  # Sigma^-1 dSigma_k
    return 0.5 * np.einsum("kij,lji->kl", a, a)


def ml_gradient(jac: np.ndarray, s: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Gradient of ``F_ML`` with respect to theta."""
    si = np.linalg.inv(sigma)
    g = si - si @ s @ si  # dF/dSigma (full symmetric-matrix derivative)
    return np.einsum("ij,kij->k", g, jac)


def fisher_scoring(pm: ParamMap, theta: np.ndarray, s: np.ndarray, *, max_iter: int = 500,
                   tol: float = 1e-10, gtol: float = 1e-9) -> tuple[np.ndarray, bool]:
    """Polish an ML estimate by Fisher scoring with step halving.

    Returns ``(theta, converged)``. Convergence is judged by the step and the gradient,
    never by the iteration count: converged means the largest scoring step fell below
    ``tol`` (relative to ``max(1, |theta|)``) or the largest absolute gradient of
    ``F_ML`` fell below ``gtol``. Near the optimum the distance to it is about the
    scoring step, ``|(2 I)^-1 g| <= |g| / lambda_min(2 I)``: with ``gtol = 1e-9`` that is
    ~3e-9 for the integrative model (``lambda_min`` about 0.3) and ~1e-6 for a badly
    conditioned one (``lambda_min`` 1e-3), far below any standard error and below the
    1e-3 that lavaan's own gradient check allows (``optim.dx.tol``), while the gradient's
    rounding floor (~1e-13) stays far below ``gtol``, so the test can be met. Scoring
    converges linearly when the model misfits badly (the expected information is then
    not the Hessian): ~60 iterations at F = 12. ``max_iter`` (500) is a budget, not the
    criterion: after 20 iterations the observed linear rate ``r`` of the steps (over the
    last 10) decides early that a run will not converge, when ``F`` no longer decreases
    while the steps do not shrink (a stalled, oscillating line search) or when ``r`` could
    not bring the step below ``tol`` within the budget (a drift toward an improper
    solution); such runs stop at once instead of spending 500 iterations.
    """
    theta = np.asarray(theta, dtype=float).copy()
    f_old = f_ml(s, pm.matrices_at(theta).implied_cov)
    steps: list[float] = []  # largest relative step of each iteration
    fs: list[float] = []
    for k in range(1, max_iter + 1):
        sigma = pm.matrices_at(theta).implied_cov
        jac = sigma_jacobian(pm, theta)
        info = expected_information(jac, sigma)
        grad = ml_gradient(jac, s, sigma)
        if np.max(np.abs(grad), initial=0.0) < gtol:
            return theta, True
        try:
            step = -np.linalg.solve(2 * info, grad)
        except np.linalg.LinAlgError:
            return theta, False
        t = 1.0
        while t > 1e-4:
            cand = theta + t * step
            f_new = f_ml(s, pm.matrices_at(cand).implied_cov)
            if f_new <= f_old + 1e-12:
                break
            t /= 2
        else:
            return theta, False
        theta, f_old = cand, f_new
        rel = float(np.max(np.abs(t * step) / np.maximum(1.0, np.abs(theta)), initial=0.0))
        if rel < tol:
            return theta, True
        steps.append(rel)
        fs.append(f_new)
        if k >= 20 and steps[-11] > 0:
            r = (rel / steps[-11]) ** 0.1  # per-iteration contraction of the step
            stalled = fs[-11] - f_new <= 1e-13 * max(1.0, abs(f_new)) and r ** 10 > 0.5
            if stalled or r >= 1.0 or k + np.log(tol / rel) / np.log(r) > max_iter:
                return theta, False
    return theta, False


def f_ml_means(s: np.ndarray, xbar: np.ndarray | None, sigma: np.ndarray, mu: np.ndarray | None) -> float:
    """``F_ML`` plus the mean part ``(xbar - mu)' Sigma^-1 (xbar - mu)`` (when ``mu`` is given)."""
    f = f_ml(s, sigma)
    if mu is None or not np.isfinite(f):
        return f
    d = xbar - mu
    return f + float(d @ np.linalg.solve(sigma, d))


def ml_gradient_means(jac: np.ndarray, mjac: np.ndarray, s: np.ndarray, xbar: np.ndarray | None,
                      sigma: np.ndarray, mu: np.ndarray | None) -> np.ndarray:
    """Gradient of :func:`f_ml_means`: ``dF/dSigma = Sigma^-1 - Sigma^-1 (S + d d') Sigma^-1``,
    ``dF/dmu = -2 Sigma^-1 d`` with ``d = xbar - mu``."""
    if mu is None:
        return ml_gradient(jac, s, sigma)
    si = np.linalg.inv(sigma)
    d = xbar - mu
    sd = s + np.outer(d, d)
    g = si - si @ sd @ si
    return np.einsum("ij,kij->k", g, jac) - 2 * mjac @ (si @ d)


def expected_information_means(jac: np.ndarray, mjac: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Expected information per case with a mean structure:
    ``0.5 tr(Sigma^-1 dS_k Sigma^-1 dS_l) + dmu_k' Sigma^-1 dmu_l``."""
    info = expected_information(jac, sigma)
    return info + mjac @ np.linalg.solve(sigma, mjac.T)


def _objective(pm: ParamMap, s: np.ndarray, xbar: np.ndarray | None):
    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        mx = pm.matrices_at(theta)
        sigma = mx.implied_cov
        mu = mx.implied_mean if pm.meanstructure else None
        try:
            f = f_ml_means(s, xbar, sigma, mu)
        except np.linalg.LinAlgError:
            f = np.inf
        if not np.isfinite(f):
            return 1e10, np.zeros_like(theta)
        jac = sigma_jacobian(pm, theta)
        mjac = mean_jacobian(pm, theta) if pm.meanstructure else None
        return f, ml_gradient_means(jac, mjac, s, xbar, sigma, mu)
    return fun


def fisher_scoring_means(pm: ParamMap, theta: np.ndarray, s: np.ndarray, xbar: np.ndarray | None = None, *,
                         max_iter: int = 200, tol: float = 1e-10) -> tuple[np.ndarray, bool]:
    """Fisher scoring with step halving on ``F_ML`` (with the mean part when
    ``pm.meanstructure``). Converged when the scoring step is below ``tol`` (relative to
    ``max(1, |theta|)``) and the gradient below ``1e-8``; ``max_iter`` only guards a loop.
    """
    theta = np.asarray(theta, dtype=float).copy()
    fun = _objective(pm, s, xbar)
    f_old, grad = fun(theta)
    for _ in range(max_iter):
        mx = pm.matrices_at(theta)
        sigma = mx.implied_cov
        jac = sigma_jacobian(pm, theta)
        if pm.meanstructure:
            info = expected_information_means(jac, mean_jacobian(pm, theta), sigma)
        else:
            info = expected_information(jac, sigma)
        try:
            step = -np.linalg.solve(2 * info, grad)
        except np.linalg.LinAlgError:
            return theta, False
        t = 1.0
        while t > 1e-6:
            cand = theta + t * step
            f_new, g_new = fun(cand)
            if f_new <= f_old + 1e-12:
                break
            t /= 2
        else:
            small = np.max(np.abs(grad)) < 1e-8
            return theta, bool(small)
        theta, f_old, grad = cand, f_new, g_new
        if np.max(np.abs(t * step) / np.maximum(1.0, np.abs(theta))) < tol and np.max(np.abs(grad)) < 1e-6:
            return theta, True
    return theta, False


def minimize_ml(pm: ParamMap, start: np.ndarray, s: np.ndarray, xbar: np.ndarray | None = None
                ) -> tuple[np.ndarray, bool, str]:
    """ML estimate from ``start``: Fisher scoring to a step below 1e-10 (gradient below 1e-6);
    if that fails, L-BFGS-B with the analytic gradient and Fisher scoring from its end.
    Returns ``(theta, converged, message)``."""
    start = np.asarray(start, dtype=float)
    # Fisher scoring (lavaan's classic choice) converges in a few quadratic steps from the
    # simple start values; L-BFGS-B is the fallback when it does not.
    theta, ok = fisher_scoring_means(pm, start, s, xbar)
    if ok:
        return theta, True, "converged"
    fun = _objective(pm, s, xbar)
    from scipy import optimize  # here: 0.2 s of import, needed only when Newton/Fisher scoring fails

    res = optimize.minimize(fun, start, jac=True, method="L-BFGS-B",
                            options={"maxiter": 10000, "maxfun": 20000, "ftol": 1e-14, "gtol": 1e-8})
    theta2, ok2 = fisher_scoring_means(pm, res.x, s, xbar)
    if ok2 or fun(theta2)[0] < fun(theta)[0]:
        theta, ok = theta2, ok2
    msg = "converged" if ok else f"Fisher scoring did not converge, nor after L-BFGS-B ({res.message})"
    return theta, ok, msg


def implied(mx: Matrices) -> np.ndarray:
    return mx.implied_cov
