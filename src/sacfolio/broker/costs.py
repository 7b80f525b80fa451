"""Costs on drifted weights and the growth of portfolio value (NAV) over one period.

A rebalance at decision close t trades from the drifted weights to the target:
``turnover = sum over stocks |target - drifted|`` and ``cost = cost_rate * turnover``
of portfolio value. Over the next period the target earns ``gross = sum(target * (1 + r))``
(CASH earns 0), so value grows by ``(1 - cost) * gross`` and the weights drift to
``target * (1 + r) / gross``.

Everything works on batches of B portfolios, rows as portfolios, with row sums as
matrix-vector products (faster than ``.sum(axis=1)`` on short rows): this is the
env's hot path.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["Rebalance", "asset_growth", "drift", "rebalance", "turnover"]

_ONES: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _ones(m: int) -> tuple[np.ndarray, np.ndarray]:
    """``(ones(m) with the CASH entry 0, ones(m))`` for row sums over stocks and all assets."""
    out = _ONES.get(m)
    if out is None:
        stocks = np.ones(m)
        stocks[-1] = 0.0
        out = _ONES[m] = (stocks, np.ones(m))
    return out


class Rebalance(NamedTuple):
    """One period of B portfolios (arrays with leading dimension B).

    Fields
    ------
    turnover : ndarray float64, shape (B,)
        Sum over stocks of |target - drifted| at the decision.
    cost : ndarray float64, shape (B,)
        Transaction cost as a fraction of portfolio value before the decision.
    growth : ndarray float64, shape (B,)
        Portfolio value after the period over value before the decision, costs
        included (the simple net return is ``growth - 1``).
    drifted : ndarray float64, shape (B, N + 1)
        Weights at the end of the period, CASH last.
    """

    turnover: np.ndarray
    cost: np.ndarray
    growth: np.ndarray
    drifted: np.ndarray


def asset_growth(returns: np.ndarray) -> np.ndarray:
    """Growth factors ``1 + r`` with a CASH column of 1: (T, N) returns -> (T, N + 1)."""
    returns = np.asarray(returns, dtype=np.float64)
    growth = np.ones((returns.shape[0], returns.shape[1] + 1))
    growth[:, :-1] += returns
    return growth


def turnover(target: np.ndarray, drifted: np.ndarray) -> np.ndarray:
    """``sum over stocks |target - drifted|`` of (B, N + 1) weights; shape (B,)."""
    diff = target - drifted
    np.abs(diff, out=diff)
    return diff @ _ones(diff.shape[-1])[0]


def drift(target: np.ndarray, growth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gross growth ``sum(target * growth)`` (B,) and the drifted weights (B, N + 1)."""
    grown = target * growth
    gross = grown @ _ones(grown.shape[-1])[1]
    grown /= gross[:, None]
    return gross, grown


def rebalance(target: np.ndarray, drifted: np.ndarray, growth: np.ndarray, cost_rate: float) -> Rebalance:
    """Trade from ``drifted`` to ``target``, pay the cost, hold over a period of ``growth``.

    Parameters
    ----------
    target, drifted : ndarray float64, shape (B, N + 1)
        Feasible target weights and the weights held before the decision, CASH last.
    growth : ndarray float64, shape (B, N + 1)
        ``1 + r`` of the period per asset (:func:`asset_growth` rows), CASH 1.
    cost_rate : float
        Cost per unit of turnover (:attr:`PortfolioRules.cost_rate`).

    Returns
    -------
    Rebalance
    """
    traded = turnover(target, drifted)
    cost = traded * cost_rate
    gross, after = drift(target, growth)
    net = 1.0 - cost
    net *= gross
    return Rebalance(traded, cost, net, after)
