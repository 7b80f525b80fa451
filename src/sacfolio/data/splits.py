"""Calendar-year splits of a sorted date array: train on what came before a year, test the year.

A decision at row t earns the return of period ``dates[t] -> dates[t + 1]``; that
return *lands* in the year of ``dates[t + 1]``. The split of year Y is point in time:

* **train rows** are the decision rows t whose return lands before Y
  (``dates[t + 1] < Y-01-01``), so nothing of Y is trained on; an expanding window
  from the first row, or, with ``train_years=k``, only rows decided in the k calendar
  years before Y (``dates[t] >= (Y - k)-01-01``);
* **test rows** are the rows of Y: with ``test_by="return_year"`` the decisions whose
  return lands in Y (walk-forward evaluation folds: consecutive years touch), with
  ``test_by="decision_year"`` the rows dated in Y (forecasts: every row gets one).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["TestBy", "YearSplit", "calendar_years", "year_split", "year_start", "yearly_splits"]

TestBy = Literal["return_year", "decision_year"]
_TEST_BY: tuple[str, ...] = ("return_year", "decision_year")


@dataclass(frozen=True, eq=False)
class YearSplit:
    """The rows that train and the rows that test one calendar year (see the module docstring).

    Attributes
    ----------
    year : int
    train_rows : ndarray int, increasing
        Decision rows whose return lands before ``year``.
    test_rows : ndarray int, increasing
        Rows of ``year`` (by return or by decision date).
    """

    year: int
    train_rows: np.ndarray
    test_rows: np.ndarray


def calendar_years(dates: np.ndarray) -> np.ndarray:
    """Calendar year of each date, as int64, shape of ``dates``."""
    return np.asarray(dates).astype("datetime64[Y]").astype(np.int64) + 1970


def year_start(year: int) -> np.datetime64:
    """1 January of ``year`` as a ``datetime64[D]``."""
    return np.datetime64(f"{year:04d}-01-01", "D")


def year_split(dates: np.ndarray, year: int, *, test_by: TestBy = "return_year",
               train_years: int | None = None) -> YearSplit:
    """Train and test rows of one calendar year.

    Parameters
    ----------
    dates : ndarray datetime64, shape (T,)
        Sorted decision dates.
    year : int
    test_by : {"return_year", "decision_year"}
        Whether the test rows are the decisions whose return lands in ``year`` or the
        rows dated in ``year``.
    train_years : int, optional
        Keep only training rows decided in the ``train_years`` calendar years before
        ``year``; default every earlier row (an expanding window).

    Returns
    -------
    YearSplit
    """
    if test_by not in _TEST_BY:
        raise ValueError(f"test_by={test_by!r}; choose from {list(_TEST_BY)}")
    dates = np.asarray(dates).astype("datetime64[D]")
    rows = np.arange(max(len(dates) - 1, 0))
    before = dates[1:] < year_start(year)
    if train_years is not None:
        before = (dates[:-1] >= year_start(year - train_years)) & before
    tested = dates[1:] if test_by == "return_year" else dates
    return YearSplit(year=int(year), train_rows=rows[before],
                     test_rows=np.flatnonzero(calendar_years(tested) == year))


def yearly_splits(dates: np.ndarray, years: Iterable[int], *, test_by: TestBy = "return_year",
                  train_years: int | None = None) -> list[YearSplit]:
    """:func:`year_split` of each year, in the order given."""
    return [year_split(dates, int(y), test_by=test_by, train_years=train_years) for y in years]
