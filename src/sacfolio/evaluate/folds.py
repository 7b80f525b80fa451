"""Expanding-window walk-forward folds with one calendar year per test fold.

The year split itself is :func:`sacfolio.data.splits.year_split` (``test_by="return_year"``):
fold Y tests every decision whose return lands in Y, and trains on everything before
its first test decision:

* ``train_start = 0``, ``train_stop = test_start`` (the last training return ends at
  the close where the first test decision is taken, so no test return is trained on);
* ``test_start = first t with dates[t + 1].year == Y``, ``test_stop = last such t + 1``;
* consecutive years touch: ``test_stop`` of Y is ``test_start`` of Y + 1.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from sacfolio.data.splits import year_split
from sacfolio.evaluate.results import Fold
from sacfolio.exceptions import EvaluationWindowError

__all__ = ["parse_years", "yearly_folds"]

_ITEM = re.compile(r"^\s*(\d{4})\s*(?:-\s*(\d{4})\s*)?$")


def parse_years(spec: str) -> list[int]:
    """Parse an evaluation-years option.

    Parameters
    ----------
    spec : str
        ``"2015-2022"`` (inclusive range), ``"2021,2022"``, ``"2021"`` or a comma list
        mixing both (``"2015-2017,2020"``).

    Returns
    -------
    list of int
        Sorted, unique years.

    Raises
    ------
    EvaluationWindowError
        If the text is not of that form or a range runs backwards.
    """
    years: set[int] = set()
    items = spec.split(",") if spec.strip() else []
    if not items:
        raise EvaluationWindowError("no evaluation years given; use e.g. '2015-2022', '2021,2022' or '2021'")
    for item in items:
        m = _ITEM.match(item)
        if m is None:
            raise EvaluationWindowError(
                f"cannot read evaluation years {spec!r} (at {item.strip()!r}); "
                "use e.g. '2015-2022', '2021,2022' or '2021'")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        if hi < lo:
            raise EvaluationWindowError(f"evaluation years {item.strip()!r} run backwards; write '{hi}-{lo}'")
        years.update(range(lo, hi + 1))
    return sorted(years)


def yearly_folds(dates: np.ndarray, years: Sequence[int], *, min_train: int = 104) -> list[Fold]:
    """One expanding-window fold per test year.

    Parameters
    ----------
    dates : ndarray datetime64[D], shape (T,)
        Sorted decision dates of the panel.
    years : sequence of int
        Test years (any order; duplicates collapse).
    min_train : int, default 104
        Fewest training periods (``train_stop - train_start``) a fold may have.

    Returns
    -------
    list of Fold, sorted by year
        Labelled ``str(year)``; indices into ``dates`` (see the module docstring).

    Raises
    ------
    EvaluationWindowError
        If no year is given, a year has no return inside the data, or the data before
        a year holds fewer than ``min_train`` periods. The message names the requested
        years and the data's date range.
    """
    dates = np.asarray(dates).astype("datetime64[D]")
    wanted = sorted(set(int(y) for y in years))
    if min_train < 1:
        raise EvaluationWindowError(f"min_train must be >= 1 period, got {min_train}")
    span = f"{dates[0]}..{dates[-1]}" if len(dates) else "no dates"
    asked = _describe(wanted)
    if not wanted:
        raise EvaluationWindowError(f"no evaluation years requested; the data covers {span}")
    if len(dates) < 2:
        raise EvaluationWindowError(f"evaluation years {asked} need at least 2 dates; the data covers {span}")

    folds: list[Fold] = []
    for year in wanted:
        split = year_split(dates, year, test_by="return_year")
        if len(split.test_rows) == 0:
            raise EvaluationWindowError(
                f"evaluation year {year} (of {asked}) is outside the data, which covers {span}; "
                f"choose years whose weekly returns lie inside that range")
        train_stop = len(split.train_rows)  # rows 0 .. test_start - 1: dates are sorted
        test_start, test_stop = int(split.test_rows[0]), int(split.test_rows[-1]) + 1
        if train_stop < min_train:
            raise EvaluationWindowError(
                f"evaluation year {year} (of {asked}) leaves only {train_stop} training weeks before it "
                f"(at least {min_train} needed); the data covers {span}; choose later years or "
                f"provide earlier data")
        folds.append(Fold(label=str(year), train_start=0, train_stop=train_stop,
                          test_start=test_start, test_stop=test_stop))
    return folds


def _describe(years: list[int]) -> str:
    if not years:
        return "none"
    if years == list(range(years[0], years[-1] + 1)) and len(years) > 1:
        return f"{years[0]}-{years[-1]}"
    return ",".join(map(str, years))
