"""Loaders: the embedded sample, CSV/Parquet round trips, yfinance (faked), and bad input."""

import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sacfolio.data import describe, drift_market, load_prices, load_sp500_sample, load_yfinance
from sacfolio.exceptions import ConfigError, DataError, DataWarning


def _write(tmp_path: Path, text: str, name: str = "prices.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------ embedded sample
@pytest.mark.filterwarnings("error::sacfolio.exceptions.DataWarning")
def test_embedded_sample_is_20_stocks_of_gapless_friday_closes() -> None:
    panel = load_sp500_sample()
    assert panel.n_symbols == 20 and "AAPL" in panel.symbols
    assert panel.source == "embedded:sp500"
    assert panel.dates[0] == np.datetime64("1990-01-05")
    assert panel.dates[-1] == np.datetime64("2022-12-30")
    assert set(pd.DatetimeIndex(panel.dates).day_name()) == {"Friday"}
    assert (np.diff(panel.dates).astype(int) == 7).all()
    assert panel.available.all()


def test_embedded_sample_week_holds_that_weeks_last_daily_close() -> None:
    from skfolio.datasets import load_sp500_dataset

    daily = load_sp500_dataset()
    panel = load_sp500_sample(start="2020-03-01", end="2020-03-31")
    i = list(panel.dates.astype(str)).index("2020-03-13")
    expected = daily.loc["2020-03-09":"2020-03-13"].iloc[-1]
    np.testing.assert_allclose(panel.close[i], expected[list(panel.symbols)].to_numpy())
    assert panel.dates[0] == np.datetime64("2020-03-06") and panel.dates[-1] == np.datetime64("2020-03-27")


# ------------------------------------------------------------------ round trips
def test_wide_csv_round_trip(tmp_path: Path) -> None:
    panel = drift_market(n_weeks=30, seed=1)
    path = tmp_path / "wide.csv"
    panel.to_frame().to_csv(path)
    loaded = load_prices(path)
    assert loaded.symbols == panel.symbols and loaded.source == str(path)
    np.testing.assert_array_equal(loaded.dates, panel.dates)
    np.testing.assert_allclose(loaded.close, panel.close, rtol=1e-12)


def test_wide_parquet_round_trip_with_date_index(tmp_path: Path) -> None:
    panel = drift_market(n_weeks=30, seed=2)
    path = tmp_path / "wide.parquet"
    panel.to_frame().to_parquet(path)
    loaded = load_prices(path, frequency=None)
    np.testing.assert_array_equal(loaded.dates, panel.dates)
    np.testing.assert_array_equal(loaded.close, panel.close)


def test_long_csv_round_trip_with_ohlcv_extras(tmp_path: Path) -> None:
    panel = drift_market(n_weeks=6, seed=4)
    long = panel.to_frame().stack().rename("Close").reset_index()
    long.columns = ["Date", "Symbol", "Close"]
    long["Open"], long["High"], long["Low"] = long.Close * 0.99, long.Close * 1.02, long.Close * 0.98
    long["Volume"] = np.arange(len(long)) * 10.0
    path = tmp_path / "long.csv"
    long.sort_values(["Symbol", "Date"]).to_csv(path, index=False)
    loaded = load_prices(path)
    assert loaded.symbols == ("DOWN", "FLAT", "UP")  # order of first appearance in the file
    np.testing.assert_allclose(loaded.to_frame()[list(panel.symbols)].to_numpy(), panel.close)
    assert set(loaded.extra) == {"open", "high", "low", "volume"}
    np.testing.assert_allclose(loaded.extra["high"], loaded.close * 1.02)
    assert describe(loaded)["fields"] == ["close", "open", "high", "low", "volume"]


def test_daily_long_file_resamples_to_weekly_ohlcv(tmp_path: Path) -> None:
    rows = ["date,symbol,open,high,low,close,volume"]
    days = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]
    for k, day in enumerate(days):
        for sym, scale in (("A", 1.0), ("B", 2.0)):
            c = scale * (10 + k)
            rows.append(f"{day},{sym},{c - 0.5},{c + 1 + k % 2},{c - 1 - k % 3},{c},{100 * (k + 1)}")
    path = _write(tmp_path, "\n".join(rows) + "\n")
    panel = load_prices(path)
    assert list(panel.dates.astype(str)) == ["2024-01-05", "2024-01-12"]
    np.testing.assert_allclose(panel.close[:, 0], [14.0, 15.0])  # last close of each week
    np.testing.assert_allclose(panel.extra["open"][:, 0], [9.5, 14.5])  # first open
    np.testing.assert_allclose(panel.extra["high"][:, 0], [15.0, 17.0])  # max high: k=3 13+2; k=5 15+2
    np.testing.assert_allclose(panel.extra["low"][:, 0], [9.0, 12.0])  # min low: k=0 10-1; k=5 15-3
    np.testing.assert_allclose(panel.extra["volume"][:, 1], [1500.0, 600.0])  # summed volume


