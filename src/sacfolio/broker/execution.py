"""Execution that trades slowly: partial rebalancing and a no-trade band.

A decision gives a feasible *target*; execution decides what is actually traded from
the *drifted* weights held at the decision. For each stock i (CASH absorbs the rest):

1. **no-trade band** ``b``: a stock whose drifted weight lies inside
   ``[target_i - b, target_i + b]`` does not trade; one outside trades only to the
   nearest edge of its band: ``dest_i = clip(drifted_i, target_i - b, target_i + b)``;
2. **partial rebalancing** ``eta``: the stock moves ``eta`` of the way there:
   ``dest_i = drifted_i + eta * (dest_i - drifted_i)``;
3. **repair** onto the rules (the drifted weights need not be feasible: a stock may
   have grown past the cap, become untradable, or CASH fallen below its floor):
   stocks are clipped to ``[0, cap_i]`` (a forced trade), and if the stocks then leave
   less than ``cash_floor`` in CASH, the stocks held above their target sell pro rata
   to their excess until CASH is exactly at the floor. CASH is ``1 - sum(stocks)``.

Every executed weight lies between its drifted and its target weight, so execution
never trades more than the full rebalance (``turnover <= turnover(target, drifted)``
stock by stock), and the result is feasible: stocks in ``[0, cap]``, CASH at or above
the floor, the whole summing to 1 (proof in :func:`execute`; property-tested).
``rebalance_rate=1, no_trade_band=0`` trades to the target exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from sacfolio.exceptions import ConfigError

__all__ = ["ExecutionRules", "execute"]

_KEYS = ("rebalance_rate", "no_trade_band")


@dataclass(frozen=True, kw_only=True)
class ExecutionRules:
    """How fast a portfolio moves from its drifted weights to a target.

    Attributes
    ----------
    rebalance_rate : float, default 1.0
        Fraction ``eta`` in (0, 1] of the way from the drifted weights to the target
        traded at each decision (1: all the way, today's behaviour; 0.25: a quarter,
        so a target held still is reached geometrically, 1 - 0.75^k after k weeks).
    no_trade_band : float, default 0.0
        Half-width ``b`` in [0, 1) of the band around each stock's target weight inside
        which it does not trade; outside, it trades only to the band's edge (0.01:
        a stock at 6.5% with a 5% target sells down to 6%). 0: no band.
    """

    rebalance_rate: float = 1.0
    no_trade_band: float = 0.0

    def __post_init__(self) -> None:
        rate, band = self._finite("rebalance_rate"), self._finite("no_trade_band")
        if not 0.0 < rate <= 1.0:
            raise ConfigError(f"ExecutionRules.rebalance_rate={rate} must be in (0, 1] "
                              "(1 trades all the way to the target, 0.25 a quarter of the way).")
        if not 0.0 <= band < 1.0:
            raise ConfigError(f"ExecutionRules.no_trade_band={band} must be in [0, 1) "
                              "(0.01: stocks within 1 point of their target do not trade).")
        object.__setattr__(self, "rebalance_rate", rate)
        object.__setattr__(self, "no_trade_band", band)

    def _finite(self, name: str) -> float:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"ExecutionRules.{name}={value!r} must be a finite number.")
        return float(value)

    @property
    def immediate(self) -> bool:
        """True when every decision trades exactly to its target (rate 1, no band)."""
        return self.rebalance_rate == 1.0 and self.no_trade_band == 0.0

    def to_dict(self) -> dict[str, float]:
        """``{"rebalance_rate", "no_trade_band"}`` for config.json."""
        return {"rebalance_rate": self.rebalance_rate, "no_trade_band": self.no_trade_band}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ExecutionRules":
        """Inverse of :meth:`to_dict`; missing keys take their defaults.

        Raises
        ------
        ConfigError
            A key is not a field of the execution rules.
        """
        unknown = sorted(set(data) - set(_KEYS))
        if unknown:
            raise ConfigError(f"unknown execution setting(s) {unknown}; the settings are {', '.join(_KEYS)}")
        return cls(**dict(data))


def execute(target: np.ndarray, drifted: np.ndarray, cap: np.ndarray, cash_floor: float,
            rules: ExecutionRules) -> np.ndarray:
    """The weights actually traded to from ``drifted`` towards the feasible ``target``.

    Parameters
    ----------
    target : ndarray float64, shape (B, N + 1)
        Feasible targets (stocks in ``[0, cap]``, CASH last at or above ``cash_floor``).
    drifted : ndarray float64, shape (B, N + 1)
        Weights held at the decision (non-negative, summing to 1; need not be feasible).
    cap : ndarray float64, shape (B, N) or (N,)
        Upper bound of each stock's weight (``max_weight``, 0 for untradable stocks).
    cash_floor : float
    rules : ExecutionRules

    Returns
    -------
    ndarray float64, shape (B, N + 1)
        Feasible weights, CASH last; ``target`` itself (the same array) when
        ``rules.immediate``.

    Notes
    -----
    Feasibility: after the clip each stock is in ``[0, cap_i]``. Let
    ``deficit = sum(stocks) - (1 - cash_floor)``. Since the target is feasible,
    ``sum(target_stocks) <= 1 - cash_floor``, so ``sum((stocks - target)+) >=
    sum(stocks - target) >= deficit``: scaling the excesses down by
    ``deficit / sum(excess) <= 1`` leaves each stock between its target and its
    clipped value (so still in ``[0, cap_i]``) and the stocks summing to exactly
    ``1 - cash_floor``. Each step keeps a stock between its drifted and its target
    weight (the band's clip lands between them, the partial move and the repair
    shrink towards the target, and a clip to ``[0, cap]`` only binds on the drifted
    side since the target is inside), hence the turnover bound.
    """
    if rules.immediate:
        return target
    goal, held = target[..., :-1], drifted[..., :-1]
    band = rules.no_trade_band
    stocks = np.clip(held, goal - band, goal + band) if band > 0.0 else goal.copy()
    if rules.rebalance_rate != 1.0:
        stocks -= held
        stocks *= rules.rebalance_rate
        stocks += held
    np.clip(stocks, 0.0, cap, out=stocks)
    deficit = stocks.sum(axis=-1) - (1.0 - cash_floor)
    excess = np.maximum(stocks - goal, 0.0)
    total = excess.sum(axis=-1)
    short = deficit > 0.0
    share = np.divide(deficit, total, out=np.zeros_like(deficit), where=short & (total > 0.0))
    stocks -= excess * np.minimum(share, 1.0)[..., None]
    out = np.empty_like(target)
    out[..., :-1] = stocks
    out[..., -1] = 1.0 - stocks.sum(axis=-1)
    return out
