"""The classical portfolios the agent is measured against, one module per family.

Every strategy follows :class:`Strategy` (``name``, ``uses_future``,
``decide(t, obs, drifted) -> weights``) and trades under the broker's
:class:`~sacfolio.broker.rules.PortfolioRules`. :data:`STRATEGIES` names them as
reports and the CLI do; :func:`make_strategies` builds them for a panel.
"""

from sacfolio.strategies.base import PanelStrategy, Strategy
from sacfolio.strategies.catalog import STRATEGIES, StrategyFactory, make_strategies
from sacfolio.strategies.hindsight import HindsightTop5
from sacfolio.strategies.inverse_vol import InverseVolatility
from sacfolio.strategies.optimized import HRP, MaximumSharpe, MinimumVariance, SkfolioStrategy
from sacfolio.strategies.refit import FitFailed, FittedStrategy, RefitSchedule
from sacfolio.strategies.simple import BuyAndHold, EqualWeight

__all__ = ["HRP", "STRATEGIES", "BuyAndHold", "EqualWeight", "FitFailed", "FittedStrategy", "HindsightTop5",
           "InverseVolatility", "MaximumSharpe", "MinimumVariance", "PanelStrategy", "RefitSchedule",
           "SkfolioStrategy", "Strategy", "StrategyFactory", "make_strategies"]
