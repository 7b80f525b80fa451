"""Signal blocks (news sentiment, fundamentals with their age) and the full signal + forecast block.

Layout of :func:`signal_forecast_features`, per stock, in order (:data:`SIGNAL_FORECAST_NAMES`)::

    sentiment_score, news_count_log,                                   # news of the week
    gross_margin, operating_margin, net_margin, debt_to_equity,        # latest public quarter
    fundamental_age,                                                   # years since its fiscal end
    forecast                                                           # walk-forward next-week return

Absent data is neutral and says so: without news the score is 0 (invalid) and the
log count 0; without a public quarter the ratios are 0 (invalid) and the age is
:data:`MAX_AGE_YEARS`. Nothing is NaN.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from sacfolio.data.fundamentals import RATIOS, FundamentalsTable, load_fundamentals
from sacfolio.data.news import SentimentScorer, load_daily_sentiment, validate_daily
from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import DataWarning
from sacfolio.features.blocks import FeatureSet
from sacfolio.features.forecast import ForecastConfig, forecast_features, walk_forward_forecasts

__all__ = [
    "FUNDAMENTAL_NAMES",
    "MAX_AGE_YEARS",
    "SENTIMENT_NAMES",
    "SIGNAL_FORECAST_NAMES",
    "fundamental_features",
    "sentiment_features",
    "signal_forecast_features",
]

SENTIMENT_NAMES: tuple[str, ...] = ("sentiment_score", "news_count_log")
FUNDAMENTAL_NAMES: tuple[str, ...] = (*RATIOS, "fundamental_age")
SIGNAL_FORECAST_NAMES: tuple[str, ...] = (*SENTIMENT_NAMES, *FUNDAMENTAL_NAMES, "forecast")
MAX_AGE_YEARS: float = 2.0
"""Cap of ``fundamental_age``; also its value when no quarter is public yet."""


def _symbol_index(panel: MarketPanel, symbols: pd.Series, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Column index per row and a mask of rows whose symbol is in the panel (others are reported)."""
    lookup = {s.upper(): i for i, s in enumerate(panel.symbols)}
    idx = symbols.map(lambda s: lookup.get(str(s).upper(), -1)).to_numpy(np.int64)
    known = idx >= 0
    if not known.all():
        unknown = sorted(set(symbols[~known].astype(str)))
        warnings.warn(f"{what}: skipped {int((~known).sum())} rows of {len(unknown)} symbols not in the "
                      f"panel: {unknown[:10]}", DataWarning, stacklevel=3)
    return idx, known


def sentiment_features(panel: MarketPanel, daily: pd.DataFrame | None) -> FeatureSet:
    """Weekly news sentiment and log news count per stock.

    Decision row t aggregates the daily rows dated in ``(dates[t-1], dates[t]]``
    (for t = 0 the 7 days up to ``dates[0]``); a daily row dated d holds news stamped
    before d's close (:func:`sacfolio.data.news.daily_sentiment`), so row t sees no
    news published after its close.

    Parameters
    ----------
    panel : MarketPanel
        Dates (T,) and symbols (N,).
    daily : DataFrame or None
        Daily table (date, symbol, score, count); ``None`` means no news at all.

    Returns
    -------
    FeatureSet
        Shape (T, N, 2): ``sentiment_score`` (count-weighted mean score; 0 and invalid
        without news) and ``news_count_log`` (``log1p`` of the item count; always valid).
    """
    T, N = panel.n_dates, panel.n_symbols
    total, count = np.zeros((T, N)), np.zeros((T, N))
    if daily is not None and len(daily):
        clean = validate_daily(daily)
        col, known = _symbol_index(panel, clean["symbol"], "daily sentiment")
        day = clean["date"].to_numpy().astype("datetime64[D]")
        row = np.searchsorted(panel.dates, day, side="left")      # first decision date >= day
        inside = known & (row < T)
        inside &= (row > 0) | (day > panel.dates[0] - np.timedelta64(7, "D"))
        c = clean["count"].to_numpy(np.float64)
        np.add.at(total, (row[inside], col[inside]), (clean["score"].to_numpy() * c)[inside])
        np.add.at(count, (row[inside], col[inside]), c[inside])
    has = count > 0
    score = np.where(has, total / np.maximum(count, 1.0), 0.0)
    values = np.stack([score, np.log1p(count)], axis=2)
    valid = np.stack([has, np.ones((T, N), dtype=bool)], axis=2)
    return FeatureSet(values=values, names=SENTIMENT_NAMES, dates=panel.dates, symbols=panel.symbols,
                      valid=valid)


