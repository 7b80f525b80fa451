"""Synthetic 5-minute bars calibrated on the embedded daily S&P 500 sample (no download).

The bars follow what intraday equity data shows:

* a **session calendar**: New York 09:30-16:00 on weekdays, US federal holidays skipped
  (pandas' calendar; close to, not exactly, the NYSE's), bars labelled by their end time
  in UTC (so daylight saving shifts them by an hour as it does in real files);
* a **U-shaped intraday volatility**: the variance of bar k of a session is proportional
  to ``1 + u_shape * (2x - 1)^2`` with ``x`` the bar's position in the session, so the
  first and last bars move about ``sqrt(1 + u_shape)`` times as much as midday ones;
* **overnight gaps**: a share ``overnight_share`` of each day's variance is realised
  between the previous close and the open;
* **spreads that widen at the open**: the half-spread is ``spread_bps / 2`` scaled by the
  symbol's volatility relative to the median symbol and by ``1 + (open_spread - 1) *
  exp(-minutes since the open / open_decay_minutes)``;
* correlated returns: daily drift, volatility and correlation of each symbol are those of
  its daily log returns over the last ``calibration_years`` of the sample, and each path
  starts at the sample's last close.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sacfolio.data.bars import Bars, load_bars
from sacfolio.exceptions import BarSourceError, ConfigError

__all__ = ["DEFAULT_SYMBOLS", "IntradayConfig", "calibrate_daily", "load_source_bars", "session_times", "synthetic_bars"]

_TZ = "America/New_York"


@dataclass(frozen=True, kw_only=True)
class IntradayConfig:
    """Shape of the synthetic bars (module docstring).

    Attributes
    ----------
    sessions : int, default 5
        Trading sessions to generate.
    start : str, default "2023-01-03"
        First calendar date (the first session is on or after it).
    bar_minutes : int, default 5
        Bar length; must divide the 390-minute session.
    overnight_share : float, default 0.25
        Share of the daily variance in the overnight gap, in [0, 1).
    u_shape : float, default 3.0
        Excess variance of the first and last bars over midday ones, >= 0.
    spread_bps : float, default 2.0
        Typical (midday) spread of the median-volatility symbol in basis points, >= 0.
    open_spread : float, default 3.0
        Spread multiplier at the open, >= 1, decaying to 1.
    open_decay_minutes : float, default 15.0
        Time constant of that decay, > 0.
    calibration_years : float, default 2.0
        Years of daily closes at the end of the sample used for calibration, > 0.
    """

    sessions: int = 5
    start: str = "2023-01-03"
    bar_minutes: int = 5
    overnight_share: float = 0.25
    u_shape: float = 3.0
    spread_bps: float = 2.0
    open_spread: float = 3.0
    open_decay_minutes: float = 15.0
    calibration_years: float = 2.0

    def __post_init__(self) -> None:
        checks = [
            ("sessions", isinstance(self.sessions, int) and self.sessions >= 1, "an integer >= 1"),
            ("bar_minutes", isinstance(self.bar_minutes, int) and self.bar_minutes >= 1
             and 390 % self.bar_minutes == 0, "an integer dividing 390 (1, 5, 10, 15, 30, ...)"),
            ("overnight_share", 0.0 <= self.overnight_share < 1.0, "in [0, 1)"),
            ("u_shape", self.u_shape >= 0.0, ">= 0"),
            ("spread_bps", self.spread_bps >= 0.0, ">= 0"),
            ("open_spread", self.open_spread >= 1.0, ">= 1"),
            ("open_decay_minutes", self.open_decay_minutes > 0.0, "> 0"),
            ("calibration_years", self.calibration_years > 0.0, "> 0"),
        ]
        for name, ok, need in checks:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not ok:
                raise ConfigError(f"IntradayConfig.{name}={value!r} must be {need}.")
        try:
            pd.Timestamp(self.start)
        except ValueError as exc:
            raise ConfigError(f"IntradayConfig.start={self.start!r} is not a date; write YYYY-MM-DD.") from exc

    @property
    def bars_per_session(self) -> int:
        return 390 // self.bar_minutes


def session_times(config: IntradayConfig) -> tuple[np.ndarray, np.ndarray]:
    """Bar end times (UTC, datetime64[ns], shape (S * K,)) and minutes since the open (K,)."""
    from pandas.tseries.holiday import USFederalHolidayCalendar

    start = pd.Timestamp(config.start)
    holidays = USFederalHolidayCalendar().holidays(start, start + pd.Timedelta(days=7 * config.sessions + 30))
    days = pd.bdate_range(start, periods=config.sessions + len(holidays) + 5, freq="C", holidays=holidays)
    days = days[: config.sessions]
    minutes = np.arange(1, config.bars_per_session + 1) * config.bar_minutes
    local = (days.values[:, None] + np.timedelta64(9 * 60 + 30, "m") + minutes[None, :].astype("timedelta64[m]"))
    stamps = pd.DatetimeIndex(local.ravel()).tz_localize(_TZ).tz_convert("UTC").tz_localize(None)
    return stamps.values.astype("datetime64[ns]"), minutes


def calibrate_daily(close: pd.DataFrame, years: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Daily log-return drift (N,), volatility (N,), correlation (N, N) and last close (N,)."""
    close = close.loc[close.index >= close.index[-1] - pd.Timedelta(days=round(365.25 * years))]
    logret = np.log(close).diff().iloc[1:]
    mu, sigma = logret.mean().to_numpy(), logret.std().to_numpy()
    corr = np.nan_to_num(np.corrcoef(logret.fillna(0.0).to_numpy().T), nan=0.0)
    np.fill_diagonal(corr, 1.0)
    return mu, sigma, corr, close.ffill().iloc[-1].to_numpy()


