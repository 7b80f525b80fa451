"""Covariance-based advisor solvers: long-only minimum variance and equal risk contribution.

Both work on a batch of covariance matrices at once (no loop over samples or
symbols; a fixed number of solver iterations) and return stock weights that sum
to the invested budget ``1 - cash_floor``. They sit apart from
:mod:`sacfolio.strategies.zoo` so that the solvers can be tested on a covariance
given by hand (e.g. a diagonal one, whose answers are known in closed form).
"""

from __future__ import annotations

import numpy as np

from sacfolio.broker.projection import FeasibleSet
from sacfolio.broker.rules import PortfolioRules

__all__ = ["min_variance_weights", "quadratic_weights", "risk_parity_weights", "sample_covariance",
           "stock_projection"]


def sample_covariance(returns: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Sample covariance (ddof 1) of each sample's returns, 0 in rows/columns of invalid slots.

    Parameters
    ----------
    returns : ndarray float64, shape (B, N, W)
        ``W >= 2`` returns per slot, finite.
    valid : ndarray bool, shape (B, N)

    Returns
    -------
    ndarray float64, shape (B, N, N)
    """
    r = np.where(valid[..., None], returns, 0.0)
    r = r - r.mean(axis=-1, keepdims=True)
    return r @ np.swapaxes(r, -1, -2) / (returns.shape[-1] - 1)


def stock_projection(scored: np.ndarray, rules: PortfolioRules):
    """Euclidean projection of stock weights onto {0 <= w <= cap (0 if unscored), sum = 1 - cash_floor}.

    The broker's projection onto its feasible set, with CASH started far below every
    stock so that it ends at exactly its floor (where the cap lets the stocks take
    ``1 - cash_floor``; otherwise every scored stock ends at the cap). With
    ``PortfolioRules(cash_floor=0, max_weight=1)`` it is the projection onto the simplex.

    Parameters
    ----------
    scored : ndarray bool, shape (B, N)
    rules : PortfolioRules

    Returns
    -------
    callable
        ``(B, N) -> (B, N)``; a shift of every weight of a row by the same amount does not
        change the result.
    """
    feasible = FeasibleSet(scored, rules)
    rows = np.arange(len(scored))

    def project(x: np.ndarray) -> np.ndarray:
        cash = x.min(axis=-1, keepdims=True) - 3.0
        return feasible.project(np.concatenate((x, cash), axis=-1), rows)[:, :-1]

    return project


def _polish(quad: np.ndarray, linear: np.ndarray, x: np.ndarray, scored: np.ndarray, cap: float,
            budget: float) -> tuple[np.ndarray, np.ndarray]:
    """The exact minimum on the active set that ``x`` suggests, and whether it is optimal.

    Stocks of ``x`` at exactly 0 or at the cap (the projection clips to the bounds
    exactly) stay there; the free ones solve the equality-constrained system
    ``quad_FF w_F = linear_F - quad_FK cap + mu 1``, ``sum w = budget``. A row is optimal
    when that ``w`` is within the bounds and the KKT signs hold: the reduced gradient
    ``(quad w - linear)_i - mu`` is ``>= 0`` at 0 and ``<= 0`` at the cap.

    Returns
    -------
    w : ndarray float64, shape (B, N)
    optimal : ndarray bool, shape (B, 1)
    """
    capped = scored & (x >= cap)
    free = scored & (x > 0.0) & ~capped
    eye = np.eye(x.shape[-1])
    ridge = 1e-13 * np.trace(quad, axis1=-2, axis2=-1)[:, None, None] / x.shape[-1] + 1e-300
    system = np.where(free[:, :, None] & free[:, None, :], quad + ridge * eye, eye)
    fixed = np.where(capped, cap, 0.0)
    rhs = np.stack((np.where(free, linear - np.einsum("bij,bj->bi", quad, fixed), 0.0), free.astype(np.float64)), -1)
    try:
        u, v = np.moveaxis(np.linalg.solve(system, rhs), -1, 0)
    except np.linalg.LinAlgError:
        return x, np.zeros((len(x), 1), dtype=bool)
    total = v.sum(axis=-1, keepdims=True)
    mu = (budget - fixed.sum(axis=-1, keepdims=True) - u.sum(axis=-1, keepdims=True)) / np.where(total > 0, total, 1)
    w = np.where(free, u + mu * v, fixed)
    reduced = np.einsum("bij,bj->bi", quad, w) - linear - mu
    slack = 1e-11 * (np.abs(quad).max(axis=(-2, -1))[:, None] + np.abs(linear).max(axis=-1, keepdims=True))
    optimal = (total > 0) & np.isfinite(w).all(axis=-1, keepdims=True) \
        & np.where(free, (w >= 0.0) & (w <= cap), True).all(axis=-1, keepdims=True) \
        & np.where(scored & ~free & ~capped, reduced >= -slack, True).all(axis=-1, keepdims=True) \
        & np.where(capped, reduced <= slack, True).all(axis=-1, keepdims=True)
    return np.where(optimal, w, x), optimal


def quadratic_weights(quad: np.ndarray, linear: np.ndarray | None, scored: np.ndarray, rules: PortfolioRules, *,
                      start: np.ndarray | None = None, max_iter: int = 2_000, tol: float = 1e-13,
                      polish_every: int = 10) -> np.ndarray:
    """``argmin w' quad w - 2 linear' w`` over stocks in [0, cap] (0 if unscored) summing to ``1 - cash_floor``.

    Accelerated projected gradient (FISTA, Beck & Teboulle 2009, with the gradient
    restart of O'Donoghue & Candes 2015), each step projected by
    :func:`stock_projection`. Every move keeps the sum, so the step is
    ``1 / (2 lambda_max(P quad P))`` with ``P = I - 11'/N``: a large common factor in
    ``quad`` (the market's variance) does not slow it down. Every ``polish_every``
    iterations the active set the iterate suggests is solved exactly and kept where it
    passes the KKT conditions (as OSQP's solution polishing does), which ends most rows
    long before the gradient steps alone would.

    Parameters
    ----------
    quad : ndarray float64, shape (B, N, N)
        Positive semi-definite.
    linear : ndarray float64, shape (B, N), optional
        0 when omitted.
    scored : ndarray bool, shape (B, N)
        Slots that may hold weight.
    rules : PortfolioRules
    start : ndarray float64, shape (B, N), optional
        First iterate (default: equal weight over the scored slots).
    max_iter, tol, polish_every : int, float, int
        Iteration cap, the largest weight change that counts as converged, and how often
        to try the exact active-set solution; a row that converged or was solved exactly
        stops, so no row's answer depends on the others in the batch.

    Returns
    -------
    ndarray float64, shape (B, N)
        0 on unscored slots.
    """
    project = stock_projection(scored, rules)
    n = quad.shape[-1]
    if start is None:
        start = (1.0 - rules.cash_floor) * scored / np.maximum(scored.sum(axis=-1, keepdims=True), 1)
    x = project(start)
    centre = np.eye(n) - 1.0 / n
    step = 0.5 / (np.linalg.eigvalsh(centre @ quad @ centre)[:, -1:] + 1e-300)
    shift = np.zeros_like(x) if linear is None else linear
    y, t = x.copy(), np.ones((len(x), 1))
    active = np.ones((len(x), 1), dtype=bool)
    for k in range(max_iter):
        if k % polish_every == polish_every - 1:
            polished, optimal = _polish(quad, shift, x, scored & active, rules.max_weight, 1.0 - rules.cash_floor)
            x, y = np.where(active, polished, x), np.where(active & optimal, polished, y)
            active &= ~optimal
        if not active.any():
            break
        grad = 2.0 * (np.einsum("bij,bj->bi", quad, y) - shift)
        new = np.where(active, project(y - step * grad), x)
        change = new - x
        restart = ((y - new) * change).sum(axis=-1, keepdims=True) > 0.0
        t_next = np.where(restart, 1.0, 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t)))
        y = new + np.where(restart, 0.0, (t - 1.0) / t_next) * change
        x, t = new, t_next
        active &= np.abs(change).max(axis=-1, keepdims=True) > tol
        if not active.any():
            break
    return np.where(scored, x, 0.0)


def min_variance_weights(cov: np.ndarray, scored: np.ndarray, rules: PortfolioRules) -> np.ndarray:
    """Long-only minimum-variance stock weights under the cap, invested ``1 - cash_floor``.

    :func:`quadratic_weights` of ``w' cov w``. Without a binding cap and with a diagonal
    ``cov`` the answer is the inverse-variance portfolio
    ``(1 - cash_floor) (1 / var_i) / sum_j (1 / var_j)``.

    Parameters
    ----------
    cov : ndarray float64, shape (B, N, N)
        Positive semi-definite.
    scored : ndarray bool, shape (B, N)
        Slots that may hold weight.
    rules : PortfolioRules

    Returns
    -------
    ndarray float64, shape (B, N)
        0 on unscored slots; sums to ``1 - cash_floor`` where the cap allows it.
    """
    return quadratic_weights(cov, None, scored, rules)


def risk_parity_weights(cov: np.ndarray, scored: np.ndarray, budget: float, *,
                        max_iter: int = 100, tol: float = 1e-12) -> np.ndarray:
    """Equal-risk-contribution stock weights over the scored slots, summing to ``budget``.

    Solves Spinu (2013), "An algorithm for computing risk parity weights":
    ``min 1/2 x' cov x - sum_i log x_i`` over ``x > 0`` by damped Newton steps
    (step ``1 / (1 + lambda)`` while the Newton decrement ``lambda > 0.25``, full
    steps after), then ``w = budget * x / sum x``, so that every scored stock
    contributes ``w_i (cov w)_i`` equally to the variance. With a diagonal ``cov`` the
    answer is the inverse-volatility portfolio. The cap is not part of the problem:
    the caller projects onto the rules.

    Parameters
    ----------
    cov : ndarray float64, shape (B, N, N)
        Positive semi-definite, with a positive diagonal on scored slots.
    scored : ndarray bool, shape (B, N)
    budget : float
    max_iter, tol : int, float
        Iteration cap and the squared Newton decrement that counts as converged.

    Returns
    -------
    ndarray float64, shape (B, N)
        0 on unscored slots (all 0 in a row without any).
    """
    both = scored[:, :, None] & scored[:, None, :]
    eye = np.eye(cov.shape[-1], dtype=bool)
    # unscored slots become independent unit-variance coordinates, dropped at the end
    sigma = np.where(both, cov, np.where(eye, 1.0, 0.0))
    x = 1.0 / np.sqrt(np.diagonal(sigma, axis1=-2, axis2=-1))
    active = np.ones((len(x), 1), dtype=bool)  # a converged row stops: no row depends on another
    for _ in range(max_iter):
        grad = np.einsum("bij,bj->bi", sigma, x) - 1.0 / x
        hessian = sigma + eye * (1.0 / (x * x))[:, None, :]
        delta = np.linalg.solve(hessian, grad[..., None])[..., 0]
        decrement = (grad * delta).sum(axis=-1, keepdims=True)
        lam = np.sqrt(np.maximum(decrement, 0.0))
        x = np.where(active, x - np.where(lam > 0.25, 1.0 / (1.0 + lam), 1.0) * delta, x)
        active &= decrement > tol
        if not active.any():
            break
    w = np.where(scored, x, 0.0)
    total = w.sum(axis=-1, keepdims=True)
    return budget * w / np.where(total > 0.0, total, 1.0)
