"""Configuration of the portfolio environment: rules, execution, action mode, reward, episodes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from sacfolio.broker.execution import ExecutionRules
from sacfolio.broker.rules import PortfolioRules
from sacfolio.exceptions import ConfigError

__all__ = ["ACTION_MODES", "CONFIGURATIONS_TRIED", "EnvConfig", "REWARDS", "TRADING_DEFAULTS"]

_RULE_KEYS = ("cash_floor", "max_weight", "cost_bps")

ACTION_MODES = ("softmax", "residual")
"""How an action becomes target weights (:mod:`sacfolio.env.actions`)."""

REWARDS = ("log_return", "excess_log_return")
"""Named reward terms (:mod:`sacfolio.env.rewards`)."""

TRADING_DEFAULTS: Mapping[str, Any] = MappingProxyType({
    "action_mode": "residual", "tilt": 0.02, "reward": "excess_log_return",
    "execution": MappingProxyType({"rebalance_rate": 0.5, "no_trade_band": 0.01}), "train_cost_multiplier": 1.0,
})
"""How sacfolio's commands trade unless told otherwise (``EnvConfig.from_dict(TRADING_DEFAULTS)``):
tilt equal weight by at most 2 points per stock, move half way to each target and leave
positions within 1 point of it alone, learn the excess log return over equal weight.
Chosen by ``benchmarks/bench_learning.py grid`` on test years 2009-2014 only. ``EnvConfig()``
keeps the plain softmax settings for library use."""

CONFIGURATIONS_TRIED = 10
"""Settings the study compared before choosing :data:`TRADING_DEFAULTS`: the trials a
default run's deflated Sharpe ratio accounts for."""

_KEYS = ("rules", "logit_scale", "episode_length", "action_mode", "tilt", "execution", "reward",
         "train_cost_multiplier")


