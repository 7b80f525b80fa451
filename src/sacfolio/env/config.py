"""Configuration of the portfolio environment: the portfolio rules, action scale, episodes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from sacfolio.broker.rules import PortfolioRules
from sacfolio.exceptions import ConfigError

__all__ = ["EnvConfig"]

_RULE_KEYS = ("cash_floor", "max_weight", "cost_bps")


@dataclass(frozen=True, kw_only=True)
class EnvConfig:
    """Rules, action scale and episode settings of :class:`~sacfolio.env.gym_env.PortfolioEnv`.

    Attributes
    ----------
    rules : PortfolioRules
        Cash floor, position cap and transaction cost (the broker's; defaults 2%,
        20%, 10 bps).
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

    rules: PortfolioRules = field(default_factory=PortfolioRules)
    logit_scale: float = 5.0
    episode_length: int = 52

    def __post_init__(self) -> None:
        if not isinstance(self.rules, PortfolioRules):
            raise ConfigError(f"EnvConfig.rules={self.rules!r} must be a PortfolioRules.")
        scale = self.logit_scale
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale):
            raise ConfigError(f"EnvConfig.logit_scale={scale!r} must be a finite number.")
        if not 0.0 < scale <= 50.0:
            raise ConfigError(f"EnvConfig.logit_scale={float(scale)} must be in (0, 50].")
        length = self.episode_length
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ConfigError(f"EnvConfig.episode_length={length!r} must be a positive integer number of weeks.")
        object.__setattr__(self, "logit_scale", float(scale))

    def to_dict(self) -> dict[str, Any]:
        """``{"rules": {...}, "logit_scale": ..., "episode_length": ...}`` for config.json."""
        return {"rules": self.rules.to_dict(), "logit_scale": self.logit_scale,
                "episode_length": self.episode_length}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "EnvConfig":
        """Inverse of :meth:`to_dict`; also reads the flat layout of older config.json files
        (``cash_floor``, ``max_weight``, ``cost_bps`` beside ``logit_scale``).

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
        unknown = sorted(set(data) - {"logit_scale", "episode_length"})
        if unknown:
            raise ConfigError(f"unknown env config key(s) {unknown}; expected rules, logit_scale, episode_length")
        rules = PortfolioRules.from_dict(flat if nested is None else nested)
        return cls(rules=rules, **data)
