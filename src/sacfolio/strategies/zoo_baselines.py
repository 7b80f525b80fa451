"""Each zoo advisor traded alone as a walk-forward baseline (``zoo_momentum``, ...)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from sacfolio.broker.rules import PortfolioRules
from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import ConfigError
from sacfolio.strategies.base import PanelStrategy
from sacfolio.strategies.zoo import ADVISORS, ZooConfig, advisor_weights

__all__ = ["AdvisorStrategy", "PrecomputedStrategy", "panel_history"]


def panel_history(panel: MarketPanel, length: int) -> np.ndarray:
    """Each row's trailing ``length`` closes as the zoo's history, shape ``(T, N, length, 1)``.

    Row t holds closes ``t - length + 1 .. t`` (oldest first), NaN where a symbol was
    not available or before the first row: a row never sees a later one.
    """
    close = np.where(panel.available, panel.close, np.nan)
    padded = np.concatenate((np.full((length - 1, panel.n_symbols), np.nan), close), axis=0)
    windows = sliding_window_view(padded, length, axis=0)  # (T, N, length), a view
    return windows[..., None]


class PrecomputedStrategy(PanelStrategy, ABC):
    """A strategy whose targets of every row come from one batched computation over the panel.

    :meth:`_compute` runs once, on the first decision; it must give row t from prices at
    rows ``<= t`` only. The strategy rebalances to its target at every decision.
    """

    def __init__(self, panel: MarketPanel, rules: PortfolioRules = PortfolioRules()) -> None:
        super().__init__(panel, rules)
        self._weights: np.ndarray | None = None

    @abstractmethod
    def _compute(self) -> np.ndarray:
        """Feasible targets of every row, shape ``(T, N + 1)``, CASH last."""

    def weights(self) -> np.ndarray:
        """Target weights of every row, shape ``(T, N + 1)``, CASH last."""
        if self._weights is None:
            self._weights = self._compute()
        return self._weights

    def decide(self, t: int, obs: np.ndarray | None, drifted: np.ndarray) -> np.ndarray:
        """The target at row t, from prices at rows ``<= t``, shape (N + 1,)."""
        self._check(t, drifted)
        return self.weights()[t].copy()


class AdvisorStrategy(PrecomputedStrategy):
    """A zoo advisor rebalanced at every decision, under the same broker as the agent.

    The weights of every row come from one batched call of
    :func:`~sacfolio.strategies.zoo.advisor_weights` over the panel's trailing windows
    (:func:`panel_history`).

    Parameters
    ----------
    panel : MarketPanel
    rules : PortfolioRules
    advisor : str
        One of :data:`~sacfolio.strategies.zoo.ADVISORS`; the strategy is named
        ``"zoo_" + advisor``.
    config : ZooConfig
    """

    def __init__(self, panel: MarketPanel, rules: PortfolioRules = PortfolioRules(), *,
                 advisor: str, config: ZooConfig = ZooConfig()) -> None:
        super().__init__(panel, rules)
        if advisor not in ADVISORS:
            raise ConfigError(f"unknown advisor {advisor!r}; choose from {list(ADVISORS)}")
        self.advisor = advisor
        self.config = config
        self.name = f"zoo_{advisor}"

    def _compute(self) -> np.ndarray:
        history = panel_history(self.panel, self.config.history)
        return advisor_weights(self.advisor, history, self.panel.available, rules=self.rules, config=self.config)
