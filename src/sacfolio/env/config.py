"""Configuration of the portfolio environment: constraints, costs, action scale, episodes."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sacfolio.exceptions import ConfigError

__all__ = ["EnvConfig"]


@dataclass(frozen=True, kw_only=True)
class EnvConfig:
    """Constraints, costs and episode settings of :class:`~sacfolio.env.gym_env.PortfolioEnv`.

    Attributes
    ----------
    cash_floor : float
        Minimum CASH weight, in [0, 1). CASH has no upper cap, so the feasible set
        {w >= 0, sum w = 1, w_cash >= cash_floor, w_stock <= max_weight} is never
        empty, whatever the number of available symbols.
    max_weight : float
        Maximum weight of each stock, in (0, 1]. Unavailable symbols get a cap of 0.
    cost_bps : float
        Transaction cost in basis points of traded value: each decision costs
        ``cost_bps * 1e-4 * turnover`` of portfolio value, where turnover is
        ``sum over stocks |w_target - w_drifted|``.
    logit_scale : float
        Actions in [-1, 1] are multiplied by this to give softmax logits. With a scale
        of 1 a softmax over 21 assets can never put less than ~0.7% (e^-1 / (e^-1 + 20 e))
        or more than ~27% (e / (e + 20 e^-1)) on an asset, so the agent could neither
        hold 98% cash nor concentrate. A scale of 5 reaches both (one asset at +1 and
        20 at -1 gives it e^5 / (e^5 + 20 e^-5) > 99.9%). At most 50 so exp() stays
        far from overflow without a max-subtraction in the hot path.
    episode_length : int
        Decisions (weeks) per training episode; episodes are random windows of this
        length inside the training span.
    """

    cash_floor: float = 0.02
    max_weight: float = 0.20
    cost_bps: float = 10.0
    logit_scale: float = 5.0
    episode_length: int = 52

    def __post_init__(self) -> None:
        def finite(name: str) -> float:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"EnvConfig.{name}={value!r} must be a finite number.")
            return float(value)

        cash_floor = finite("cash_floor")
        if not 0.0 <= cash_floor < 1.0:
            raise ConfigError(f"EnvConfig.cash_floor={cash_floor} must be in [0, 1) (e.g. 0.02 for 2% cash).")
        max_weight = finite("max_weight")
        if not 0.0 < max_weight <= 1.0:
            raise ConfigError(f"EnvConfig.max_weight={max_weight} must be in (0, 1] (e.g. 0.20 for 20% per stock).")
        cost_bps = finite("cost_bps")
        if not 0.0 <= cost_bps < 5_000.0:  # turnover <= 2, so the cost stays below 100% of value
            raise ConfigError(f"EnvConfig.cost_bps={cost_bps} must be in [0, 5000) basis points (10 = 0.1%).")
        logit_scale = finite("logit_scale")
        if not 0.0 < logit_scale <= 50.0:
            raise ConfigError(f"EnvConfig.logit_scale={logit_scale} must be in (0, 50].")
        length = self.episode_length
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ConfigError(f"EnvConfig.episode_length={length!r} must be a positive integer number of weeks.")
        for name, value in (("cash_floor", cash_floor), ("max_weight", max_weight),
                            ("cost_bps", cost_bps), ("logit_scale", logit_scale)):
            object.__setattr__(self, name, value)

    @property
    def cost_rate(self) -> float:
        """Cost per unit of turnover as a fraction of portfolio value (``cost_bps * 1e-4``)."""
        return self.cost_bps * 1e-4
