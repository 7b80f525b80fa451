"""Out-of-sample quality of walk-forward forecasts per year, against momentum and zero."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy.stats import rankdata

from sacfolio.data.panel import MarketPanel
from sacfolio.features.forecast.fit import ForecastResult
from sacfolio.features.forecast.samples import forecast_samples

__all__ = ["YearQuality", "forecast_quality", "format_quality_table", "mean_rank_ic"]


class YearQuality(NamedTuple):
    """Out-of-sample quality of one year's forecasts (weekly decision rows of that year).

    ``ic`` is the mean over weeks of the Spearman rank correlation across stocks
    between forecast and realized next-week return; ``hit_rate`` the share of
    (week, stock) cells whose forecast sign matches the realized sign; ``r2_oos``
    is ``1 - SSE(forecast) / SSE(zero forecast)`` (> 0: beats predicting zero).
    The ``*_momentum`` fields score the naive momentum forecast (mean log return of
    the past ``lookback`` weeks) on the same cells.
    """

    year: int
    n_weeks: int
    n_obs: int
    ic: float
    ic_momentum: float
    hit_rate: float
    hit_rate_momentum: float
    r2_oos: float
    r2_oos_momentum: float


def mean_rank_ic(pred: np.ndarray, real: np.ndarray, mask: np.ndarray) -> float:
    """Mean over rows (with >= 3 cells) of the Spearman correlation of pred and real, (W, N).

    Ranks are average ranks (ties share their mean rank); a row where either side is
    constant has IC 0.
    """
    ics = []
    for i in range(pred.shape[0]):  # one row per week
        m = mask[i]
        if m.sum() < 3:
            continue
        a, b = rankdata(pred[i, m]), rankdata(real[i, m])
        a, b = a - a.mean(), b - b.mean()
        denom = np.sqrt((a * a).sum() * (b * b).sum())
        ics.append(float((a * b).sum() / denom) if denom > 0 else 0.0)
    return float(np.mean(ics)) if ics else float("nan")


def forecast_quality(panel: MarketPanel, result: ForecastResult) -> list[YearQuality]:
    """Per-year rank IC, hit rate and out-of-sample R^2 of the forecasts vs momentum and zero.

    Parameters
    ----------
    panel : MarketPanel
        The panel the forecasts were made on, shape (T, N).
    result : ForecastResult

    Returns
    -------
    list of YearQuality
        One per forecast year with at least one scored cell, in order.
    """
    samples = forecast_samples(panel, result.config.lookback)
    real = samples.target
    momentum = np.nan_to_num(samples.windows.mean(axis=2))
    out = []
    for fit in result.fits:
        rows = fit.predict_rows
        mask = result.valid[rows] & np.isfinite(real[rows])
        if not mask.any():
            continue
        p, m, y = result.values[rows], momentum[rows], np.where(mask, real[rows], 0.0)
        sse_zero = float((y[mask] ** 2).sum())
        out.append(YearQuality(
            year=fit.year,
            n_weeks=int(mask.any(axis=1).sum()),
            n_obs=int(mask.sum()),
            ic=mean_rank_ic(p, y, mask),
            ic_momentum=mean_rank_ic(m, y, mask),
            hit_rate=float((np.sign(p[mask]) == np.sign(y[mask])).mean()),
            hit_rate_momentum=float((np.sign(m[mask]) == np.sign(y[mask])).mean()),
            r2_oos=1.0 - float(((y - p)[mask] ** 2).sum()) / sse_zero if sse_zero > 0 else float("nan"),
            r2_oos_momentum=(1.0 - float(((y - m)[mask] ** 2).sum()) / sse_zero
                             if sse_zero > 0 else float("nan")),
        ))
    return out


def format_quality_table(rows: Sequence[YearQuality], *, title: str = "") -> str:
    """A plain-text table of :func:`forecast_quality` rows with a mean row at the bottom."""
    head = f"{'year':>6} {'weeks':>5} {'IC':>7} {'IC mom':>7} {'hit':>6} {'hit mom':>7} {'R2oos':>8} {'R2 mom':>8}"
    lines = ([title] if title else []) + [head]
    for q in rows:
        lines.append(f"{q.year:>6} {q.n_weeks:>5} {q.ic:>7.3f} {q.ic_momentum:>7.3f} {q.hit_rate:>6.3f} "
                     f"{q.hit_rate_momentum:>7.3f} {q.r2_oos:>8.4f} {q.r2_oos_momentum:>8.4f}")
    if rows:
        mean = lambda f: float(np.nanmean([getattr(q, f) for q in rows]))  # noqa: E731
        lines.append(f"{'mean':>6} {sum(q.n_weeks for q in rows):>5} {mean('ic'):>7.3f} "
                     f"{mean('ic_momentum'):>7.3f} {mean('hit_rate'):>6.3f} "
                     f"{mean('hit_rate_momentum'):>7.3f} {mean('r2_oos'):>8.4f} "
                     f"{mean('r2_oos_momentum'):>8.4f}")
    return "\n".join(lines)
