"""What every strategy is: the :class:`Strategy` protocol and the base of the panel strategies.

A strategy has a ``name`` and ``decide(t, obs, drifted) -> weights`` (the backtest's
decision signature): at decision close ``t`` it returns target weights of shape
(N + 1,), CASH last, using prices at rows ``<= t`` only, unless ``uses_future``
says otherwise (a ceiling, never a strategy to trade).

Targets are feasible under the :class:`~sacfolio.broker.rules.PortfolioRules`:
stocks get ``(1 - cash_floor)`` of the portfolio split by the strategy's rule, no
stock above ``max_weight`` (:func:`~sacfolio.broker.targets.allocate`), unavailable
symbols 0. Strategies that hold between trades return drifted weights that can pass
the cap or fall under the cash floor; the backtest's projection onto the feasible
set then trades the excess back, as it would for the agent.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

import numpy as np

from sacfolio.broker.rules import PortfolioRules
from sacfolio.broker.targets import allocate, equal_weights
from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import EvaluationWindowError

__all__ = ["PanelStrategy", "Strategy", "invested"]


class Strategy(Protocol):
    """What the backtest needs from a policy or a classical portfolio."""

    name: str
    uses_future: bool

    def decide(self, t: int, obs: np.ndarray | None, drifted: np.ndarray) -> np.ndarray: ...


def invested(drifted: np.ndarray) -> bool:
    """True when any stock is held (a run starts all in CASH)."""
    return bool((drifted[:-1] > 0).any())


class PanelStrategy:
    """A strategy over one panel's prices: shared checks and the way to a feasible target.

    Parameters
    ----------
    panel : MarketPanel
    rules : PortfolioRules
        Cash floor and position cap the targets respect.
    """

    name: ClassVar[str]
    uses_future: ClassVar[bool] = False

    def __init__(self, panel: MarketPanel, rules: PortfolioRules = PortfolioRules()) -> None:
        self.panel = panel
        self.rules = rules
        self._returns = panel.simple_returns()  # row t: t-1 -> t, known at t

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, {self.panel!r})"

    def _check(self, t: int, drifted: np.ndarray) -> np.ndarray:
        if not 0 <= t < self.panel.n_dates:
            raise EvaluationWindowError(f"decision row {t} is outside the panel's {self.panel.n_dates} rows")
        drifted = np.asarray(drifted, dtype=np.float64)
        if drifted.shape != (self.panel.n_symbols + 1,):
            raise ValueError(f"drifted weights must have shape ({self.panel.n_symbols + 1},), got {drifted.shape}")
        return drifted

    def _target(self, stock_weights: np.ndarray) -> np.ndarray:
        """(N,) stock weights summing to 1 -> (N + 1,) feasible target, CASH last."""
        return allocate(stock_weights, self.rules)

    def _equal(self, t: int) -> np.ndarray:
        return equal_weights(self.panel.available[t], self.rules)

    def _hold(self, t: int, drifted: np.ndarray) -> np.ndarray:
        """The drifted weights, with any symbol that stopped trading moved to CASH."""
        w = drifted.copy()
        gone = ~self.panel.available[t]
        w[-1] += w[:-1][gone].sum()
        w[:-1][gone] = 0.0
        return w
