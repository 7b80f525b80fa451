"""Point-in-time price features: trailing log returns and volatility per stock."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from sacfolio.data.panel import MarketPanel
from sacfolio.features.blocks import FeatureSet

__all__ = ["price_features", "RETURN_HORIZONS", "VOL_WINDOW"]

RETURN_HORIZONS: tuple[int, ...] = (1, 4, 13, 26, 52)
"""Trailing log-return horizons in rows (weeks for the weekly panel)."""

VOL_WINDOW: int = 13
"""Window (rows) of the sample standard deviation of one-row log returns."""


def price_features(panel: MarketPanel, *, horizons: tuple[int, ...] = RETURN_HORIZONS,
                   vol_window: int = VOL_WINDOW) -> FeatureSet:
    """Trailing log returns over ``horizons`` and rolling volatility of one-row log returns.

    Row t uses closes at rows <= t only. A value needs every close it uses to be
    available; otherwise (too little history, a gap) it is 0 and marked invalid.

    Parameters
    ----------
    panel : MarketPanel
        Close prices, shape (T, N).
    horizons : tuple of int
        Horizons h of ``log(close[t] / close[t - h])``; names ``logret_{h}w``.
    vol_window : int
        Window w of the sample std (ddof=1) of ``log(close[s] / close[s - 1])`` for
        s in t-w+1..t; name ``vol_{w}w``. Not annualized.

    Returns
    -------
    FeatureSet
        Values of shape (T, N, len(horizons) + 1).
    """
    if any(h < 1 for h in horizons) or vol_window < 2:
        raise ValueError(f"horizons {horizons} must be >= 1 and vol_window {vol_window} >= 2")
    T, N = panel.close.shape
    with np.errstate(invalid="ignore", divide="ignore"):
        log_close = np.log(panel.close)  # NaN where unavailable
    blocks, valid = [], []
    for h in horizons:
        ret = np.full((T, N), np.nan)
        ret[h:] = log_close[h:] - log_close[:-h]
        blocks.append(ret)
    step = np.full((T, N), np.nan)
    step[1:] = log_close[1:] - log_close[:-1]
    vol = np.full((T, N), np.nan)
    if T >= vol_window:
        # windows over rows t-w+1..t, shape (T-w+1, N, w); NaN anywhere -> NaN
        vol[vol_window - 1:] = sliding_window_view(step, vol_window, axis=0).std(axis=2, ddof=1)
    blocks.append(vol)
    raw = np.stack(blocks, axis=2)
    valid = np.isfinite(raw)
    names = tuple(f"logret_{h}w" for h in horizons) + (f"vol_{vol_window}w",)
    return FeatureSet(values=np.where(valid, raw, 0.0), names=names, dates=panel.dates,
                      symbols=panel.symbols, valid=valid)
