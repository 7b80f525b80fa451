"""The strategies by the names reports and the CLI use, and the named groups of baselines.

:data:`STRATEGIES` are the default baselines of a walk-forward report. The advisor zoo
(``zoo_momentum``, ...) and the online portfolio selection algorithms (``ucrp``, ``eg``,
..., and the ``hindsight_bcrp`` ceiling) are opt-in through their group names
``zoo`` and ``olps`` (:data:`BASELINE_GROUPS`), so the default table stays readable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sacfolio.broker.rules import PortfolioRules
from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import ConfigError
from sacfolio.strategies.base import Strategy
from sacfolio.strategies.hindsight import HindsightTop5
from sacfolio.strategies.inverse_vol import InverseVolatility
from sacfolio.strategies.olps import OLPS
from sacfolio.strategies.olps_baselines import HindsightBCRP, OnlinePortfolio
from sacfolio.strategies.optimized import HRP, MaximumSharpe, MinimumVariance
from sacfolio.strategies.refit import RefitSchedule
from sacfolio.strategies.simple import BuyAndHold, EqualWeight
from sacfolio.strategies.zoo import ADVISORS
from sacfolio.strategies.zoo_baselines import AdvisorStrategy

__all__ = ["ALL_STRATEGIES", "BASELINE_GROUPS", "OLPS_STRATEGIES", "STRATEGIES", "StrategyFactory",
           "ZOO_STRATEGIES", "make_strategies", "resolve_baselines"]

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
"""The default baselines: name -> factory ``(panel, rules, schedule) -> strategy``."""


def _advisor(name: str) -> StrategyFactory:
    return lambda panel, r, s: AdvisorStrategy(panel, r, advisor=name)


def _online(name: str) -> StrategyFactory:
    return lambda panel, r, s: OnlinePortfolio(panel, r, algorithm=name)


ZOO_STRATEGIES: dict[str, StrategyFactory] = {f"zoo_{a}": _advisor(a) for a in ADVISORS}
"""Each zoo advisor traded alone, rebalanced every decision (``zoo_momentum``, ...)."""

OLPS_STRATEGIES: dict[str, StrategyFactory] = {
    **{name: _online(name) for name in OLPS},
    HindsightBCRP.name: lambda panel, r, s: HindsightBCRP(panel, r),
}
"""The online portfolio selection algorithms and the hindsight BCRP ceiling."""

ALL_STRATEGIES: dict[str, StrategyFactory] = {**STRATEGIES, **ZOO_STRATEGIES, **OLPS_STRATEGIES}
"""Every strategy by name."""

BASELINE_GROUPS: dict[str, tuple[str, ...]] = {
    "default": tuple(STRATEGIES), "zoo": tuple(ZOO_STRATEGIES), "olps": tuple(OLPS_STRATEGIES),
    "all": tuple(ALL_STRATEGIES),
}
"""Group name -> strategy names; a baselines list may mix groups and names (``default,olps``)."""


def resolve_baselines(names: Iterable[str] | None) -> tuple[str, ...]:
    """Strategy names with group names expanded, in the order given, each once (default: ``default``).

    Raises
    ------
    ConfigError
        A name is neither a strategy of :data:`ALL_STRATEGIES` nor a group of :data:`BASELINE_GROUPS`.
    """
    chosen = ["default"] if names is None else list(names)
    unknown = [n for n in chosen if n not in ALL_STRATEGIES and n not in BASELINE_GROUPS]
    if unknown:
        raise ConfigError(f"unknown baseline(s) {unknown}; choose from {sorted(ALL_STRATEGIES)} "
                          f"or the groups {sorted(BASELINE_GROUPS)}")
    expanded = [m for n in chosen for m in BASELINE_GROUPS.get(n, (n,))]
    return tuple(dict.fromkeys(expanded))


def make_strategies(
    panel: MarketPanel,
    names: Iterable[str] | None = None,
    *,
    rules: PortfolioRules = PortfolioRules(),
    schedule: RefitSchedule = RefitSchedule(),
) -> dict[str, Strategy]:
    """Build strategies by name or group, in the order given (default: :data:`STRATEGIES`).

    Raises
    ------
    ConfigError
        If a name is neither a strategy nor a group (:func:`resolve_baselines`).
    """
    return {n: ALL_STRATEGIES[n](panel, rules, schedule) for n in resolve_baselines(names)}