def test_frequency_none_keeps_daily_rows_and_window_applies(tmp_path: Path) -> None:
    path = _write(tmp_path, "Date,A,B\n2024-01-02,1,2\n2024-01-03,1.5,2.5\n2024-01-04,2,3\n")
    panel = load_prices(path, frequency=None, start="2024-01-03")
    assert list(panel.dates.astype(str)) == ["2024-01-03", "2024-01-04"]
    np.testing.assert_allclose(panel.close, [[1.5, 2.5], [2.0, 3.0]])


def test_short_gap_is_filled_and_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, "date,A,B\n2024-01-05,1,2\n2024-01-12,,3\n2024-01-19,4,5\n")
    with pytest.warns(DataWarning, match=r"forward-filled 1 missing prices.*A 1 \(first 2024-01-12\)"):
        panel = load_prices(path)
    np.testing.assert_allclose(panel.close[:, 0], [1.0, 1.0, 4.0])
    assert panel.available.all()


def test_long_gap_is_marked_unavailable_and_reported(tmp_path: Path) -> None:
    lines = ["date,A,B"] + [f"2024-01-{d:02d},{'' if 8 <= d <= 22 else 1},{d}" for d in range(1, 30)]
    path = _write(tmp_path, "\n".join(lines) + "\n")
    with pytest.warns(DataWarning, match=r"forward-filled 2 missing prices.*marked 13 prices unavailable in gaps "
                                         r"longer than 2 rows, after their first 2"):
        panel = load_prices(path, frequency=None)
    assert panel.available[:, 1].all()
    assert int((~panel.available[:, 0]).sum()) == 13  # the 15-day gap less the 2 days filled before it was long
    assert describe(panel)["coverage"]["A"] == pytest.approx(16 / 29)


def test_describe_summarizes_a_panel() -> None:
    summary = describe(drift_market(n_weeks=4))
    assert summary == {
        "source": "synthetic:drift", "start": "2000-01-07", "end": "2000-01-28", "n_dates": 4,
        "n_symbols": 3, "symbols": ["UP", "DOWN", "FLAT"], "fields": ["close"],
        "coverage": {"UP": 1.0, "DOWN": 1.0, "FLAT": 1.0},
    }


# ------------------------------------------------------------------ yfinance
def test_yfinance_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yfinance", None)  # makes `import yfinance` raise ImportError
    with pytest.raises(DataError, match=r"pip install 'sacfolio\[yfinance\]'"):
        load_yfinance(["AAPL", "MSFT"], "2020-01-01", "2020-02-01")


