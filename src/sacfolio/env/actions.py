"""Actions to portfolio weights: the env's reading of the actor's output.

Two action modes (``EnvConfig.action_mode``); either way the action is in
[-1, 1]^(N+1), CASH last, and the broker projects the result onto the portfolio
rules (:func:`~sacfolio.broker.projection.project_weights`):

``softmax``
    The action is scaled to logits (``EnvConfig.logit_scale``), the unavailable
    stocks are masked out of a softmax.
``residual``
    The action tilts a benchmark portfolio (constrained equal weight by default):
    ``benchmark + kappa * tilt(action)`` with ``kappa = EnvConfig.tilt``
    (:func:`residual_point`). A zero action is exactly the benchmark.

The broker knows only feasible weights; how an action becomes weights is the env's.
"""

from __future__ import annotations

import numpy as np

from sacfolio.broker.projection import checked_vector, feasible_rows, project_weights, weight_bounds
from sacfolio.broker.rules import PortfolioRules
from sacfolio.broker.targets import equal_weights
from sacfolio.env.config import EnvConfig
from sacfolio.exceptions import DataError

__all__ = ["action_to_weights", "benchmark_weights", "masked_softmax", "residual_point"]


def masked_softmax(action: np.ndarray, scale: float, open_mask: np.ndarray) -> np.ndarray:
    """Softmax of ``scale * clip(action, -1, 1)`` over columns where ``open_mask`` (float 0/1) is 1.

    Logits are bounded by ``scale <= 50``, so exp() needs no max-subtraction.

    Parameters
    ----------
    action : ndarray float64, shape (..., N + 1)
    scale : float
    open_mask : ndarray float64, shape (..., N + 1) or broadcastable
        1 for tradable stocks and CASH, 0 for the others.

    Returns
    -------
    ndarray float64, same shape as ``action``; rows sum to 1.
    """
    e = np.multiply(action, scale)
    np.minimum(e, scale, out=e)
    np.maximum(e, -scale, out=e)
    np.exp(e, out=e)
    e *= open_mask
    e /= (e @ np.ones(e.shape[-1]))[..., None]
    return e


def residual_point(action: np.ndarray, benchmark: np.ndarray, open_stocks: np.ndarray,
                   tilt: float) -> np.ndarray:
    """``benchmark + tilt * tilt_vector(action)``: the residual mode's point before projection.

    With ``a = clip(action, -1, 1)``, ``n`` open stocks and ``a_s`` the stock part
    (0 for closed stocks), the tilt vector is

    - stock i (open): ``a_s[i] - (sum(a_s) + a_cash) / n``: the stock part demeaned
      over the open stocks (a zero-sum tilt between stocks), less an equal share of
      the CASH tilt, which the stocks fund;
    - closed stocks: 0;
    - CASH: ``a_cash``.

    So the tilt sums to zero, a stock's weight moves by at most ``(2 + 1/n) * tilt`` and
    CASH's by ``tilt``, and a zero action gives ``benchmark`` bit for bit.

    Parameters
    ----------
    action : ndarray float, shape (..., N + 1)
    benchmark : ndarray float64, shape (..., N + 1)
        Feasible benchmark weights, CASH last.
    open_stocks : ndarray float64, shape (..., N)
        1 for tradable stocks, 0 for the others.
    tilt : float
        kappa (``EnvConfig.tilt``).

    Returns
    -------
    ndarray float64, shape (..., N + 1)
        Sums to 1 up to rounding; may leave the bounds (the caller projects).
    """
    a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
    stocks = a[..., :-1] * open_stocks
    n = open_stocks.sum(axis=-1)
    inv_n = np.divide(1.0, n, out=np.zeros_like(n), where=n > 0)
    shift = (stocks.sum(axis=-1) + a[..., -1]) * inv_n
    stocks -= shift[..., None]
    stocks *= open_stocks
    out = np.empty(np.broadcast_shapes(np.shape(benchmark), a.shape))
    out[...] = benchmark
    out[..., :-1] += tilt * stocks
    out[..., -1] += tilt * a[..., -1]
    return out


