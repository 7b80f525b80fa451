"""The advisor zoo: classical portfolios as pure, batched functions of past prices.

Each advisor maps a history ``[B, N, T, F]`` (T oldest -> newest, the last row is
the decision time, feature 0 the close) to feasible target weights ``[B, N + 1]``,
CASH last, under the broker's :class:`~sacfolio.broker.rules.PortfolioRules`. The
universal agent fuses them; :mod:`sacfolio.strategies.zoo_baselines` trades each
one alone as a walk-forward baseline.

Three families, all vectorized over samples and slots:

* cross-sectional (``momentum``, ``mean_reversion``): the invested budget
  ``1 - cash_floor`` in proportion to each scored stock's score above the
  cross-sectional mean (equal weight when every score is the same);
* time-series (``ma_crossover``, ``breakout``, ``vol_target``, ``rsi``,
  ``bollinger``): each scored stock gets an equal share of the budget times its own
  exposure in [0, 1]; the rest stays in CASH;
* risk-based (``min_variance``, ``risk_parity``): :mod:`sacfolio.strategies.zoo_risk`
  on the sample covariance of simple returns.

Windows are counted in bars, so the same advisors run on weekly and 5-minute bars.
A live slot is *scored* when its whole window holds finite, positive closes; an
unscored live slot gets 0. A sample without any scored slot (too little history)
gets equal weight over its live slots. The raw target then goes through the broker's
exact projection (:func:`~sacfolio.broker.projection.project_weights`) over the stocks
it holds, so the result is feasible, finite, exactly 0 on dead slots and 0 wherever
the advisor gave no weight.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np

from sacfolio.broker.projection import project_weights
from sacfolio.broker.rules import PortfolioRules
from sacfolio.exceptions import ConfigError
from sacfolio.strategies.zoo_risk import min_variance_weights, risk_parity_weights, sample_covariance

__all__ = ["ADVISORS", "ZooConfig", "advisor_weights", "all_advisor_weights", "check_windows", "invest"]

ADVISORS: tuple[str, ...] = ("momentum", "mean_reversion", "ma_crossover", "breakout", "vol_target", "rsi",
                             "bollinger", "min_variance", "risk_parity")
"""The advisors in their fixed order (the K axis of :func:`all_advisor_weights`)."""

_TIE = 1e-12  # score excesses at or below this are ties (rounding of equal scores)


def check_windows(config: object) -> None:
    """Every dataclass field of ``config`` named ``*_window`` must be a whole number of bars >= 2.

    Raises
    ------
    ConfigError
        Naming the class, the field and its value.
    """
    for f in fields(config):
        value = getattr(config, f.name)
        if f.name.endswith("_window") and (isinstance(value, bool) or not isinstance(value, int) or value < 2):
            raise ConfigError(f"{type(config).__name__}.{f.name}={value!r} must be a whole number of bars >= 2")


@dataclass(frozen=True, kw_only=True)
class ZooConfig:
    """Windows (in bars) and thresholds of the advisors.

    Attributes
    ----------
    momentum_window : int, default 26
        Bars of the momentum return ``log(close_t / close_{t - w})``.
    reversion_window : int, default 4
        Bars of the short-term return that mean reversion bets against.
    fast_window, slow_window : int, default 10, 40
        Moving averages of the crossover; long while the fast one is above the slow one.
    breakout_window : int, default 20
        Closes of the Donchian channel (the current one included).
    breakout_level : float, default 0.75
        Long while the close sits at or above this fraction of the channel's range.
    vol_window, vol_long_window : int, default 13, 52
        Returns of the short volatility (inverse-vol weights, current risk) and of the
        long one the basket's volatility is targeted at (exposure ``min(1, long / short)``).
    rsi_window : int, default 14
        Returns of the RSI (simple averages of gains and losses); fully invested at
        RSI <= 30, out at RSI >= 70, linear in between.
    bollinger_window : int, default 20
        Closes of the Bollinger mean and (population) standard deviation.
    bollinger_width : float, default 2.0
        Band half-width in standard deviations; exposure is 1 at the lower band, 0 at
        the upper one, linear in z in between.
    risk_window : int, default 52
        Returns of the covariance of minimum variance and risk parity.
    """

    momentum_window: int = 26
    reversion_window: int = 4
    fast_window: int = 10
    slow_window: int = 40
    breakout_window: int = 20
    breakout_level: float = 0.75
    vol_window: int = 13
    vol_long_window: int = 52
    rsi_window: int = 14
    bollinger_window: int = 20
    bollinger_width: float = 2.0
    risk_window: int = 52

    def __post_init__(self) -> None:
        check_windows(self)
        if self.fast_window >= self.slow_window:
            raise ConfigError(f"ZooConfig.fast_window={self.fast_window} must be below "
                              f"slow_window={self.slow_window}")
        if self.vol_window > self.vol_long_window:
            raise ConfigError(f"ZooConfig.vol_window={self.vol_window} exceeds vol_long_window={self.vol_long_window}")
        if not 0.0 < self.breakout_level <= 1.0:
            raise ConfigError(f"ZooConfig.breakout_level={self.breakout_level!r} must be in (0, 1]")
        if not 0.0 < self.bollinger_width < np.inf:
            raise ConfigError(f"ZooConfig.bollinger_width={self.bollinger_width!r} must be a positive number")

    @property
    def history(self) -> int:
        """Most closes any advisor reads: older rows never change a weight."""
        return max(self.momentum_window + 1, self.reversion_window + 1, self.slow_window, self.breakout_window,
                   self.vol_long_window + 1, self.rsi_window + 1, self.bollinger_window, self.risk_window + 1)


def _tail(close: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The last ``n`` closes ``[B, N, n]`` and which slots have them all finite and positive.

    Invalid windows are replaced by a constant 1 so the arithmetic stays finite.
    """
    B, N, T = close.shape
    if T < n:
        return np.ones((B, N, n)), np.zeros((B, N), dtype=bool)
    window = close[..., T - n:]
    with np.errstate(invalid="ignore"):
        valid = (np.isfinite(window) & (window > 0.0)).all(axis=-1)
    return np.where(valid[..., None], window, 1.0), valid