def fundamental_features(panel: MarketPanel, table: FundamentalsTable | None) -> FeatureSet:
    """The latest public quarter's four ratios and its age, per stock and decision date.

    Row t uses the quarter with the latest fiscal date among those whose
    ``available_date <= dates[t]``; its age is ``(dates[t] - fiscal_date)`` in years
    (365.25 days), capped at :data:`MAX_AGE_YEARS`.

    Parameters
    ----------
    panel : MarketPanel
    table : FundamentalsTable or None
        ``None`` means no fundamentals at all.

    Returns
    -------
    FeatureSet
        Shape (T, N, 5); missing ratios are 0 and invalid, the age is always valid.
    """
    T, N = panel.n_dates, panel.n_symbols
    ratios = np.zeros((T, N, len(RATIOS)))
    ratio_ok = np.zeros((T, N, len(RATIOS)), dtype=bool)
    age = np.full((T, N), MAX_AGE_YEARS)
    if table is not None and len(table.frame):
        frame = table.frame
        col, known = _symbol_index(panel, frame["symbol"], "fundamentals")
        frame = frame[known].assign(_col=col[known])
        for n, quarters in frame.groupby("_col"):
            # Point in time: the newest fiscal quarter public by each date (a restated or
            # late quarter never hides a newer one that is already public).
            q = quarters.sort_values("available_date", kind="stable")
            avail = q["available_date"].to_numpy().astype("datetime64[D]")
            fiscal = q["fiscal_date"].to_numpy().astype("datetime64[D]")
            pos = np.searchsorted(avail, panel.dates, side="right") - 1          # (T,)
            best = _newest_so_far(fiscal)
            has = pos >= 0
            pick = best[np.clip(pos, 0, None)]
            vals = q[list(RATIOS)].to_numpy(np.float64)[pick]                   # (T, 4)
            ok = has[:, None] & np.isfinite(vals)
            ratios[:, n] = np.where(ok, vals, 0.0)
            ratio_ok[:, n] = ok
            years = (panel.dates - fiscal[pick]).astype(np.float64) / 365.25
            age[:, n] = np.where(has, np.clip(years, 0.0, MAX_AGE_YEARS), MAX_AGE_YEARS)
    values = np.concatenate([ratios, age[:, :, None]], axis=2)
    valid = np.concatenate([ratio_ok, np.ones((T, N, 1), dtype=bool)], axis=2)
    return FeatureSet(values=values, names=FUNDAMENTAL_NAMES, dates=panel.dates, symbols=panel.symbols,
                      valid=valid)


def _newest_so_far(fiscal: np.ndarray) -> np.ndarray:
    """Per prefix of quarters (ordered by availability), the index of the newest fiscal date."""
    best = np.zeros(len(fiscal), dtype=np.int64)
    cur = 0
    for i in range(len(fiscal)):  # a few dozen quarters per stock
        if fiscal[i] >= fiscal[cur]:
            cur = i
        best[i] = cur
    return best


def signal_forecast_features(
    panel: MarketPanel,
    *,
    forecaster: Literal["lstm", "patchtst"],
    news: str | Path | pd.DataFrame | None = None,
    fundamentals: str | Path | FundamentalsTable | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    forecast_config: ForecastConfig | None = None,
    scorer: SentimentScorer | None = None,
) -> FeatureSet:
    """The per-stock signal + forecast state block: 7 signal features and 1 forecast, shape (T, N, 8).

    Parameters
    ----------
    panel : MarketPanel
        Weekly closes, shape (T, N).
    forecaster : {"lstm", "patchtst"}
        Walk-forward forecaster of the ``forecast`` feature.
    news : path or DataFrame, optional
        A news file (JSONL/JSON/Parquet, scored with ``scorer``), a
        ``daily_sentiment.parquet`` or a daily table; ``None``: no news (neutral).
    fundamentals : path or FundamentalsTable, optional
        A folder of cached Alpha Vantage responses or a loaded table; ``None``: none.
    cache_dir : path, optional
        Forecast cache folder (recommended: walk-forward training takes minutes).
    progress : bool
        Progress bar while forecasting.
    forecast_config : ForecastConfig, optional
        Forecaster settings; its ``model`` is replaced by ``forecaster``.
    scorer : SentimentScorer, optional
        Scorer of raw news items; default VADER.

    Returns
    -------
    FeatureSet
        Names :data:`SIGNAL_FORECAST_NAMES`; row t uses information public at or before
        ``dates[t]`` only.
    """
    from dataclasses import replace

    daily = None if news is None else load_daily_sentiment(news, symbols=panel.symbols, scorer=scorer)
    table = (fundamentals if isinstance(fundamentals, FundamentalsTable) or fundamentals is None
             else load_fundamentals(fundamentals, symbols=panel.symbols))
    config = replace(forecast_config or ForecastConfig(), model=forecaster)
    result = walk_forward_forecasts(panel, config, cache_dir=cache_dir, progress=progress)
    return FeatureSet.concat(sentiment_features(panel, daily), fundamental_features(panel, table),
                             forecast_features(panel, result))
