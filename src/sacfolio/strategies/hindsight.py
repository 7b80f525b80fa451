"""A ceiling, not a strategy: the best next-week returns, known in advance."""

from __future__ import annotations

import numpy as np

from sacfolio.broker.rules import PortfolioRules
from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import ConfigError, EvaluationWindowError
from sacfolio.strategies.base import PanelStrategy

__all__ = ["HindsightTop5"]


class HindsightTop5(PanelStrategy):
    """CEILING, NOT A STRATEGY: reads the future.

    At t, the ``k`` symbols with the best return over ``t -> t + 1`` each get
    ``min(max_weight, (1 - cash_floor) / k)`` (19.6% with the defaults: 20% each would
    break the 2% cash floor), the rest is CASH. It shows how far everyone is from
    perfect foresight under the same constraints and costs.
    """

    name = "hindsight_top5"
    uses_future = True

    def __init__(self, panel: MarketPanel, rules: PortfolioRules = PortfolioRules(), *,
                 k: int = 5) -> None:
        super().__init__(panel, rules)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"HindsightTop5 k={k!r} must be a positive whole number of stocks")
        self.k = k
        self.name = f"hindsight_top{k}"

    def decide(self, t: int, obs: np.ndarray | None, drifted: np.ndarray) -> np.ndarray:
        """Target weights at row t from the return of row t + 1, shape (N + 1,)."""
        self._check(t, drifted)
        if t + 1 >= self.panel.n_dates:
            raise EvaluationWindowError(
                f"{self.name} needs the next week's prices; row {t} ({self.panel.dates[t]}) is the last one")
        both = self.panel.available[t] & self.panel.available[t + 1]
        ahead = np.where(both, self._returns[t + 1], -np.inf)
        best = np.argsort(-ahead, kind="stable")[:min(self.k, int(both.sum()))]
        w = np.zeros(self.panel.n_symbols + 1)
        w[best] = min(self.rules.max_weight, (1.0 - self.rules.cash_floor) / self.k)
        w[-1] = 1.0 - w[:-1].sum()
        return w