def test_yfinance_frame_becomes_weekly_panel(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    days = pd.bdate_range("2024-01-01", "2024-01-12")

    def download(tickers: list[str], **kwargs: object) -> pd.DataFrame:
        calls.append((tickers, kwargs))
        fields = {"Close": 10.0, "High": 11.0, "Low": 9.0, "Open": 10.0, "Volume": 100.0}
        data = {(f, t): value + np.arange(len(days)) for f, value in fields.items() for t in tickers}
        return pd.DataFrame(data, index=days.rename("Date"))

    monkeypatch.setitem(sys.modules, "yfinance", types.SimpleNamespace(download=download))
    panel = load_yfinance(["aapl", "msft"], "2024-01-01", "2024-01-13")
    assert calls[0][0] == ["AAPL", "MSFT"] and calls[0][1]["auto_adjust"] is True
    assert panel.symbols == ("AAPL", "MSFT") and panel.source == "yfinance:AAPL,MSFT"
    assert list(panel.dates.astype(str)) == ["2024-01-05", "2024-01-12"]
    np.testing.assert_allclose(panel.close[:, 0], [14.0, 19.0])
    np.testing.assert_allclose(panel.extra["volume"][:, 0], [510.0, 535.0])


def test_yfinance_empty_download_is_a_data_error(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.SimpleNamespace(download=lambda tickers, **kw: pd.DataFrame())
    monkeypatch.setitem(sys.modules, "yfinance", fake)
    with pytest.raises(DataError, match="returned no prices"):
        load_yfinance(["AAPL", "MSFT"], "2020-01-01", "2020-02-01")


# ------------------------------------------------------------------ bad input
GOOD = "2024-01-05,10,20\n2024-01-12,11,21\n2024-01-19,12,22\n"

BAD_CSV = [
    # (id, file text, column, row (line in file), words that say what and how to fix)
    ("nan-text", "date,A,B\n2024-01-05,10,20\n2024-01-12,nan,21\n", "A", 3, "Leave the cell empty"),
    ("NA-text", "date,A,B\n2024-01-05,10,20\n2024-01-12,11,NA\n", "B", 3, "Leave the cell empty"),
    ("inf", "date,A,B\n2024-01-05,10,inf\n2024-01-12,11,21\n", "B", 2, "infinite"),
    ("zero", "date,A,B\n2024-01-05,10,20\n2024-01-12,0,21\n", "A", 3, "greater than 0"),
    ("negative", "date,A,B\n2024-01-05,10,20\n2024-01-12,11,-3\n", "B", 3, "greater than 0"),
    ("decimal-comma", 'date,A,B\n2024-01-05,10,20\n2024-01-12,"12,3",21\n', "A", 3, "dot as the decimal"),
    ("text", "date,A,B\n2024-01-05,abc,20\n2024-01-12,11,21\n", "A", 2, "'abc' is not a number"),
    ("duplicate-date", "date,A,B\n2024-01-05,10,20\n2024-01-12,11,21\n2024-01-12,11,21\n", "date", 4,
     "on rows 3 and 4"),
    ("unsorted", "date,A,B\n2024-01-12,10,20\n2024-01-05,11,21\n", "date", 3, "Sort the rows"),
    ("bad-date", "date,A,B\n2024-01-05,10,20\n2024-02-31,11,21\n", "date", 3, "YYYY-MM-DD"),
    ("empty-date", "date,A,B\n2024-01-05,10,20\n,11,21\n", "date", 3, "Fill in the date"),
    ("one-symbol", "date,A\n" + "2024-01-05,10\n2024-01-12,11\n", "A", 1, "at least 2 symbols"),
    ("no-date-column", "day,A,B\n" + GOOD, "date", 1, "Name the column"),
    ("unnamed-column", "date,A,\n" + GOOD, "#3", 1, "no name"),
    ("duplicate-column", "date,A,A\n" + GOOD, "A", 1, "unique name"),
    ("empty-symbol-column", "date,A,B\n2024-01-05,10,\n2024-01-12,11,\n", "B", 1, "no prices at all"),
    ("header-only", "date,A,B\n", "date", 1, "no rows of prices"),
    ("blank-lines-keep-line-numbers", "date,A,B\n\n2024-01-05,10,20\n\n2024-01-12,x,21\n", "A", 5,
     "not a number"),
    ("long-unknown-column", "date,symbol,close,adj_close\n2024-01-05,A,10,10\n", "adj_close", 1,
     "Remove or rename"),
    ("long-no-close", "date,symbol,open\n2024-01-05,A,10\n", "close", 1, "needs a 'close' column"),
    ("long-duplicate", "date,symbol,close\n2024-01-05,A,10\n2024-01-05,B,20\n2024-01-05,A,11\n", "date",
     4, "rows 2 and 4"),
    ("long-unsorted", "date,symbol,close\n2024-01-12,A,10\n2024-01-12,B,20\n2024-01-05,A,11\n", "date",
     4, "A are not sorted"),
    ("long-empty-symbol", "date,symbol,close\n2024-01-05,A,10\n2024-01-05,,20\n", "symbol", 3,
     "ticker symbol"),
    ("long-negative-volume", "date,symbol,close,volume\n2024-01-05,A,10,5\n2024-01-05,B,20,-1\n",
     "volume", 3, "volume of B on 2024-01-05"),
    ("long-zero-high", "date,symbol,close,high\n2024-01-05,A,10,0\n2024-01-05,B,20,21\n", "high", 2,
     "greater than 0"),
    ("long-one-symbol", "date,symbol,close\n2024-01-05,A,10\n2024-01-12,A,11\n", "symbol", 2,
     "at least 2 symbols"),
    ("ragged-line", "date,A,B\n2024-01-05,10,20\n2024-01-12,11,21,5\n", None, 3, "as many comma-separated fields"),
]


@pytest.mark.parametrize("text, column, row, fix", [c[1:] for c in BAD_CSV], ids=[c[0] for c in BAD_CSV])
def test_bad_csv_names_file_column_row_and_fix(
    tmp_path: Path, text: str, column: str | None, row: int, fix: str
) -> None:
    path = _write(tmp_path, text, name="my_prices.csv")
    with pytest.raises(DataError) as info:
        load_prices(path)
    message = str(info.value)
    assert "my_prices.csv" in message
    if column is not None:
        assert f"column {column!r}" in message and info.value.column == column
    assert f"row {row})" in message or f"row {row}," in message, message
    assert fix in message
    assert "\n" not in message


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"the file is empty \(file .*empty\.csv, row 1\)\. Write a header"):
        load_prices(_write(tmp_path, "", name="empty.csv"))


def test_unreadable_parquet(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"date,A,B\n2024-01-05,1,2\n")
    with pytest.raises(DataError, match=r"cannot be read as Parquet.*broken\.parquet.*renamed CSV"):
        load_prices(path)


def test_bad_parquet_cell_names_the_table_row(tmp_path: Path) -> None:
    frame = pd.DataFrame({"date": pd.date_range("2024-01-05", periods=3, freq="W-FRI"),
                          "A": [10.0, 11.0, -1.0], "B": [1.0, 2.0, 3.0]})
    path = tmp_path / "wide.pq"
    frame.to_parquet(path, index=False)
    with pytest.raises(DataError, match=r"price of A on 2024-01-19: -1\.0 is zero or negative "
                                        r"\(file .*wide\.pq, column 'A', row 3\)"):
        load_prices(path)


def test_parquet_inf_is_rejected(tmp_path: Path) -> None:
    frame = pd.DataFrame({"date": ["2024-01-05", "2024-01-12"], "A": [10.0, np.inf], "B": [1.0, 2.0]})
    frame.to_parquet(tmp_path / "p.parquet", index=False)
    with pytest.raises(DataError, match=r"infinite.*column 'A', row 2"):
        load_prices(tmp_path / "p.parquet")


def test_missing_file_and_unsupported_suffix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="price file not found.*nope.csv"):
        load_prices(tmp_path / "nope.csv")
    with pytest.raises(DataError, match=r"unsupported file type '\.xlsx'.*Save the prices as \.csv"):
        load_prices(_write(tmp_path, "x", name="prices.xlsx"))