def _returns(close: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The last ``n`` simple returns ``[B, N, n]`` and the valid slots."""
    window, valid = _tail(close, n + 1)
    return window[..., 1:] / window[..., :-1] - 1.0, valid


def _cross_section(score: np.ndarray, valid: np.ndarray, budget: float) -> np.ndarray:
    """``budget`` in proportion to each valid score's excess over the valid mean."""
    n = np.maximum(valid.sum(axis=-1, keepdims=True), 1)
    mean = np.where(valid, score, 0.0).sum(axis=-1, keepdims=True) / n
    excess = np.where(valid, score - mean, 0.0)
    excess = np.where(excess > _TIE, excess, 0.0)
    total = excess.sum(axis=-1, keepdims=True)
    share = np.where(total > 0.0, excess / np.where(total > 0.0, total, 1.0), valid / n)
    return budget * share


def _time_series(exposure: np.ndarray, valid: np.ndarray, budget: float) -> np.ndarray:
    """An equal share of ``budget`` per valid slot, times its exposure clipped to [0, 1]."""
    n = np.maximum(valid.sum(axis=-1, keepdims=True), 1)
    return np.where(valid, budget * np.clip(exposure, 0.0, 1.0) / n, 0.0)


Advisor = Callable[[np.ndarray, ZooConfig, PortfolioRules], tuple[np.ndarray, np.ndarray]]
"""``(closes [B, N, T], config, rules) -> (stock weights [B, N], scored slots [B, N])``."""


def _momentum(close: np.ndarray, cfg: ZooConfig, rules: PortfolioRules) -> tuple[np.ndarray, np.ndarray]:
    """Cross-sectional: the stocks whose ``momentum_window``-bar log return beats the mean."""
    window, valid = _tail(close, cfg.momentum_window + 1)
    score = np.log(window[..., -1] / window[..., 0])
    return _cross_section(score, valid, 1.0 - rules.cash_floor), valid


def _mean_reversion(close: np.ndarray, cfg: ZooConfig, rules: PortfolioRules) -> tuple[np.ndarray, np.ndarray]:
    """Cross-sectional: the stocks whose ``reversion_window``-bar log return trails the mean."""
    window, valid = _tail(close, cfg.reversion_window + 1)
    score = -np.log(window[..., -1] / window[..., 0])
    return _cross_section(score, valid, 1.0 - rules.cash_floor), valid


def _ma_crossover(close: np.ndarray, cfg: ZooConfig, rules: PortfolioRules) -> tuple[np.ndarray, np.ndarray]:
    """Time series: long while the fast moving average is above the slow one."""
    window, valid = _tail(close, cfg.slow_window)
    fast = window[..., -cfg.fast_window:].mean(axis=-1)
    return _time_series((fast > window.mean(axis=-1)).astype(np.float64), valid, 1.0 - rules.cash_floor), valid


def _breakout(close: np.ndarray, cfg: ZooConfig, rules: PortfolioRules) -> tuple[np.ndarray, np.ndarray]:
    """Time series: long while the close sits in the top of its Donchian channel."""
    window, valid = _tail(close, cfg.breakout_window)
    low, high = window.min(axis=-1), window.max(axis=-1)
    span = high - low
    position = np.where(span > 0.0, (window[..., -1] - low) / np.where(span > 0.0, span, 1.0), 0.5)
    exposure = (position >= cfg.breakout_level).astype(np.float64)
    return _time_series(exposure, valid, 1.0 - rules.cash_floor), valid


def _vol_target(close: np.ndarray, cfg: ZooConfig, rules: PortfolioRules) -> tuple[np.ndarray, np.ndarray]:
    """Inverse-volatility basket scaled by ``min(1, long / short)`` basket volatility."""
    r, valid = _returns(close, cfg.vol_long_window)
    vol = r[..., -cfg.vol_window:].std(axis=-1, ddof=1)
    valid = valid & (vol > 0.0)
    inverse = np.where(valid, 1.0 / np.where(valid, vol, 1.0), 0.0)
    total = inverse.sum(axis=-1, keepdims=True)
    basket = inverse / np.where(total > 0.0, total, 1.0)
    portfolio = np.einsum("bn,bnt->bt", basket, np.where(valid[..., None], r, 0.0))
    short = portfolio[:, -cfg.vol_window:].std(axis=-1, ddof=1)
    long = portfolio.std(axis=-1, ddof=1)
    exposure = np.where(short > 0.0, np.minimum(1.0, long / np.where(short > 0.0, short, 1.0)), 1.0)
    return (1.0 - rules.cash_floor) * basket * exposure[:, None], valid


def _rsi(close: np.ndarray, cfg: ZooConfig, rules: PortfolioRules) -> tuple[np.ndarray, np.ndarray]:
    """Time series: RSI (simple averages) <= 30 fully in, >= 70 out, linear in between."""
    window, valid = _tail(close, cfg.rsi_window + 1)
    change = np.diff(window, axis=-1)
    gain, loss = np.maximum(change, 0.0).mean(axis=-1), np.maximum(-change, 0.0).mean(axis=-1)
    moved = gain + loss
    rsi = np.where(moved > 0.0, 100.0 * gain / np.where(moved > 0.0, moved, 1.0), 50.0)
    return _time_series((70.0 - rsi) / 40.0, valid, 1.0 - rules.cash_floor), valid


def _bollinger(close: np.ndarray, cfg: ZooConfig, rules: PortfolioRules) -> tuple[np.ndarray, np.ndarray]:
    """Time series: 1 at the lower band, 0 at the upper band, linear in the z-score."""
    window, valid = _tail(close, cfg.bollinger_window)
    mean, std = window.mean(axis=-1), window.std(axis=-1)
    z = np.where(std > 0.0, (window[..., -1] - mean) / np.where(std > 0.0, std, 1.0), 0.0)
    width = cfg.bollinger_width
    return _time_series((width - z) / (2.0 * width), valid, 1.0 - rules.cash_floor), valid


def _min_variance(close: np.ndarray, cfg: ZooConfig, rules: PortfolioRules) -> tuple[np.ndarray, np.ndarray]:
    """Long-only minimum variance under the cap on the ``risk_window`` sample covariance."""
    r, valid = _returns(close, cfg.risk_window)
    return min_variance_weights(sample_covariance(r, valid), valid, rules), valid


def _risk_parity(close: np.ndarray, cfg: ZooConfig, rules: PortfolioRules) -> tuple[np.ndarray, np.ndarray]:
    """Equal risk contributions on the ``risk_window`` sample covariance."""
    r, valid = _returns(close, cfg.risk_window)
    cov = sample_covariance(r, valid)
    valid = valid & (np.diagonal(cov, axis1=-2, axis2=-1) > 0.0)
    return risk_parity_weights(cov, valid, 1.0 - rules.cash_floor), valid


_ADVISORS: dict[str, Advisor] = {
    "momentum": _momentum, "mean_reversion": _mean_reversion, "ma_crossover": _ma_crossover,
    "breakout": _breakout, "vol_target": _vol_target, "rsi": _rsi, "bollinger": _bollinger,
    "min_variance": _min_variance, "risk_parity": _risk_parity,
}
assert tuple(_ADVISORS) == ADVISORS


def _inputs(history: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Closes ``[B, N, T]`` (NaN where unusable) and live slots ``[B, N]`` from the contract's inputs."""
    x = np.asarray(history, dtype=np.float64)
    if x.ndim == 3:
        x = x[:, :, None, :]
    if x.ndim != 4 or x.shape[1] < 1 or x.shape[2] < 1 or x.shape[3] < 1:
        raise ValueError(f"history must have shape [B, N, T, F] or [B, N, F] with N, T, F >= 1, "
                         f"got {np.shape(history)}")
    close = x[..., 0]
    with np.errstate(invalid="ignore"):
        priced = np.isfinite(close[..., -1]) & (close[..., -1] > 0.0)
    if mask is None:
        live = priced
    else:
        live = np.asarray(mask)
        if live.shape != close.shape[:2]:
            raise ValueError(f"mask must have shape {close.shape[:2]} (B, N), got {live.shape}")
        live = live.astype(bool) & priced
    return np.where(live[..., None], close, np.nan), live


def invest(stocks: np.ndarray, live: np.ndarray, rules: PortfolioRules) -> np.ndarray:
    """Stock weights -> the nearest feasible target over the stocks held, CASH last.

    Parameters
    ----------
    stocks : ndarray float64, shape (B, N)
        Raw weights (negative or non-finite ones count as 0); CASH is what they leave of 1.
    live : ndarray bool, shape (B, N)
    rules : PortfolioRules

    Returns
    -------
    ndarray float64, shape (B, N + 1)
        :func:`~sacfolio.broker.projection.project_weights` over the live stocks with
        positive weight: a stock given no weight stays at exactly 0 when another passes
        the cap (the surplus goes to the held stocks and CASH).
    """
    stocks = np.where(live & np.isfinite(stocks), np.clip(stocks, 0.0, None), 0.0)
    full = np.concatenate((stocks, 1.0 - stocks.sum(axis=-1, keepdims=True)), axis=-1)
    return project_weights(full, rules, live & (stocks > 0.0))


def _finish(stocks: np.ndarray, scored: np.ndarray, live: np.ndarray, rules: PortfolioRules) -> np.ndarray:
    """Raw stock weights -> feasible ``[B, N + 1]``; equal weight over live where nothing is scored."""
    scored = scored & live
    n_live = np.maximum(live.sum(axis=-1, keepdims=True), 1)
    equal = (1.0 - rules.cash_floor) * live / n_live
    return invest(np.where(scored.any(axis=-1, keepdims=True), np.where(scored, stocks, 0.0), equal), live, rules)


def _check_name(name: str) -> Advisor:
    try:
        return _ADVISORS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown advisor {name!r}; choose from {list(ADVISORS)}") from None


def advisor_weights(name: str, history: np.ndarray, mask: np.ndarray | None = None, *,
                    rules: PortfolioRules = PortfolioRules(), config: ZooConfig = ZooConfig()) -> np.ndarray:
    """One advisor's target weights at the last row of ``history``.

    Parameters
    ----------
    name : str
        One of :data:`ADVISORS`.
    history : ndarray float, shape (B, N, T, F) or (B, N, F)
        T oldest -> newest (the last row is the decision time); feature 0 is the close
        price (> 0, NaN where not live). ``[B, N, F]`` is read as ``[B, N, 1, F]``.
    mask : ndarray bool, shape (B, N), optional
        Live slots (default: all). A slot without a finite positive close at the last
        row is not live either.
    rules : PortfolioRules
        Cash floor and cap of the result.
    config : ZooConfig
        Windows and thresholds.

    Returns
    -------
    ndarray float64, shape (B, N + 1)
        Stocks then CASH: ``>= 0``, summing to 1, CASH ``>= cash_floor``, each stock
        ``<= max_weight``, exactly 0 on dead slots, finite.

    Raises
    ------
    ConfigError
        ``name`` is not an advisor.
    ValueError
        ``history`` or ``mask`` has a wrong shape.
    """
    advisor = _check_name(name)
    close, live = _inputs(history, mask)
    stocks, scored = advisor(close, config, rules)
    return _finish(stocks, scored, live, rules)


def all_advisor_weights(history: np.ndarray, mask: np.ndarray | None = None, *,
                        rules: PortfolioRules = PortfolioRules(), config: ZooConfig = ZooConfig()) -> np.ndarray:
    """Every advisor's weights, shape ``(B, K, N + 1)`` with K = ``len(ADVISORS)`` in that order.

    Row ``[:, k]`` equals ``advisor_weights(ADVISORS[k], history, mask, ...)``.
    """
    close, live = _inputs(history, mask)
    return np.stack([_finish(*_ADVISORS[name](close, config, rules), live, rules) for name in ADVISORS], axis=1)
