"""Point-in-time factor features: risk-scaled momentum, volatility, market beta and
correlation, short-term reversal per stock.

The factors that large-cap studies document at weekly or monthly horizons
(Jegadeesh-Titman 12-1 momentum, scaled by volatility as in Barroso & Santa-Clara;
the low-volatility and low-beta anomalies; short-term reversal). Whether each one
predicts next week's return on a given panel is measured by
:mod:`sacfolio.features.ic`, not assumed here.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from sacfolio.data.panel import MarketPanel
from sacfolio.features.blocks import FeatureSet

__all__ = ["FACTOR_NAMES", "LONG_WINDOW", "MOM_SKIP", "SHORT_WINDOW", "factor_features",
           "market_log_returns"]

SHORT_WINDOW: int = 13
"""Rows (weeks) of the short volatility window."""

LONG_WINDOW: int = 52
"""Rows (weeks) of the long volatility, beta and correlation windows and of the momentum look-back."""

MOM_SKIP: int = 4
"""Most recent rows (weeks) the momentum return skips (the "-1 month" of 12-1)."""

FACTOR_NAMES: tuple[str, ...] = ("mom_12_1", "vol_13w", "vol_52w", "beta_52w", "corr_52w", "reversal_1w")
"""Every feature :func:`factor_features` can compute, in its default order."""


def _log_steps(panel: MarketPanel) -> np.ndarray:
    """``log(close[t] / close[t-1])``, shape (T, N); NaN at row 0 and where either close is missing."""
    with np.errstate(invalid="ignore", divide="ignore"):
        log_close = np.log(panel.close)
    step = np.full(log_close.shape, np.nan)
    step[1:] = log_close[1:] - log_close[:-1]
    return step


def market_log_returns(panel: MarketPanel) -> np.ndarray:
    """Log return of the equal-weight market from row t-1 to t, shape (T,).

    The market at row t holds, in equal weights, every stock with a return at t
    (available at t-1 and at t); its return is the mean of their simple returns, as
    log1p. NaN at row 0 and on rows where no stock has a return.
    """
    simple = np.expm1(_log_steps(panel))
    count = np.isfinite(simple).sum(axis=1)
    total = np.where(np.isfinite(simple), simple, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.log1p(total / np.maximum(count, 1)), np.nan)


def _windows(x: np.ndarray, w: int) -> np.ndarray:
    """Trailing windows of rows t-w+1..t, shape ``x.shape + (w,)``; rows < w-1 all NaN."""
    out = np.full(x.shape + (w,), np.nan)
    if len(x) >= w:
        out[w - 1:] = sliding_window_view(x, w, axis=0)
    return out


def _beta_corr(step: np.ndarray, market: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling OLS beta and Pearson correlation of each stock's steps on the market's, (T, N) each."""
    r = _windows(step, w)                     # (T, N, w)
    m = _windows(market[:, None], w)          # (T, 1, w)
    rd = r - r.mean(axis=2, keepdims=True)
    md = m - m.mean(axis=2, keepdims=True)
    cov = (rd * md).sum(axis=2)
    var_r = (rd * rd).sum(axis=2)
    var_m = (md * md).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / var_m, cov / np.sqrt(var_r * var_m)


def factor_features(panel: MarketPanel, *, names: tuple[str, ...] = FACTOR_NAMES) -> FeatureSet:
    """Factor features per stock; row t uses closes at rows <= t only.

    With ``r[s] = log(close[s] / close[s-1])`` (the stock's one-row log return) and
    ``m[s]`` the equal-weight market's log return (:func:`market_log_returns`: the
    stocks with a return at s, equal weights, mean simple return as log1p):

    * ``mom_12_1``: ``log(close[t-4] / close[t-52]) / (sqrt(48) * vol_52w[t])``, the
      48-week return that skips the last 4 weeks, in units of its standard deviation
      under i.i.d. weekly returns (risk-scaled 12-1 momentum).
    * ``vol_13w``, ``vol_52w``: sample std (ddof=1) of ``r[s]``, s in t-w+1..t, for
      w = 13, 52 (weekly, not annualized; ``vol_13w`` equals price_features' ``vol_13w``).
    * ``beta_52w``: ``cov(r, m) / var(m)`` over s in t-51..t (OLS slope on the market).
    * ``corr_52w``: ``cov(r, m) / (sd(r) sd(m))`` over the same 52 rows. The stock is
      part of the market it is compared with (1 of N).
    * ``reversal_1w``: ``-r[t]``, minus last week's log return.

    A value needs every close its window touches (for a 52-row window: rows t-52..t)
    to be available; otherwise (too little history, a gap, a zero variance) it is 0
    and marked invalid, as in :func:`~sacfolio.features.price.price_features`.

    Parameters
    ----------
    panel : MarketPanel
        Close prices, shape (T, N).
    names : tuple of str
        Which of :data:`FACTOR_NAMES` to return, in this order.

    Returns
    -------
    FeatureSet
        Values of shape (T, N, len(names)).
    """
    unknown = [n for n in names if n not in FACTOR_NAMES]
    if unknown or not names:
        raise ValueError(f"unknown factor features {unknown}; choose from {', '.join(FACTOR_NAMES)}")
    step = _log_steps(panel)
    vol_short = _windows(step, SHORT_WINDOW).std(axis=2, ddof=1)
    vol_long = _windows(step, LONG_WINDOW).std(axis=2, ddof=1)
    beta, corr = _beta_corr(step, market_log_returns(panel), LONG_WINDOW)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_close = np.log(panel.close)
        mom = np.full(step.shape, np.nan)
        mom[LONG_WINDOW:] = log_close[LONG_WINDOW - MOM_SKIP:-MOM_SKIP] - log_close[:-LONG_WINDOW]
        mom = mom / (np.sqrt(LONG_WINDOW - MOM_SKIP) * vol_long)
    columns = {"mom_12_1": mom, "vol_13w": vol_short, "vol_52w": vol_long, "beta_52w": beta,
               "corr_52w": corr, "reversal_1w": -step}
    raw = np.stack([columns[n] for n in names], axis=2)
    valid = np.isfinite(raw)
    return FeatureSet(values=np.where(valid, raw, 0.0), names=tuple(names), dates=panel.dates,
                      symbols=panel.symbols, valid=valid)
