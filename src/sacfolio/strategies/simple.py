"""Strategies without a fit: equal weight (rebalanced weekly) and buy-and-hold."""

from __future__ import annotations

import numpy as np

from sacfolio.broker.rules import PortfolioRules
from sacfolio.data.panel import MarketPanel
from sacfolio.strategies.base import PanelStrategy, invested

__all__ = ["BuyAndHold", "EqualWeight"]


class EqualWeight(PanelStrategy):
    """1/N: ``1 - cash_floor`` split equally over the symbols trading at t, rebalanced weekly."""

    name = "equal_weight"

    def decide(self, t: int, obs: np.ndarray | None, drifted: np.ndarray) -> np.ndarray:
        """Target weights at row t, shape (N + 1,); ``obs`` is not used."""
        self._check(t, drifted)
        return self._equal(t)


class BuyAndHold(PanelStrategy):
    """Equal weight at the first decision of a run, then never trades (drifted weights)."""

    name = "buy_and_hold"

    def __init__(self, panel: MarketPanel, rules: PortfolioRules = PortfolioRules()) -> None:
        super().__init__(panel, rules)
        self._last_t: int | None = None

    def reset(self) -> None:
        """Forget the last decision: the next call buys again."""
        self._last_t = None

    def decide(self, t: int, obs: np.ndarray | None, drifted: np.ndarray) -> np.ndarray:
        """Equal weight when a run starts, else ``drifted`` (shape (N + 1,)).

        A run starts at the first call, after :meth:`reset`, when ``t`` does not follow
        the last call, or when nothing but CASH is held (a backtest starts in cash).
        """
        drifted = self._check(t, drifted)
        new_run = self._last_t is None or t != self._last_t + 1 or not invested(drifted)
        self._last_t = t
        return self._equal(t) if new_run else self._hold(t, drifted)
