"""MarketPanel: validation, returns and the forward-fill limit of from_close_frame."""

import numpy as np
import pandas as pd
import pytest

from sacfolio.data import MarketPanel
from sacfolio.exceptions import DataError

NAN = np.nan


def _frame(values: dict[str, list[float]]) -> pd.DataFrame:
    n = len(next(iter(values.values())))
    return pd.DataFrame(values, index=pd.date_range("2020-01-03", periods=n, freq="W-FRI"))


def test_simple_returns_by_hand() -> None:
    panel = MarketPanel(
        dates=pd.date_range("2020-01-03", periods=4, freq="W-FRI"),
        symbols=("A", "B"),
        close=[[100.0, 10.0], [110.0, NAN], [99.0, 12.0], [99.0, 15.0]],
        available=[[True, True], [True, False], [True, True], [True, True]],
    )
    expected = [[0.0, 0.0], [0.10, 0.0], [-0.10, 0.0], [0.0, 0.25]]
    np.testing.assert_allclose(panel.simple_returns(), expected, atol=1e-12)


def test_short_gap_is_forward_filled() -> None:
    panel = MarketPanel.from_close_frame(_frame({"A": [1.0, NAN, NAN, 4.0], "B": [1.0, 2.0, 3.0, 4.0]}),
                                         max_ffill=2)
    assert panel.available.all()
    np.testing.assert_array_equal(panel.close[:, 0], [1.0, 1.0, 1.0, 4.0])


def test_gap_longer_than_limit_is_filled_up_to_the_limit_then_unavailable() -> None:
    # At row 1 and 2 nobody knows the gap will last three rows: a feed shows the last price.
    frame = _frame({"A": [1.0, NAN, NAN, NAN, 5.0], "B": [1.0, 2.0, 3.0, 4.0, 5.0]})
    panel = MarketPanel.from_close_frame(frame, max_ffill=2)
    np.testing.assert_array_equal(panel.available[:, 0], [True, True, True, False, True])
    np.testing.assert_array_equal(panel.close[:3, 0], [1.0, 1.0, 1.0])
    assert np.isnan(panel.close[3, 0])
    assert panel.simple_returns()[4, 0] == 0.0


def test_before_first_price_is_unavailable_and_after_the_last_is_filled_up_to_the_limit() -> None:
    panel = MarketPanel.from_close_frame(_frame({"A": [NAN, 2.0, 3.0, NAN, NAN, NAN], "B": [1.0] * 6}), max_ffill=2)
    np.testing.assert_array_equal(panel.available[:, 0], [False, True, True, True, True, False])


def test_a_row_of_the_panel_depends_only_on_prices_up_to_it() -> None:
    rng = np.random.default_rng(3)
    close = np.exp(rng.normal(0.0, 0.05, size=(40, 3)).cumsum(axis=0))
    close[rng.random(close.shape) < 0.3] = NAN  # gaps of every length, ends included
    frame = pd.DataFrame(close, index=pd.date_range("2020-01-03", periods=40, freq="W-FRI"), columns=list("ABC"))
    full = MarketPanel.from_close_frame(frame, max_ffill=2)
    for t in range(5, 40):
        cut = MarketPanel.from_close_frame(frame.iloc[: t + 1], max_ffill=2)
        np.testing.assert_array_equal(cut.available, full.available[: t + 1])
        np.testing.assert_array_equal(cut.close, full.close[: t + 1])


def test_zero_limit_fills_nothing() -> None:
    panel = MarketPanel.from_close_frame(_frame({"A": [1.0, NAN, 3.0], "B": [1.0, 2.0, 3.0]}),
                                         max_ffill=0)
    np.testing.assert_array_equal(panel.available[:, 0], [True, False, True])


def test_arrays_are_read_only() -> None:
    panel = MarketPanel.from_close_frame(_frame({"A": [1.0, 2.0], "B": [1.0, 2.0]}))
    with pytest.raises(ValueError):
        panel.close[0, 0] = 5.0


@pytest.mark.parametrize(
    "dates, close, needle",
    [
        (["2020-01-03", "2020-01-03"], [[1.0, 1.0], [1.0, 1.0]], "duplicate date"),
        (["2020-01-10", "2020-01-03"], [[1.0, 1.0], [1.0, 1.0]], "not sorted"),
        (["2020-01-03", "2020-01-10"], [[1.0, 0.0], [1.0, 1.0]], "finite positive"),
        (["2020-01-03", "2020-01-10"], [[1.0, np.inf], [1.0, 1.0]], "finite positive"),
    ],
)
def test_construction_rejects_bad_prices_and_dates(dates: list[str], close: list, needle: str) -> None:
    with pytest.raises(DataError, match=needle):
        MarketPanel(dates=np.array(dates, dtype="datetime64[D]"), symbols=("A", "B"),
                    close=close, available=np.ones((2, 2), dtype=bool))


def test_fewer_than_two_symbols_is_an_error() -> None:
    with pytest.raises(DataError, match="at least 2 symbols"):
        MarketPanel.from_close_frame(_frame({"A": [1.0, 2.0]}))


def test_between_and_index_of_are_point_in_time() -> None:
    panel = MarketPanel.from_close_frame(_frame({"A": [1.0, 2.0, 3.0, 4.0], "B": [1.0, 2.0, 3.0, 4.0]}))
    assert panel.index_of("2020-01-12") == 1  # Sunday after the second Friday
    window = panel.between("2020-01-10", "2020-01-17")
    assert list(window.dates.astype(str)) == ["2020-01-10", "2020-01-17"]
    with pytest.raises(DataError, match="before the first date"):
        panel.index_of("2019-12-31")