def synthetic_bars(symbols: Sequence[str] | None = None, *, config: IntradayConfig | None = None,
                   seed: int = 0) -> Bars:
    """Realistic 5-minute bars (with bid/ask and volume) of S&P 500 sample stocks.

    Parameters
    ----------
    symbols : sequence of str, optional
        Stocks of the embedded sample; default all 20.
    config : IntradayConfig, optional
    seed : int
        The only source of randomness: the same seed gives the same bars.

    Returns
    -------
    Bars
        ``source="synthetic:intraday"``; bid/ask rounded to cents around the close.
    """
    from skfolio.datasets import load_sp500_dataset

    config = config or IntradayConfig()
    daily = load_sp500_dataset().astype(np.float64)
    names = list(daily.columns) if symbols is None else list(symbols)
    unknown = [s for s in names if s not in daily.columns]
    if unknown or not names:
        raise ConfigError(f"unknown symbol(s) {unknown}; the embedded sample has {', '.join(daily.columns)}")
    mu, sigma, corr, last = calibrate_daily(daily[names], config.calibration_years)
    times, minutes = session_times(config)
    rng = np.random.default_rng(seed)
    chol = np.linalg.cholesky(corr + 1e-12 * np.eye(len(names)))
    steps = _log_steps(rng, chol, mu, sigma, config)
    return _assemble(rng, steps, last, sigma, minutes, times, names, config)


def _intraday_weights(config: IntradayConfig) -> np.ndarray:
    """Variance share of each bar of a session (K,), U-shaped, summing to 1."""
    x = (np.arange(config.bars_per_session) + 0.5) / config.bars_per_session
    w = 1.0 + config.u_shape * (2.0 * x - 1.0) ** 2
    return w / w.sum()


def _log_steps(rng: np.random.Generator, chol: np.ndarray, mu: np.ndarray, sigma: np.ndarray,
               config: IntradayConfig) -> np.ndarray:
    """Log returns (S, K + 1, N): column 0 is the overnight gap, then the session's bars."""
    k, s, n = config.bars_per_session, config.sessions, len(mu)
    shares = np.concatenate([[config.overnight_share], (1.0 - config.overnight_share) * _intraday_weights(config)])
    shocks = rng.standard_normal((s, k + 1, n)) @ chol.T
    return mu * (1.0 / (k + 1)) + shocks * sigma * np.sqrt(shares)[None, :, None]


def _assemble(rng: np.random.Generator, steps: np.ndarray, last: np.ndarray, sigma: np.ndarray,
              minutes: np.ndarray, times: np.ndarray, names: list[str], config: IntradayConfig) -> Bars:
    s, k1, n = steps.shape
    k = k1 - 1
    level = np.log(last) + np.cumsum(steps.reshape(s * k1, n), axis=0).reshape(s, k1, n)
    close = np.exp(level[:, 1:, :])  # (S, K, N)
    open_ = np.exp(np.concatenate([level[:, :1, :], level[:, 1:-1, :]], axis=1))
    bar_sigma = sigma * np.sqrt((1.0 - config.overnight_share) * _intraday_weights(config))[:, None]  # (K, N)
    wick = np.abs(rng.standard_normal((2, s, k, n))) * 0.5 * bar_sigma
    high = np.maximum(open_, close) * np.exp(wick[0])
    low = np.minimum(open_, close) * np.exp(-wick[1])
    widen = 1.0 + (config.open_spread - 1.0) * np.exp(-(minutes - config.bar_minutes) / config.open_decay_minutes)
    half = 0.5e-4 * config.spread_bps * (sigma / np.median(sigma))[None, :] * widen[:, None]  # (K, N)
    bid = np.floor(close * (1.0 - half) * 100.0) / 100.0
    ask = np.maximum(np.ceil(close * (1.0 + half) * 100.0) / 100.0, bid + 0.01)
    profile = 1.0 + 2.0 * config.u_shape / 3.0 * (2.0 * (np.arange(k) + 0.5) / k - 1.0) ** 2
    volume = np.round(1e5 * profile[None, :, None] * rng.lognormal(0.0, 0.3, (s, k, n)))
    flat = lambda a: a.reshape(s * k, n)  # noqa: E731
    return Bars(times=times, symbols=tuple(names), open=flat(open_), high=flat(high), low=flat(low),
                close=flat(close), bid=flat(bid), ask=flat(ask), volume=flat(volume),
                source="synthetic:intraday")


DEFAULT_SYMBOLS = ("AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO")
"""Ten stocks of the embedded sample: the default universe of the generator."""


def load_source_bars(*, path: str | None = None, n_bars: int = 2000, symbols: Sequence[str] | None = None,
                     seed: int = 0) -> Bars:
    """Bars of a file (``path``) or ``n_bars`` synthetic 5-minute bars of ``symbols``."""
    if path is not None:
        bars = load_bars(path)
        if symbols:
            missing = [s for s in symbols if s not in bars.symbols]
            if missing:
                raise BarSourceError(f"{path} has no bars of {missing}; it has {', '.join(bars.symbols)}")
        return bars
    if n_bars < 2:
        raise BarSourceError(f"--bars {n_bars}: the generator needs at least 2 bars")
    config = IntradayConfig(sessions=max(1, math.ceil(n_bars / IntradayConfig().bars_per_session)))
    full = synthetic_bars(list(symbols or DEFAULT_SYMBOLS), config=config, seed=seed)
    cut = slice(0, n_bars)
    return Bars(times=full.times[cut], symbols=full.symbols, open=full.open[cut], high=full.high[cut],
                low=full.low[cut], close=full.close[cut], bid=full.bid[cut], ask=full.ask[cut],
                volume=full.volume[cut], source=f"{full.source}(seed={seed}, bars={n_bars})")
