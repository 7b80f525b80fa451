"""skfolio optimizers refit on a schedule: minimum variance, maximum Sharpe, HRP.

Each is fitted on ``lookback`` = 156 trailing weekly returns (at least
``min_history`` = 52) with the position cap as skfolio's ``max_weights``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from sacfolio.strategies.refit import FitFailed, FittedStrategy

__all__ = ["HRP", "MaximumSharpe", "MinimumVariance", "SkfolioStrategy"]


class SkfolioStrategy(FittedStrategy, ABC):
    """A skfolio optimizer fitted with the stock cap as ``max_weights``."""

    @abstractmethod
    def _optimizer(self, cap: float) -> Any:
        """A fresh skfolio estimator with ``max_weights=cap``."""

    def _fit(self, returns: np.ndarray) -> np.ndarray:
        # a cap below 1/n cannot hold a fully invested portfolio; _target re-caps after scaling
        cap = max(self.rules.max_weight, 1.0 / returns.shape[1])
        model = self._optimizer(cap)
        try:
            model.fit(returns)
        except ValueError as err:  # e.g. max-Sharpe when every expected return is below 0
            raise FitFailed(str(err)) from err
        return model.weights_


class MinimumVariance(SkfolioStrategy):
    """skfolio ``MeanRisk`` minimizing variance, each stock at most ``max_weight``."""

    name = "min_variance"

    def _optimizer(self, cap: float) -> Any:
        from skfolio.optimization import MeanRisk, ObjectiveFunction

        return MeanRisk(objective_function=ObjectiveFunction.MINIMIZE_RISK, max_weights=cap)


class MaximumSharpe(SkfolioStrategy):
    """skfolio ``MeanRisk`` maximizing mean / standard deviation (risk-free 0), capped."""

    name = "max_sharpe"

    def _optimizer(self, cap: float) -> Any:
        from skfolio.measures import RiskMeasure
        from skfolio.optimization import MeanRisk, ObjectiveFunction

        return MeanRisk(objective_function=ObjectiveFunction.MAXIMIZE_RATIO,
                        risk_measure=RiskMeasure.VARIANCE, max_weights=cap)


class HRP(SkfolioStrategy):
    """skfolio ``HierarchicalRiskParity`` (variance), with its ``max_weights`` cap."""

    name = "hrp"

    def _optimizer(self, cap: float) -> Any:
        from skfolio.optimization import HierarchicalRiskParity

        return HierarchicalRiskParity(max_weights=cap)
