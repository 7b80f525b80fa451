"""What the strategy-allocation meta-controller sees: the strategies' targets, their returns,
their recent record and the market regime, computed from past bars only.

Every rolling statistic is a loop of element-wise operations over shifted rows (no
reductions across rows or symbols), so computing it for all T bars at once and for one
bar from its trailing window gives bit-identical numbers: the paper loop, which sees one
bar at a time, and a backtest over the same bars agree exactly.

Shapes: T bars, N instruments, K strategies; a target is (N + 1,) weights, CASH last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from sacfolio.broker.rules import PortfolioRules
from sacfolio.exceptions import ConfigError

__all__ = ["StateConfig", "StrategySet", "check_targets", "market_returns", "regime_features",
           "state_features", "state_names", "strategy_returns", "time_of_day", "zoo_strategies"]

_TOL = 1e-6


@dataclass(frozen=True, kw_only=True)
class StateConfig:
    """Windows of the meta-controller's state.

    Attributes
    ----------
    history : int, default 48
        Bars of closes each strategy sees (4 hours of 5-minute bars); also the warm-up:
        the first decision is at bar ``history - 1``.
    windows : tuple of int, default (12, 48)
        Windows (bars) of the strategies' return, volatility, drawdown and hit rate and of
        the market's realized volatility and trend.
    """

    history: int = 48
    windows: tuple[int, ...] = (12, 48)

    def __post_init__(self) -> None:
        windows = tuple(int(w) for w in self.windows)
        if not windows or any(w < 2 for w in windows) or len(set(windows)) != len(windows):
            raise ConfigError(f"StateConfig.windows={self.windows!r} must be distinct integers >= 2.")
        if isinstance(self.history, bool) or int(self.history) != self.history or self.history < 2:
            raise ConfigError(f"StateConfig.history={self.history!r} must be an integer >= 2 bars.")
        object.__setattr__(self, "windows", windows)

    @property
    def lookback(self) -> int:
        """Bars of strategy returns the state needs (the longest window)."""
        return max(self.windows)

    def state_dim(self, n_strategies: int) -> int:
        return len(self.windows) * (4 * n_strategies + 2) + 2


@dataclass(frozen=True)
class StrategySet:
    """K named strategies: ``weights(history [B, N, W, 1], mask [B, N]) -> [B, K, N + 1]``."""

    names: tuple[str, ...]
    weights: Callable[[np.ndarray, np.ndarray], np.ndarray]

    def __len__(self) -> int:
        return len(self.names)

    def targets(self, close: np.ndarray, rules: PortfolioRules) -> np.ndarray:
        """Targets (B, K, N + 1) from windows of closes ``close`` (B, W, N) ending at decision time."""
        close = np.asarray(close, dtype=np.float64)
        history = np.ascontiguousarray(close.transpose(0, 2, 1)[..., None])
        mask = np.isfinite(close[:, -1, :])
        out = np.asarray(self.weights(history, mask), dtype=np.float64)
        expected = (close.shape[0], len(self.names), close.shape[2] + 1)
        if out.shape != expected:
            raise ConfigError(f"the strategies returned targets of shape {out.shape}, expected {expected}")
        return out


def zoo_strategies(rules: PortfolioRules, names: Sequence[str] | None = None, *, config=None) -> StrategySet:
    """The advisor zoo (:mod:`sacfolio.strategies.zoo`) as a strategy set, all advisors by default;
    ``config`` is a :class:`~sacfolio.strategies.zoo.ZooConfig` (windows in bars)."""
    from sacfolio.strategies import zoo

    config = zoo.ZooConfig() if config is None else config
    chosen = tuple(zoo.ADVISORS if names is None else names)
    unknown = [n for n in chosen if n not in zoo.ADVISORS]
    if unknown or not chosen:
        raise ConfigError(f"unknown strategies {unknown}; the zoo has {', '.join(zoo.ADVISORS)}")
    if chosen == tuple(zoo.ADVISORS):
        return StrategySet(chosen, lambda h, m: zoo.all_advisor_weights(h, m, rules=rules, config=config))
    return StrategySet(chosen, lambda h, m: np.stack([zoo.advisor_weights(n, h, m, rules=rules, config=config)
                                                      for n in chosen], axis=1))


def check_targets(targets: np.ndarray, rules: PortfolioRules) -> tuple[np.ndarray, np.ndarray]:
    """Targets with the infeasible ones replaced by all CASH, and where they were (B, K).

    A target is infeasible when it is not finite, negative, does not sum to 1, holds less
    than the cash floor or more than the cap in a stock.
    """
    t = np.asarray(targets, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(t).all(axis=-1)
        bad |= (t < -_TOL).any(axis=-1) | (np.abs(t.sum(axis=-1) - 1.0) > _TOL)
        bad |= (t[..., -1] < rules.cash_floor - _TOL) | (t[..., :-1] > rules.max_weight + _TOL).any(axis=-1)
    clean = np.where(bad[..., None], 0.0, t)
    clean[..., -1] = np.where(bad, 1.0, clean[..., -1])
    return clean, bad


def _dot_last(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``sum(a * b, axis=-1)`` as a fixed sequence of element-wise additions."""
    out = a[..., 0] * b[..., 0]
    for n in range(1, a.shape[-1]):
        out = out + a[..., n] * b[..., n]
    return out