def benchmark_weights(available: np.ndarray, rules: PortfolioRules,
                      benchmark: np.ndarray | None = None) -> np.ndarray:
    """Per-row benchmark weights, feasible under ``rules``.

    Parameters
    ----------
    available : ndarray bool, shape (T, N)
    rules : PortfolioRules
    benchmark : ndarray float, shape (T, N + 1), optional
        Any per-row target weights (e.g. a strategy's); default the constrained equal
        weight of :func:`~sacfolio.broker.targets.equal_weights`. Rows already feasible
        are kept bit for bit, the others projected.

    Returns
    -------
    ndarray float64, shape (T, N + 1), CASH last.

    Raises
    ------
    DataError
        A benchmark of the wrong shape or with non-finite weights.
    """
    available = np.asarray(available, dtype=bool)
    T, N = available.shape
    if benchmark is None:
        patterns, inverse = np.unique(available, axis=0, return_inverse=True)
        table = np.stack([equal_weights(p, rules) for p in patterns])
        return table[inverse.reshape(-1)]
    weights = np.asarray(benchmark, dtype=np.float64)
    if weights.shape != (T, N + 1):
        raise DataError(f"benchmark weights must be (T, N + 1) = ({T}, {N + 1}), got shape {weights.shape}")
    if not np.isfinite(weights).all():
        t = int(np.argwhere(~np.isfinite(weights))[0, 0])
        raise DataError("benchmark weights must be finite", row=t)
    lo, hi = weight_bounds(available, rules)
    keep = feasible_rows(weights, lo, hi)
    return np.where(keep[:, None], weights, project_weights(weights, rules, available))


def action_to_weights(
    action: np.ndarray,
    config: EnvConfig,
    available: np.ndarray | None = None,
    benchmark: np.ndarray | None = None,
) -> np.ndarray:
    """Map actor outputs to feasible portfolio weights.

    ``softmax``: ``logits = config.logit_scale * action`` (actions are clipped to
    [-1, 1]), unavailable stocks get logit -inf, softmax, then :func:`project_weights`
    onto ``config.rules``. ``residual``: :func:`residual_point` of ``benchmark``, then
    the projection (rows already feasible, such as a zero action's, are kept exactly).

    Parameters
    ----------
    action : array_like of float, shape (..., N + 1)
        Actor output in [-1, 1]; the last entry is CASH's.
    config : EnvConfig
        Supplies the action mode, its scale or tilt and the portfolio rules.
    available : array_like of bool, shape (..., N) or (N,), optional
        Tradable stocks (default: all).
    benchmark : array_like of float, shape (..., N + 1) or (N + 1,), optional
        ``residual``: the benchmark weights of the decision's row (default: the
        constrained equal weight over ``available``). Ignored by ``softmax``.

    Returns
    -------
    ndarray of float64, shape (..., N + 1)
        Feasible weights, CASH last.
    """
    a, available = checked_vector(action, available, what="action")
    open_stocks = available.astype(np.float64)
    if config.action_mode == "residual":
        if benchmark is None:
            benchmark = benchmark_weights(available.reshape(-1, available.shape[-1]), config.rules)
            benchmark = benchmark.reshape(available.shape[:-1] + (available.shape[-1] + 1,))
        y = residual_point(a, np.asarray(benchmark, dtype=np.float64), open_stocks, config.tilt)
        lo, hi = weight_bounds(available, config.rules)
        return np.where(feasible_rows(y, lo, hi)[..., None], y, project_weights(y, config.rules, available))
    open_mask = np.concatenate((open_stocks, np.ones(available.shape[:-1] + (1,))), axis=-1)
    soft = masked_softmax(a, config.logit_scale, open_mask)
    return project_weights(soft, config.rules, available)
