"""The rules a portfolio trades under: cash floor, position cap, transaction cost, and the broker."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from sacfolio.broker.venue import BrokerVenue
from sacfolio.exceptions import ConfigError

__all__ = ["PortfolioRules"]


@dataclass(frozen=True, kw_only=True)
class PortfolioRules:
    """Constraints and costs every portfolio (agent, strategy, serve fallback) obeys.

    The feasible set for N stocks and CASH (last) is
    {w >= 0, sum w = 1, w_cash >= cash_floor, w_stock <= max_weight, w = 0 for
    unavailable stocks}. CASH has no upper cap, so the set is never empty, whatever
    the number of available symbols.

    Attributes
    ----------
    cash_floor : float, default 0.02
        Minimum CASH weight, in [0, 1).
    max_weight : float, default 0.20
        Maximum weight of each stock, in (0, 1]. Unavailable symbols get a cap of 0.
    cost_bps : float, default 10.0
        Transaction cost in basis points of traded value: each decision costs
        ``cost_bps * 1e-4 * turnover`` of portfolio value, where turnover is
        ``sum over stocks |w_target - w_drifted|``.
    broker : BrokerVenue, optional
        Trade through the simulated broker (spread, commission, leverage, margin,
        financing, FX from an instrument file) instead of paying ``cost_bps`` on drifted
        turnover. None (the default): the equity configuration.
    """

    cash_floor: float = 0.02
    max_weight: float = 0.20
    cost_bps: float = 10.0
    broker: BrokerVenue | None = None

    def __post_init__(self) -> None:
        cash_floor = self._finite("cash_floor")
        if not 0.0 <= cash_floor < 1.0:
            raise ConfigError(f"PortfolioRules.cash_floor={cash_floor} must be in [0, 1) (e.g. 0.02 for 2% cash).")
        max_weight = self._finite("max_weight")
        if not 0.0 < max_weight <= 1.0:
            raise ConfigError(
                f"PortfolioRules.max_weight={max_weight} must be in (0, 1] (e.g. 0.20 for 20% per stock).")
        cost_bps = self._finite("cost_bps")
        if not 0.0 <= cost_bps < 5_000.0:  # turnover <= 2, so the cost stays below 100% of value
            raise ConfigError(
                f"PortfolioRules.cost_bps={cost_bps} must be in [0, 5000) basis points (10 = 0.1%).")
        for name, value in (("cash_floor", cash_floor), ("max_weight", max_weight), ("cost_bps", cost_bps)):
            object.__setattr__(self, name, value)
        if self.broker is not None and not isinstance(self.broker, BrokerVenue):
            raise ConfigError(f"PortfolioRules.broker must be a BrokerVenue or None, got {self.broker!r}")

    def _finite(self, name: str) -> float:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"PortfolioRules.{name}={value!r} must be a finite number.")
        return float(value)

    @property
    def cost_rate(self) -> float:
        """Cost per unit of turnover as a fraction of portfolio value (``cost_bps * 1e-4``)."""
        return self.cost_bps * 1e-4

    def to_dict(self) -> dict[str, Any]:
        """``{"cash_floor", "max_weight", "cost_bps"}`` (and ``"broker"`` when set) for config.json."""
        out: dict[str, Any] = {"cash_floor": self.cash_floor, "max_weight": self.max_weight,
                               "cost_bps": self.cost_bps}
        if self.broker is not None:
            out["broker"] = self.broker.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PortfolioRules":
        """Inverse of :meth:`to_dict`; missing keys take their defaults.

        Raises
        ------
        ConfigError
            A key is not a field of the rules.
        """
        unknown = sorted(set(data) - {"cash_floor", "max_weight", "cost_bps", "broker"})
        if unknown:
            raise ConfigError(f"unknown portfolio rule(s) {unknown}; the rules are cash_floor, max_weight, cost_bps, "
                              "broker")
        data = dict(data)
        if data.get("broker") is not None:
            data["broker"] = BrokerVenue.from_dict(data["broker"])
        return cls(**data)
