"""Walk-forward rank IC of each feature: does it order next week's returns across stocks?

The information coefficient (IC) of a feature in week t is the Spearman rank
correlation, across the stocks with a valid value at t and a return from t to t+1,
between the feature at t and that return. It is a purely out-of-sample measure:
every feature at t uses data up to t only, and nothing is fitted (ranks do not
change under any per-feature scaling, so no standardization is needed). The one
choice that could use the test data, the sign a user would trade a feature with,
is taken walk-forward: ``signed_ic`` multiplies the ICs of year Y by the sign of the
mean IC of all weeks whose return lands before Y.

Week t belongs to the year its return lands in (the year of ``dates[t + 1]``), as in
the walk-forward folds (:func:`sacfolio.data.splits.year_split`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.stats import rankdata

from sacfolio.data.panel import MarketPanel
from sacfolio.data.splits import YearSplit, yearly_splits
from sacfolio.exceptions import DataError, EvaluationWindowError
from sacfolio.features.blocks import FeatureSet

__all__ = ["FeatureIC", "ICTable", "MIN_STOCKS", "next_returns", "rank_ic_table", "weekly_rank_ic"]

MIN_STOCKS: int = 3
"""Fewest stocks a week needs for its IC to count (as in the forecast quality table)."""


class FeatureIC(NamedTuple):
    """Walk-forward rank IC of one feature over the test years.

    Attributes
    ----------
    feature : str
    n_weeks : int
        Test weeks with an IC (at least :data:`MIN_STOCKS` stocks scored).
    mean_ic : float
        Mean weekly IC over those weeks (week-weighted across years).
    t_stat : float
        ``mean_ic / sd(IC, ddof=1) * sqrt(n_weeks)``: how many standard errors the
        mean is from 0 (weekly ICs do not overlap, the return horizon is one week).
    hit_rate : float
        Share of those weeks with IC > 0.
    signed_ic : float
        Mean weekly IC after multiplying year Y's ICs by the sign of the mean IC of
        every week whose return lands before Y (weeks of years with no earlier IC
        are left out): the IC of trading the feature in the direction it had so far.
    yearly_ic : tuple of float
        Mean weekly IC of each test year (NaN for a year with no IC), in year order.
    """

    feature: str
    n_weeks: int
    mean_ic: float
    t_stat: float
    hit_rate: float
    signed_ic: float
    yearly_ic: tuple[float, ...]


@dataclass(frozen=True)
class ICTable:
    """One :class:`FeatureIC` per feature, in the feature set's order, for ``years``."""

    years: tuple[int, ...]
    rows: tuple[FeatureIC, ...]

    def to_records(self) -> list[dict[str, float | int | str]]:
        """Flat rows (one per feature, one ``ic_<year>`` column per year) for CSV or a DataFrame."""
        records = []
        for row in self.rows:
            record: dict[str, float | int | str] = {k: v for k, v in row._asdict().items() if k != "yearly_ic"}
            record.update({f"ic_{y}": v for y, v in zip(self.years, row.yearly_ic)})
            records.append(record)
        return records


