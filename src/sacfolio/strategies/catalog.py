"""The strategies by the names reports and the CLI use."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sacfolio.broker.rules import PortfolioRules
from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import ConfigError
from sacfolio.strategies.base import Strategy
from sacfolio.strategies.hindsight import HindsightTop5
from sacfolio.strategies.inverse_vol import InverseVolatility
from sacfolio.strategies.optimized import HRP, MaximumSharpe, MinimumVariance
from sacfolio.strategies.refit import RefitSchedule
from sacfolio.strategies.simple import BuyAndHold, EqualWeight

__all__ = ["STRATEGIES", "StrategyFactory", "make_strategies"]

StrategyFactory = Callable[[MarketPanel, PortfolioRules, RefitSchedule], Strategy]

STRATEGIES: dict[str, StrategyFactory] = {
    EqualWeight.name: lambda panel, r, s: EqualWeight(panel, r),
    BuyAndHold.name: lambda panel, r, s: BuyAndHold(panel, r),
    InverseVolatility.name: lambda panel, r, s: InverseVolatility(panel, r, schedule=s),
    MinimumVariance.name: lambda panel, r, s: MinimumVariance(panel, r, schedule=s),
    MaximumSharpe.name: lambda panel, r, s: MaximumSharpe(panel, r, schedule=s),
    HRP.name: lambda panel, r, s: HRP(panel, r, schedule=s),
    HindsightTop5.name: lambda panel, r, s: HindsightTop5(panel, r),
}
"""Strategy name -> factory ``(panel, rules, schedule) -> strategy``."""


def make_strategies(
    panel: MarketPanel,
    names: Iterable[str] | None = None,
    *,
    rules: PortfolioRules = PortfolioRules(),
    schedule: RefitSchedule = RefitSchedule(),
) -> dict[str, Strategy]:
    """Build strategies by name, in the order given (default: all of :data:`STRATEGIES`).

    Raises
    ------
    ConfigError
        If a name is not in :data:`STRATEGIES`.
    """
    chosen = list(STRATEGIES) if names is None else list(names)
    unknown = [n for n in chosen if n not in STRATEGIES]
    if unknown:
        raise ConfigError(f"unknown baseline(s) {unknown}; choose from {sorted(STRATEGIES)}")
    return {n: STRATEGIES[n](panel, rules, schedule) for n in chosen}
