"""Feasible target weights built from a strategy's stock weights: scale, cap, rest in CASH.

Two ways onto the rules exist on purpose. :func:`~sacfolio.broker.projection.project_weights`
is the Euclidean projection (it shifts every weight by the same amount): what the
env does to any target before trading. :func:`cap_weights` instead keeps a
strategy's relative weights among the uncapped stocks (it spreads a capped stock's
surplus in proportion): what a weighting rule such as inverse volatility means by
"capped". With a cap of 0.4 and no cash floor, stocks ``[0.5, 0.3, 0.2]`` and no CASH
project to ``[0.4, 1/3, 7/30]`` and 1/30 CASH (the shift lifts CASH too), while
:func:`allocate` gives ``[0.4, 0.36, 0.24]`` and no CASH.
"""

from __future__ import annotations

import numpy as np

from sacfolio.broker.rules import PortfolioRules

__all__ = ["allocate", "cap_weights", "equal_weights"]


def cap_weights(weights: np.ndarray, cap: float) -> np.ndarray:
    """Cap weights at ``cap`` and spread the surplus proportionally over the others.

    Parameters
    ----------
    weights : ndarray, shape (n,)
        Non-negative weights.
    cap : float
        Maximum weight per entry.

    Returns
    -------
    ndarray, shape (n,)
        Every entry ``<= cap``; the total is kept when ``(weights > 0).sum() * cap``
        allows it, otherwise every positive entry ends at ``cap``. Zero entries stay 0.
    """
    w = np.asarray(weights, dtype=np.float64).copy()
    for _ in range(len(w)):  # each pass caps at least one more entry
        over = w > cap
        if not over.any():
            break
        surplus = float((w[over] - cap).sum())
        w[over] = cap
        free = (w > 0) & (w < cap)
        if not free.any():
            break
        w[free] += surplus * w[free] / w[free].sum()
    return np.minimum(w, cap)


def allocate(stock_weights: np.ndarray, rules: PortfolioRules) -> np.ndarray:
    """Invest ``1 - cash_floor`` across the stocks in proportion to ``stock_weights``.

    Parameters
    ----------
    stock_weights : ndarray, shape (N,)
        Non-negative, summing to 1 (0 for unavailable stocks).
    rules : PortfolioRules

    Returns
    -------
    ndarray float64, shape (N + 1,)
        Feasible target, CASH last: no stock above ``max_weight`` (:func:`cap_weights`;
        the surplus goes to CASH only when every held stock is at the cap).
    """
    stocks = cap_weights(stock_weights * (1.0 - rules.cash_floor), rules.max_weight)
    return np.append(stocks, 1.0 - stocks.sum())


def equal_weights(available: np.ndarray, rules: PortfolioRules) -> np.ndarray:
    """Equal weight over the available stocks within the cash floor and position cap.

    Parameters
    ----------
    available : ndarray of bool, shape (N,)
    rules : PortfolioRules

    Returns
    -------
    ndarray float64, shape (N + 1,)
        ``min((1 - cash_floor) / n_available, max_weight)`` per available stock, 0 for
        the others, the rest in CASH (all CASH when nothing is available).
    """
    available = np.asarray(available, dtype=bool)
    if not available.any():
        return np.append(np.zeros(len(available)), 1.0)
    return allocate(available / available.sum(), rules)