def strategy_returns(prev_targets: np.ndarray, asset_returns: np.ndarray) -> np.ndarray:
    """Gross returns (B, K) of holding ``prev_targets`` (B, K, N + 1) over ``asset_returns`` (B, N)."""
    return _dot_last(prev_targets[..., :-1], asset_returns[:, None, :])


def market_returns(asset_returns: np.ndarray) -> np.ndarray:
    """Equal-weight market return (B,) of ``asset_returns`` (B, N)."""
    return _dot_last(asset_returns, np.full(asset_returns.shape, 1.0 / asset_returns.shape[-1]))


def _shifted(x: np.ndarray, h: int) -> list[np.ndarray]:
    """Rows ``t - j`` for every ``t >= h - 1``, j = 0 (newest) .. h - 1 (oldest)."""
    n = x.shape[0]
    return [x[h - 1 - j: n - j] for j in range(h)]


def _window_stats(x: np.ndarray, h: int) -> tuple[np.ndarray, ...]:
    """Mean, std, current drawdown and hit rate over the last ``h`` rows of ``x`` (T, ...)."""
    rows = _shifted(x, h)
    total, squares, hits = np.zeros_like(rows[0]), np.zeros_like(rows[0]), np.zeros_like(rows[0])
    for r in rows:
        total = total + r
        squares = squares + r * r
        hits = hits + (r > 0.0)
    mean = total / h
    std = np.sqrt(np.maximum(squares / h - mean * mean, 0.0))
    level, peak = np.zeros_like(rows[0]), np.zeros_like(rows[0])
    for r in reversed(rows):  # oldest first
        level = level + np.log1p(np.maximum(r, -0.99))
        peak = np.maximum(peak, level)
    drawdown = 1.0 - np.exp(level - peak)
    return mean, std, drawdown, hits / h


def regime_features(market: np.ndarray, h: int) -> np.ndarray:
    """Realized volatility (bps per bar) and trend (bps, summed) of the market over ``h`` bars, (T - h + 1, 2)."""
    mean, std, _, _ = _window_stats(market, h)
    return np.stack([std * 1e4, mean * h * 1e4 / np.sqrt(h)], axis=-1)


def time_of_day(times: np.ndarray) -> np.ndarray:
    """sin and cos of the New York time of day of bar end times (UTC datetime64), (T, 2)."""
    import pandas as pd

    local = pd.DatetimeIndex(np.asarray(times, dtype="datetime64[ns]")).tz_localize("UTC").tz_convert(
        "America/New_York")
    x = (local.hour.to_numpy() * 60 + local.minute.to_numpy()) / 1440.0
    return np.stack([np.sin(2 * np.pi * x), np.cos(2 * np.pi * x)], axis=-1)


def state_features(returns: np.ndarray, market: np.ndarray, clock: np.ndarray, config: StateConfig) -> np.ndarray:
    """States (T - L + 1, D) for each row with ``L = config.lookback`` rows of history.

    Parameters
    ----------
    returns : ndarray (T, K)
        Strategy returns per bar, net of their own trading costs (see
        :class:`~sacfolio.env.allocation_run.InputTracker`), row t known at bar t.
    market : ndarray (T,)
        Market return per bar.
    clock : ndarray (T, 2)
        :func:`time_of_day` of each bar.

    Returns
    -------
    ndarray float64, (T - L + 1, D), ``D = config.state_dim(K)``: per window, the K strategies'
    mean return and volatility (bps per bar), drawdown (%) and hit rate - 0.5, then the
    market's realized volatility and trend; last the time of day.
    """
    lookback = config.lookback
    blocks = []
    for h in config.windows:
        skip = lookback - h
        mean, std, dd, hit = (s[skip:] for s in _window_stats(returns, h))
        blocks += [mean * 1e4, std * 1e4, dd * 1e2, hit - 0.5, regime_features(market, h)[skip:]]
    blocks.append(clock[lookback - 1:])
    return np.concatenate(blocks, axis=-1)


def state_names(strategies: Sequence[str], config: StateConfig) -> tuple[str, ...]:
    """Names of the :func:`state_features` columns."""
    names: list[str] = []
    for h in config.windows:
        for stat in ("ret", "vol", "drawdown", "hit"):
            names += [f"{s}/{stat}_{h}" for s in strategies]
        names += [f"market/vol_{h}", f"market/trend_{h}"]
    return tuple(names + ["clock/sin", "clock/cos"])
