"""The samples of the forecasters: weekly log returns, their trailing windows and next-week targets.

A sample is one stock at one decision row t: the input is its last ``lookback`` weekly
log returns (closes t-L..t), the target its next log return ``log(close[t+1] / close[t])``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from sacfolio.data.panel import MarketPanel

__all__ = ["ForecastSamples", "forecast_samples", "return_windows", "weekly_log_returns"]


def weekly_log_returns(panel: MarketPanel) -> np.ndarray:
    """Log returns ``log(close[t] / close[t-1])``, shape (T, N); NaN where undefined."""
    with np.errstate(invalid="ignore", divide="ignore"):
        log_close = np.log(panel.close)
    out = np.full(panel.close.shape, np.nan)
    out[1:] = log_close[1:] - log_close[:-1]
    return out


def return_windows(returns: np.ndarray, lookback: int) -> np.ndarray:
    """Windows of the last ``lookback`` returns ending at each row, shape (T, N, L); NaN-padded."""
    T, N = returns.shape
    out = np.full((T, N, lookback), np.nan)
    if T >= lookback:
        out[lookback - 1:] = sliding_window_view(returns, lookback, axis=0)
    return out


class ForecastSamples(NamedTuple):
    """Every (row, stock) sample of a panel, shape (T, N) or (T, N, L).

    Attributes
    ----------
    returns : ndarray (T, N)
        :func:`weekly_log_returns`.
    windows : ndarray (T, N, L)
        :func:`return_windows` of ``returns``: the input at each row.
    ok_input : ndarray bool (T, N)
        True where the whole window is finite.
    target : ndarray (T, N)
        Next week's log return ``returns[t + 1]``; NaN on the last row.
    """

    returns: np.ndarray
    windows: np.ndarray
    ok_input: np.ndarray
    target: np.ndarray


def forecast_samples(panel: MarketPanel, lookback: int) -> ForecastSamples:
    """Inputs and targets of every (row, stock) of ``panel`` for windows of ``lookback`` weeks."""
    returns = weekly_log_returns(panel)
    windows = return_windows(returns, lookback)                      # (T, N, L)
    ok_input = np.isfinite(windows).all(axis=2)                     # (T, N)
    target = np.full_like(returns, np.nan)
    target[:-1] = returns[1:]
    return ForecastSamples(returns=returns, windows=windows, ok_input=ok_input, target=target)
