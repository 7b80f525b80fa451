"""Calendar-year splits: training rows never reach into the year; test rows by return or decision date."""

import numpy as np
import pytest

from sacfolio.data.splits import calendar_years, year_split, year_start, yearly_splits

DATES = np.arange(np.datetime64("2010-01-01"), np.datetime64("2013-12-31"), 7).astype("datetime64[D]")


def test_calendar_years_and_year_start() -> None:
    assert calendar_years(DATES[:1])[0] == 2010 and calendar_years(DATES[-1:])[0] == 2013
    assert year_start(2012) == np.datetime64("2012-01-01")


@pytest.mark.parametrize("year", [2011, 2012, 2013])
def test_expanding_split_by_return_year(year: int) -> None:
    split = year_split(DATES, year)
    assert split.year == year
    np.testing.assert_array_equal(split.train_rows, np.arange(split.test_rows[0]))  # expanding, touching
    assert (calendar_years(DATES[split.test_rows + 1]) == year).all()
    assert (DATES[split.train_rows + 1] < year_start(year)).all()
    assert np.array_equal(split.test_rows, np.arange(split.test_rows[0], split.test_rows[-1] + 1))


def test_split_by_decision_year_with_a_training_window() -> None:
    split = year_split(DATES, 2013, test_by="decision_year", train_years=2)
    assert (calendar_years(DATES[split.test_rows]) == 2013).all()
    assert len(split.test_rows) == int((calendar_years(DATES) == 2013).sum())
    assert (DATES[split.train_rows] >= year_start(2011)).all()
    assert (DATES[split.train_rows + 1] < year_start(2013)).all()
    # The last decision of 2012 is neither trained on (its return lands in 2013) nor tested.
    assert split.train_rows[-1] + 1 == split.test_rows[0] - 1


def test_consecutive_return_years_touch_and_outside_years_are_empty() -> None:
    splits = yearly_splits(DATES, [2011, 2012])
    assert splits[0].test_rows[-1] + 1 == splits[1].test_rows[0]
    assert len(year_split(DATES, 2030).test_rows) == 0 and len(year_split(DATES[:1], 2010).train_rows) == 0


def test_unknown_test_by_is_refused() -> None:
    with pytest.raises(ValueError, match="test_by"):
        year_split(DATES, 2012, test_by="week")