@dataclass(frozen=True, kw_only=True)
class EnvConfig:
    """Rules, execution, action mapping, reward and episodes of :class:`~sacfolio.env.gym_env.PortfolioEnv`.

    Attributes
    ----------
    rules : PortfolioRules
        Cash floor, position cap and transaction cost (the broker's; defaults 2%,
        20%, 10 bps).
    logit_scale : float
        ``action_mode="softmax"``: actions in [-1, 1] are multiplied by this to give
        softmax logits. With a scale of 1 a softmax over 21 assets can never put less
        than ~0.7% (e^-1 / (e^-1 + 20 e)) or more than ~27% (e / (e + 20 e^-1)) on an
        asset, so the agent could neither hold 98% cash nor concentrate. A scale of 5
        reaches both (one asset at +1 and 20 at -1 gives it e^5 / (e^5 + 20 e^-5) > 99.9%).
        At most 50 so exp() stays far from overflow without a max-subtraction in the hot path.
    episode_length : int
        Decisions (weeks) per training episode; episodes are random windows of this
        length inside the training span.
    action_mode : {"softmax", "residual"}
        ``"softmax"`` (default): weights are a softmax of the scaled action. ``"residual"``:
        the action tilts the benchmark portfolio (equal weight within the rules unless the
        env is given another), so a zero action holds exactly the benchmark
        (:func:`~sacfolio.env.actions.residual_point`).
    tilt : float
        ``action_mode="residual"``: the tilt size kappa in (0, 1], how far one unit of
        action moves an asset's weight from the benchmark's (0.02: two points per stock);
        the zero-sum adjustment can at most double a stock's move, before the projection.
    execution : ExecutionRules
        Partial rebalancing and the no-trade band (:mod:`sacfolio.broker.execution`),
        applied alike in training, backtests and serving; the default trades to every
        target at once.
    reward : {"log_return", "excess_log_return"}
        ``"log_return"`` (default): log growth of portfolio value net of costs.
        ``"excess_log_return"``: that minus the log growth of the benchmark portfolio
        held under the same execution and costs (:mod:`sacfolio.env.rewards`).
    train_cost_multiplier : float
        Training envs charge ``cost_bps * train_cost_multiplier`` (e.g. 2 to teach a
        policy to trade less); backtests and serving always pay ``rules.cost_bps``. In
        [0, 100], and the training cost must stay below 5000 bps.
    """

    rules: PortfolioRules = field(default_factory=PortfolioRules)
    logit_scale: float = 5.0
    episode_length: int = 52
    action_mode: str = "softmax"
    tilt: float = 0.02
    execution: ExecutionRules = field(default_factory=ExecutionRules)
    reward: str = "log_return"
    train_cost_multiplier: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.rules, PortfolioRules):
            raise ConfigError(f"EnvConfig.rules={self.rules!r} must be a PortfolioRules.")
        if not isinstance(self.execution, ExecutionRules):
            raise ConfigError(f"EnvConfig.execution={self.execution!r} must be an ExecutionRules.")
        scale = self._number("logit_scale")
        if not 0.0 < scale <= 50.0:
            raise ConfigError(f"EnvConfig.logit_scale={scale} must be in (0, 50].")
        length = self.episode_length
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ConfigError(f"EnvConfig.episode_length={length!r} must be a positive integer number of weeks.")
        if self.action_mode not in ACTION_MODES:
            raise ConfigError(f"EnvConfig.action_mode={self.action_mode!r}; choose from {list(ACTION_MODES)}.")
        tilt = self._number("tilt")
        if not 0.0 < tilt <= 1.0:
            raise ConfigError(f"EnvConfig.tilt={tilt} must be in (0, 1] (0.02: two points per stock).")
        if self.reward not in REWARDS:
            raise ConfigError(f"EnvConfig.reward={self.reward!r}; choose from {list(REWARDS)}.")
        multiplier = self._number("train_cost_multiplier")
        if not 0.0 <= multiplier <= 100.0 or self.rules.cost_bps * multiplier >= 5_000.0:
            raise ConfigError(f"EnvConfig.train_cost_multiplier={multiplier} must be in [0, 100] with "
                              f"cost_bps * multiplier below 5000 (cost_bps is {self.rules.cost_bps}).")
        for name, value in (("logit_scale", scale), ("tilt", tilt), ("train_cost_multiplier", multiplier)):
            object.__setattr__(self, name, value)

    def _number(self, name: str) -> float:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"EnvConfig.{name}={value!r} must be a finite number.")
        return float(value)

    @property
    def needs_benchmark(self) -> bool:
        """True when the env needs benchmark weights (a residual action or an excess reward)."""
        return self.action_mode == "residual" or self.reward == "excess_log_return"

    def to_dict(self) -> dict[str, Any]:
        """Every field for config.json, the rules and execution nested."""
        return {"rules": self.rules.to_dict(), "logit_scale": self.logit_scale,
                "episode_length": self.episode_length, "action_mode": self.action_mode, "tilt": self.tilt,
                "execution": self.execution.to_dict(), "reward": self.reward,
                "train_cost_multiplier": self.train_cost_multiplier}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "EnvConfig":
        """Inverse of :meth:`to_dict`; missing keys take their defaults, so older config.json
        files (without action mode, execution, reward or cost multiplier) read as today's
        behaviour; also reads their flat rule layout (``cash_floor``, ``max_weight``,
        ``cost_bps`` beside ``logit_scale``).

        Raises
        ------
        ConfigError
            Unknown keys, or rules given both nested and flat.
        """
        data = dict(data)
        flat = {k: data.pop(k) for k in _RULE_KEYS if k in data}
        nested = data.pop("rules", None)
        if flat and nested is not None:
            raise ConfigError(f"env config gives the rules twice: 'rules' and {sorted(flat)}")
        unknown = sorted(set(data) - set(_KEYS))
        if unknown:
            raise ConfigError(f"unknown env config key(s) {unknown}; expected {', '.join(_KEYS)}")
        rules = PortfolioRules.from_dict(flat if nested is None else nested)
        if "execution" in data:
            data["execution"] = ExecutionRules.from_dict(data["execution"])
        return cls(rules=rules, **data)