def next_returns(panel: MarketPanel) -> np.ndarray:
    """``log(close[t+1] / close[t])``, shape (T, N): the return a decision at t earns.

    NaN in the last row and wherever either close is missing.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        log_close = np.log(panel.close)
    out = np.full(log_close.shape, np.nan)
    out[:-1] = log_close[1:] - log_close[:-1]
    return out


def weekly_rank_ic(x: np.ndarray, y: np.ndarray, mask: np.ndarray, *, min_stocks: int = MIN_STOCKS) -> np.ndarray:
    """Spearman rank correlation of ``x`` and ``y`` across each row's cells in ``mask``.

    Parameters
    ----------
    x, y : ndarray float64, shape (T, N)
    mask : ndarray bool, shape (T, N)
        Cells that count (ranks are taken among them only; ties share their mean rank).
    min_stocks : int
        Rows with fewer cells get NaN.

    Returns
    -------
    ndarray float64, shape (T,)
        The IC of each row; 0 for a row where either side is constant.
    """
    mask = mask & np.isfinite(x) & np.isfinite(y)
    count = mask.sum(axis=1)
    ranks = [rankdata(np.where(mask, v, np.nan), axis=1, nan_policy="omit") for v in (x, y)]
    centred = []
    for r in ranks:
        mean = np.where(mask, r, 0.0).sum(axis=1, keepdims=True) / np.maximum(count, 1)[:, None]
        centred.append(np.where(mask, r - mean, 0.0))
    a, b = centred
    denom = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        ic = np.where(denom > 0, (a * b).sum(axis=1) / denom, 0.0)
    return np.where(count >= min_stocks, ic, np.nan)


def _summarize(name: str, ic: np.ndarray, splits: Sequence[YearSplit]) -> FeatureIC:
    """:class:`FeatureIC` of one feature's weekly ICs, shape (T,), over the test years."""
    tested = ic[np.concatenate([s.test_rows for s in splits])]
    tested = tested[np.isfinite(tested)]
    n = tested.size
    sd = tested.std(ddof=1) if n > 1 else np.nan
    yearly, signed = [], []
    for s in splits:
        year = ic[s.test_rows]
        year = year[np.isfinite(year)]
        yearly.append(float(year.mean()) if year.size else float("nan"))
        prior = ic[s.train_rows]
        prior = prior[np.isfinite(prior)]
        sign = np.sign(prior.mean()) if prior.size else 0.0
        if sign != 0:
            signed.append(sign * year)
    signed_all = np.concatenate(signed) if signed else np.empty(0)
    return FeatureIC(
        feature=name, n_weeks=int(n),
        mean_ic=float(tested.mean()) if n else float("nan"),
        t_stat=float(tested.mean() / sd * np.sqrt(n)) if n > 1 and sd > 0 else float("nan"),
        hit_rate=float((tested > 0).mean()) if n else float("nan"),
        signed_ic=float(signed_all.mean()) if signed_all.size else float("nan"),
        yearly_ic=tuple(yearly),
    )


def rank_ic_table(features: FeatureSet, panel: MarketPanel, years: Sequence[int], *,
                  min_stocks: int = MIN_STOCKS) -> ICTable:
    """Walk-forward rank IC of every feature of ``features`` for the test ``years``.

    Parameters
    ----------
    features : FeatureSet
        Values of shape (T, N, F) on ``panel``'s dates and symbols; only valid cells count.
    panel : MarketPanel
        The prices whose next-week log returns (:func:`next_returns`) are ranked.
    years : sequence of int
        Test years; week t is in the year of ``dates[t + 1]``.
    min_stocks : int
        Fewest scored stocks a week needs.

    Returns
    -------
    ICTable

    Raises
    ------
    DataError
        If the features are not on the panel's dates and symbols.
    EvaluationWindowError
        If a test year has no week in the data.
    """
    if features.symbols != panel.symbols or features.dates.shape != panel.dates.shape or \
            (features.dates != panel.dates).any():
        raise DataError(f"features ({len(features.dates)} dates, symbols {list(features.symbols)}) are "
                        f"not on the panel's {panel.n_dates} dates and symbols {list(panel.symbols)}")
    years = tuple(int(y) for y in years)
    splits = yearly_splits(panel.dates, years)
    empty = [s.year for s in splits if s.test_rows.size == 0]
    if empty or not years:
        raise EvaluationWindowError(f"test years {empty or list(years)} have no weeks in the data "
                                    f"({panel.dates[0]}..{panel.dates[-1]})")
    forward = next_returns(panel)
    rows = tuple(
        _summarize(name, weekly_rank_ic(features.values[:, :, f], forward, features.valid[:, :, f],
                                        min_stocks=min_stocks), splits)
        for f, name in enumerate(features.names))
    return ICTable(years=years, rows=rows)
