"""Yearly expanding-window folds and the --eval-years parser."""

from __future__ import annotations

import numpy as np
import pytest

from sacfolio.evaluate.folds import parse_years, yearly_folds
from sacfolio.exceptions import EvaluationWindowError

# every Friday from 2010-01-01 to 2016-12-30
DATES = np.arange(np.datetime64("2010-01-01"), np.datetime64("2016-12-31"), 7)


def _year(d: np.datetime64) -> int:
    return int(d.astype("datetime64[Y]").astype(int)) + 1970


def test_test_returns_land_in_their_year() -> None:
    folds = yearly_folds(DATES, [2014, 2015, 2016])
    assert [f.label for f in folds] == ["2014", "2015", "2016"]
    for f in folds:
        year = int(f.label)
        assert all(_year(DATES[t + 1]) == year for t in range(f.test_start, f.test_stop))
        assert _year(DATES[f.test_start]) == year - 1  # first decision: last close of the year before
        assert f.test_stop == len(DATES) - 1 or _year(DATES[f.test_stop + 1]) == year + 1


def test_no_overlap_between_train_and_test_returns() -> None:
    for f in yearly_folds(DATES, [2013, 2014, 2015, 2016]):
        train_periods = set(range(f.train_start, f.train_stop))  # period t ends at row t + 1
        test_periods = set(range(f.test_start, f.test_stop))
        assert not train_periods & test_periods
        assert f.train_start == 0 and f.train_stop == f.test_start
        assert max(train_periods) + 1 == f.test_start  # last training return ends at first decision


def test_folds_are_consecutive_and_order_free() -> None:
    folds = yearly_folds(DATES, [2016, 2014, 2015, 2015])
    assert [f.label for f in folds] == ["2014", "2015", "2016"]
    for a, b in zip(folds, folds[1:]):
        assert a.test_stop == b.test_start
    assert folds[-1].test_stop == len(DATES) - 1


def test_year_outside_data_names_years_and_range() -> None:
    with pytest.raises(EvaluationWindowError) as err:
        yearly_folds(DATES, [2016, 2017])
    msg = str(err.value)
    assert "2017" in msg and "2016-2017" in msg and "2010-01-01..2016-12-30" in msg


def test_too_little_training_data() -> None:
    with pytest.raises(EvaluationWindowError, match="training weeks"):
        yearly_folds(DATES, [2011])  # 52 weeks of 2010 before it, 104 needed
    assert yearly_folds(DATES, [2011], min_train=52)[0].train_stop == 52
    with pytest.raises(EvaluationWindowError, match="outside the data"):
        yearly_folds(DATES, [2005])


def test_no_years() -> None:
    with pytest.raises(EvaluationWindowError, match="no evaluation years"):
        yearly_folds(DATES, [])


@pytest.mark.parametrize("spec, years", [
    ("2015-2022", list(range(2015, 2023))),
    ("2021,2022", [2021, 2022]),
    ("2021", [2021]),
    (" 2022 , 2015-2016 ", [2015, 2016, 2022]),
])
def test_parse_years(spec: str, years: list[int]) -> None:
    assert parse_years(spec) == years


@pytest.mark.parametrize("spec", ["", "21", "2015-", "2022-2015", "2015..2016", "abc"])
def test_parse_years_rejects(spec: str) -> None:
    with pytest.raises(EvaluationWindowError):
        parse_years(spec)
