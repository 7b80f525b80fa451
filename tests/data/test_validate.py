"""Validation of finished panels: every step between two prices has a representable return."""

import numpy as np
import pytest

from sacfolio.data import MarketPanel
from sacfolio.data.validate import check_price_steps
from sacfolio.exceptions import DataError


def _panel(column_a: list[float]) -> MarketPanel:
    close = np.array([column_a, [10.0, 11.0, 12.0, 13.0]]).T
    dates = np.array(["2024-01-05", "2024-01-12", "2024-01-19", "2024-01-26"], dtype="datetime64[D]")
    return MarketPanel(dates=dates, symbols=("A", "B"), close=close, available=np.isfinite(close),
                       source="prices.csv")


def test_ordinary_steps_and_gaps_pass() -> None:
    check_price_steps(_panel([1.0, 2.0, np.nan, 0.5]))


def test_a_fall_to_zero_in_float64_names_symbol_dates_and_file() -> None:
    with pytest.raises(DataError, match=r"price of A on 2024-01-19: 3\.0 after 1e\+308 on 2024-01-12 "
                                        r"is a return of -100%.*file prices\.csv, column 'A'"):
        check_price_steps(_panel([1.0, 1e308, 3.0, 4.0]))


def test_an_overflowing_rise_is_too_large_to_compute() -> None:
    with pytest.raises(DataError, match=r"price of A on 2024-01-12: 1e\+300 after 1e-300 on 2024-01-05 "
                                        "is a return too large to compute"):
        check_price_steps(_panel([1e-300, 1e300, 1e300, 1e300]))