def test_window_outside_the_data(tmp_path: Path) -> None:
    path = _write(tmp_path, "date,A,B\n" + GOOD)
    with pytest.raises(DataError, match="no dates between 2030-01-01 and the end; the data covers "
                                        "2024-01-05 to 2024-01-19"):
        load_prices(path, start="2030-01-01")


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"frequency": "fortnightly"}, "offset alias"),
        ({"max_ffill": -1}, "max_ffill"),
        ({"start": "2024-02-01", "end": "2024-01-01"}, "after end"),
        ({"end": "yesterday-ish"}, "not a date"),
    ],
)
def test_bad_options_are_config_errors(tmp_path: Path, kwargs: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_prices(_write(tmp_path, "date,A,B\n" + GOOD), **kwargs)


def test_us_style_dates_are_read_when_consistent(tmp_path: Path) -> None:
    path = _write(tmp_path, "date,A,B\n01/05/2024,10,20\n01/12/2024,11,21\n")
    panel = load_prices(path, frequency=None)
    assert list(panel.dates.astype(str)) == ["2024-01-05", "2024-01-12"]


# ------------------------------------------------------------------ impossible price steps
def _placeholder_price_file(tmp_path: Path) -> Path:
    frame = drift_market(n_weeks=260, seed=0).to_frame()
    frame.iloc[200, 0] = 1e308  # a placeholder: the return back from it is -100% in float64
    path = tmp_path / "huge.csv"
    frame.to_csv(path)
    return path


def test_a_placeholder_price_names_the_file_the_symbol_and_the_dates(tmp_path: Path) -> None:
    path = _placeholder_price_file(tmp_path)
    symbol = drift_market(n_weeks=260, seed=0).symbols[0]
    with pytest.raises(DataError) as info:
        load_prices(path)
    message = str(info.value)
    assert f"price of {symbol} on 2003-11-14" in message and "after 1e+308 on 2003-11-07" in message
    assert "-100%" in message and f"file {path}" in message and f"column '{symbol}'" in message
    assert "placeholder" in message


def test_a_placeholder_price_stops_the_cli_with_exit_2(tmp_path: Path) -> None:
    import os
    import subprocess

    path = _placeholder_price_file(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "sacfolio.cli", "evaluate", "--data", str(path),
                           "--out", str(tmp_path / "run"), "--no-progress"], cwd=tmp_path,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "160"},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "huge.csv" in proc.stderr
    assert "2003-11-14" in proc.stderr and "1e+308" in proc.stderr
    assert not (tmp_path / "run").exists()
