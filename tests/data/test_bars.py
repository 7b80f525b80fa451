"""Bar files: round trips, the grid of times, and bad input naming file, row and column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sacfolio.broker.instruments import load_instruments
from sacfolio.broker.quotes import bar_quotes, carry_forward
from sacfolio.data.bars import load_bars, write_bars
from sacfolio.exceptions import DataError

GOOD = """time,symbol,open,high,low,close,bid,ask,volume
2024-01-02T14:35:00Z,AAPL,100.0,101.0,99.5,100.5,100.49,100.51,1000
2024-01-02T14:35:00Z,MSFT,300.0,301.0,299.0,300.5,300.48,300.52,500
2024-01-02T09:40:00-05:00,AAPL,100.5,100.9,100.1,100.2,100.19,100.21,800
2024-01-02T14:45:00Z,MSFT,300.5,302.0,300.1,301.0,300.98,301.02,400
"""


def _write(tmp_path: Path, text: str, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_long_file_becomes_a_grid_of_utc_times(tmp_path: Path) -> None:
    bars = load_bars(_write(tmp_path, GOOD))
    assert bars.symbols == ("AAPL", "MSFT")
    assert [str(t) for t in bars.times.astype("datetime64[m]")] == [
        "2024-01-02T14:35", "2024-01-02T14:40", "2024-01-02T14:45"]  # 09:40-05:00 is 14:40 UTC
    assert bars.close[1, 0] == 100.2 and np.isnan(bars.close[1, 1]) and bars.bid[2, 1] == 300.98
    np.testing.assert_array_equal(bars.available, [[True, True], [True, False], [False, True]])


def test_csv_and_parquet_round_trip_and_feed_the_broker(tmp_path: Path) -> None:
    bars = load_bars(_write(tmp_path, GOOD))
    for name in ("copy.csv", "copy.parquet"):
        again = load_bars(write_bars(bars, tmp_path / name))
        np.testing.assert_array_equal(again.times, bars.times)
        for field in ("open", "high", "low", "close", "bid", "ask", "volume"):
            np.testing.assert_allclose(getattr(again, field), getattr(bars, field))
    quotes = bar_quotes(bars, load_instruments())
    assert quotes.bid[0, 0] == 100.49 and quotes.ask[2, 1] == 301.02
    carried, tradable = carry_forward(quotes)
    np.testing.assert_array_equal(tradable, bars.available)
    assert carried.bid[1, 1] == 300.48 and carried.bid[2, 0] == 100.19  # the last known quote


def test_a_file_without_symbols_is_one_instrument_named_after_it(tmp_path: Path) -> None:
    text = "time,open,high,low,close\n2024-01-02 14:35,1.1,1.2,1.0,1.15\n2024-01-02 14:40,1.15,1.16,1.1,1.12\n"
    bars = load_bars(_write(tmp_path, text, "EUR_USD.csv"))
    assert bars.symbols == ("EUR_USD",) and bars.bid is None
    quotes = bar_quotes(bars, load_instruments())  # typical spread of the hour around the close
    assert quotes.ask[0, 0] - quotes.bid[0, 0] == pytest.approx(1.0e-4)


@pytest.mark.parametrize("line, column, words", [
    ("2024-01-02T14:50:00Z,AAPL,100,99,100.5,100", "high", "high 99.0 is below low 100.5"),
    ("2024-01-02T14:50:00Z,AAPL,102,101,99,100", "open", "open 102.0 is outside"),
    ("2024-01-02T14:50:00Z,AAPL,100,101,99,98", "close", "close 98.0 is outside"),
    ("2024-01-02T14:50:00Z,AAPL,100,101,99,100,100.2,100.1,5", "bid", "bid 100.2 is above ask 100.1"),
    ("2024-01-02T14:35:00Z,AAPL,100,101,99,100,99.9,100.1,5", "time", "appears twice"),
    ("2024-01-02T14:30:00Z,AAPL,100,101,99,100,99.9,100.1,5", "time", "out of order"),
    ("yesterday,AAPL,100,101,99,100,99.9,100.1,5", "time", "cannot read 'yesterday'"),
    ("2024-01-02T14:50:00Z,AAPL,100,101,-99,100,99.9,100.1,5", "low", "zero or negative"),
    ("2024-01-02T14:50:00Z,AAPL,100,1O1,99,100,99.9,100.1,5", "high", "not a number"),
    ("2024-01-02T14:50:00Z,,100,101,99,100,99.9,100.1,5", "symbol", "symbol is empty"),
])
def test_bad_bars_name_the_file_the_row_and_the_column(tmp_path: Path, line: str, column: str, words: str) -> None:
    path = _write(tmp_path, GOOD + line + "\n")
    with pytest.raises(DataError) as err:
        load_bars(path)
    text = str(err.value)
    assert str(path) in text and f"column {column!r}" in text and "row 6" in text and words in text


@pytest.mark.parametrize("header, words", [
    ("time,symbol,open,high,close", "'low' is missing"),
    ("time,symbol,open,high,low,close,bid", "'ask' is missing"),
    ("time,symbol,open,high,low,close,spread", "unknown column 'spread'"),
])
def test_bad_headers_are_named(tmp_path: Path, header: str, words: str) -> None:
    with pytest.raises(DataError, match=words):
        load_bars(_write(tmp_path, header + "\n"))


def test_a_failed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    bars = load_bars(_write(tmp_path, GOOD))

    def boom(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(OSError):
        write_bars(bars, tmp_path / "out.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bars.csv"]
