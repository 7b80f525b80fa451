"""Loaders that turn price files, the embedded S&P 500 sample and yfinance into a MarketPanel.

Every loader ends in the same steps: optional resampling to weekly closes, forward-fill
of short gaps (:meth:`MarketPanel.from_close_frame`), a :class:`DataWarning` that says
how many prices were filled or marked unavailable, and an optional date window.

File formats
------------
``.csv``, ``.parquet`` and ``.pq`` files in one of two layouts, detected from the header:

* **wide**: a ``date`` column (or, in Parquet, a date index) and one column of close
  prices per symbol;
* **long**: one row per date and symbol with columns ``date, symbol, close`` and
  optionally ``open, high, low, volume`` (column names are case-insensitive).

Missing prices are empty cells (CSV) or nulls (Parquet). Text such as ``nan``, ``NA``
or ``inf``, non-numeric cells, zero or negative prices, duplicate or unsorted dates,
unparseable dates and unknown long-form columns are errors. Every :class:`DataError`
names the file, the column and the row; for CSV the row is the line number in the file
(the header is line 1), for Parquet it is the 1-based row of the table.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import numpy as np
import pandas as pd

from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import ConfigError, DataError, DataWarning

__all__ = [
    "DataSummary",
    "describe",
    "load_prices",
    "load_sp500_sample",
    "load_yfinance",
]

_MISSING_TOKENS = frozenset({"nan", "-nan", "+nan", "na", "n/a", "#n/a", "null", "none", "nat"})
_LONG_COLUMNS = ("date", "symbol", "open", "high", "low", "close", "volume")
_EXTRA_FIELDS = ("open", "high", "low", "volume")
_RESAMPLE_HOW = {"open": "first", "high": "max", "low": "min", "close": "last"}
_CSV_SUFFIXES = (".csv",)
_PARQUET_SUFFIXES = (".parquet", ".pq")
_DATE_FIX = "Write dates as YYYY-MM-DD (ISO 8601)."


# --------------------------------------------------------------------------- public API
def load_sp500_sample(*, start: str | None = None, end: str | None = None) -> MarketPanel:
    """Weekly (Friday) closes of the 20 S&P 500 stocks shipped inside skfolio, 1990-2022.

    Parameters
    ----------
    start, end : str, optional
        Inclusive ISO date window; default the whole sample.

    Returns
    -------
    MarketPanel
        Close prices resampled to ``W-FRI`` (each week's last close, labelled with the
        week's Friday), ``source="embedded:sp500"``. No download is needed.
    """
    from skfolio.datasets import load_sp500_dataset

    prices = load_sp500_dataset()
    close = prices.astype(np.float64)
    close.index = pd.DatetimeIndex(close.index).normalize()
    return _panel_from_frames(close, {}, source="embedded:sp500", frequency="W-FRI",
                              max_ffill=2, start=start, end=end)


def load_prices(
    path: str | Path,
    *,
    start: str | None = None,
    end: str | None = None,
    frequency: str | None = "W-FRI",
    max_ffill: int = 2,
) -> MarketPanel:
    """Load prices from a CSV or Parquet file in wide or long form (see the module docstring).

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.parquet`` or ``.pq`` file.
    start, end : str, optional
        Inclusive ISO date window applied after loading; default all dates.
    frequency : str or None
        Pandas offset alias to resample to, default ``"W-FRI"`` (weekly closes labelled
        with the week's Friday: close = last, open = first, high = max, low = min,
        volume = sum). ``None`` keeps the rows as they are in the file.
    max_ffill : int
        Missing prices inside a symbol's history are forward-filled for at most this
        many consecutive rows (after resampling); the rest of a longer gap is marked
        unavailable. Filled and unavailable counts are reported as a :class:`DataWarning`.

    Returns
    -------
    MarketPanel
        ``source`` is the path; ``extra`` holds open/high/low/volume from long-form files.

    Raises
    ------
    DataError
        When the file is missing, empty, unreadable or fails validation; the message
        names the file, the column and the row and says how to fix it.
    ConfigError
        When ``frequency``, ``max_ffill``, ``start`` or ``end`` is invalid.
    """
    path = Path(path)
    _check_options(frequency=frequency, max_ffill=max_ffill, start=start, end=end)
    if not path.is_file():
        raise DataError("price file not found", path=str(path),
                        fix="Check the path; it must be an existing .csv, .parquet or .pq file.")
    suffix = path.suffix.lower()
    if suffix in _CSV_SUFFIXES:
        table = _read_csv(path)
    elif suffix in _PARQUET_SUFFIXES:
        table = _read_parquet(path)
    else:
        raise DataError(f"unsupported file type {path.suffix or '(none)'!r}", path=str(path),
                        fix="Save the prices as .csv or .parquet.")
    close, extra = _table_to_frames(table)
    return _panel_from_frames(close, extra, source=str(path), frequency=frequency,
                              max_ffill=max_ffill, start=start, end=end,
                              header_row=table.header_row)


def load_yfinance(
    symbols: Sequence[str],
    start: str,
    end: str,
    *,
    frequency: str | None = "W-FRI",
    max_ffill: int = 2,
) -> MarketPanel:
    """Download daily adjusted prices with yfinance (optional extra) and build a panel.

    Parameters
    ----------
    symbols : sequence of str
        At least 2 ticker symbols, e.g. ``["AAPL", "MSFT"]``.
    start, end : str
        ISO dates; as in yfinance, ``end`` is exclusive.
    frequency, max_ffill
        As in :func:`load_prices`.

    Returns
    -------
    MarketPanel
        Adjusted closes, with open/high/low/volume in ``extra``; ``source`` is
        ``"yfinance:SYM1,SYM2,..."``.

    Raises
    ------
    DataError
        When yfinance is not installed, returns nothing, or lacks a requested symbol.
    """
    _check_options(frequency=frequency, max_ffill=max_ffill, start=start, end=end)
    tickers = [str(s).strip().upper() for s in symbols]
    source = "yfinance:" + ",".join(tickers)
    if len(set(tickers)) < 2:
        raise DataError(f"a portfolio needs at least 2 distinct symbols, got {tickers}", path=source,
                        fix="Pass two or more ticker symbols.")
    try:
        import yfinance
    except ImportError as exc:
        raise DataError("yfinance is not installed", path=source,
                        fix="Install the optional extra with pip install 'sacfolio[yfinance]', "
                            "or load a CSV/Parquet file with --data instead.") from exc
    raw = yfinance.download(tickers, start=start, end=end, auto_adjust=True, actions=False,
                            progress=False, group_by="column", multi_level_index=True)
    if raw is None or raw.empty:
        raise DataError(f"yfinance returned no prices between {start} and {end}", path=source,
                        fix="Check the symbols, the dates and the network connection.")
    frames: dict[str, pd.DataFrame] = {}
    for field in ("close", *_EXTRA_FIELDS):
        label = field.capitalize()
        if label in raw.columns.get_level_values(0):
            frames[field] = raw[label].reindex(columns=tickers).astype(np.float64)
    if "close" not in frames:
        raise DataError("yfinance returned no 'Close' prices", path=source, column="Close",
                        fix="Upgrade yfinance or load a CSV/Parquet file instead.")
    index = pd.DatetimeIndex(raw.index)
    if index.tz is not None:
        index = index.tz_localize(None)
    index = index.normalize()
    for frame in frames.values():
        frame.index = index
    close = frames.pop("close").sort_index()
    return _panel_from_frames(close, {k: v.sort_index() for k, v in frames.items()}, source=source,
                              frequency=frequency, max_ffill=max_ffill, start=start, end=end)


class DataSummary(TypedDict):
    """What :func:`describe` returns: a JSON-ready overview of a panel."""

    source: str
    start: str | None
    end: str | None
    n_dates: int
    n_symbols: int
    symbols: list[str]
    fields: list[str]
    coverage: dict[str, float]


def describe(panel: MarketPanel) -> DataSummary:
    """Summarize a panel for the CLI and the API.

    Parameters
    ----------
    panel : MarketPanel

    Returns
    -------
    DataSummary
        Source, first and last date (ISO, ``None`` when empty), number of dates and
        symbols, the symbols, the fields present (``close`` first) and, per symbol, the
        fraction of dates on which it is available (0.0 to 1.0).
    """
    n = panel.n_dates
    coverage = panel.available.mean(axis=0) if n else np.zeros(panel.n_symbols)
    return DataSummary(
        source=panel.source,
        start=str(panel.dates[0]) if n else None,
        end=str(panel.dates[-1]) if n else None,
        n_dates=n,
        n_symbols=panel.n_symbols,
        symbols=list(panel.symbols),
        fields=["close", *(f for f in _EXTRA_FIELDS if f in panel.extra)],
        coverage={s: float(c) for s, c in zip(panel.symbols, coverage)},
    )


# --------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class _Table:
    """Cells of a file with the row label of each (CSV line number or 1-based Parquet row)."""

    frame: pd.DataFrame
    rows: np.ndarray
    path: str
    header_row: int | None


def _read_csv(path: Path) -> _Table:
    where = str(path)
    try:
        raw = pd.read_csv(path, header=None, dtype=str, keep_default_na=False,
                          skip_blank_lines=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError as exc:
        raise DataError("the file is empty", path=where, row=1,
                        fix="Write a header line (date and one column per symbol, or "
                            "date,symbol,close) followed by one line of prices per date.") from exc
    except pd.errors.ParserError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise DataError(f"the CSV cannot be parsed: {' '.join(str(exc).split())}", path=where,
                        row=int(match.group(1)) if match else None,
                        fix="Give every line as many comma-separated fields as the header; "
                            "quote cells that contain commas.") from exc
    except UnicodeDecodeError as exc:
        raise DataError("the file is not UTF-8 text", path=where,
                        fix="Save the CSV with UTF-8 encoding.") from exc
    raw = raw.fillna("").apply(lambda col: col.str.strip())
    header = list(raw.iloc[0])
    body = raw.iloc[1:].reset_index(drop=True)
    lines = np.arange(2, len(raw) + 1)
    blank = (body == "").all(axis=1).to_numpy()
    _check_header(header, where, header_row=1)
    body = body.loc[~blank].reset_index(drop=True)
    body.columns = header
    return _Table(frame=body, rows=lines[~blank], path=where, header_row=1)


def _read_parquet(path: Path) -> _Table:
    import pyarrow

    where = str(path)
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError, pyarrow.ArrowException) as exc:
        raise DataError(f"the file cannot be read as Parquet ({exc})", path=where,
                        fix="Check that it is a Parquet file and not a renamed CSV; re-export it, "
                            "e.g. with pandas.DataFrame.to_parquet.") from exc
    if not isinstance(frame.index, pd.RangeIndex):
        if isinstance(frame.index, pd.DatetimeIndex) and frame.index.name in (None, "index"):
            frame.index.name = "date"
        frame = frame.reset_index()
    header = [str(c).strip() for c in frame.columns]
    _check_header(header, where, header_row=None)
    frame.columns = header
    return _Table(frame=frame.reset_index(drop=True), rows=np.arange(1, len(frame) + 1),
                  path=where, header_row=None)


def _check_header(header: list[str], where: str, *, header_row: int | None) -> None:
    for i, name in enumerate(header):
        if not name:
            raise DataError(f"column {i + 1} has no name in the header", path=where,
                            column=f"#{i + 1}", row=header_row,
                            fix="Write a symbol (wide form) or a field name (long form) there, "
                                "or delete the column.")
    seen: dict[str, str] = {}
    for name in header:
        key = name.lower()
        if key in seen:
            raise DataError(f"column name {name!r} appears twice (also as {seen[key]!r})",
                            path=where, column=name, row=header_row,
                            fix="Give every column a unique name.")
        seen[key] = name


# --------------------------------------------------------------------------- parsing
def _table_to_frames(table: _Table) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Validated close frame (DatetimeIndex x symbols) and extra-field frames of a table."""
    columns = {c.lower(): c for c in table.frame.columns}
    if "date" not in columns:
        raise DataError(f"there is no date column; the columns are {list(table.frame.columns)}",
                        path=table.path, column="date", row=table.header_row,
                        fix="Name the column holding the dates 'date' (dates as YYYY-MM-DD).")
    if len(table.frame) == 0:
        raise DataError("the file has a header but no rows of prices", path=table.path,
                        column=columns["date"], row=table.header_row,
                        fix="Add one row of prices per date.")
    if "symbol" in columns:
        return _long_frames(table, columns)
    return _wide_frames(table, columns["date"]), {}


def _wide_frames(table: _Table, date_col: str) -> pd.DataFrame:
    dates = _parse_dates(table, date_col)
    _check_date_order(dates, table, date_col)
    symbols = [c for c in table.frame.columns if c != date_col]
    if len(symbols) < 2:
        raise DataError(f"a portfolio needs at least 2 symbols, the file has {len(symbols)} "
                        f"({', '.join(symbols) or 'none'})", path=table.path,
                        column=symbols[0] if symbols else date_col, row=table.header_row,
                        fix="Add one column of close prices per symbol (date,AAPL,MSFT,...), "
                            "or use long form (date,symbol,close).")
    values = {s: _parse_numbers(table, s, dates=dates, label=f"price of {s}") for s in symbols}
    return pd.DataFrame(values, index=pd.DatetimeIndex(dates, name="date"))


def _long_frames(table: _Table, columns: dict[str, str]) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    for name in table.frame.columns:
        if name.lower() not in _LONG_COLUMNS:
            raise DataError(f"unknown column {name!r} in a long-form file (one row per date and "
                            f"symbol; allowed columns: {', '.join(_LONG_COLUMNS)})", path=table.path,
                            column=name, row=table.header_row,
                            fix="Remove or rename that column.")
    if "close" not in columns:
        raise DataError("a long-form file needs a 'close' column", path=table.path, column="close",
                        row=table.header_row, fix="Add the close price of each date and symbol.")
    date_col, symbol_col = columns["date"], columns["symbol"]
    dates = _parse_dates(table, date_col)
    symbols = table.frame[symbol_col].fillna("").astype(str).str.strip().to_numpy()
    empty = np.flatnonzero(symbols == "")
    if empty.size:
        raise DataError("the symbol is empty", path=table.path, column=symbol_col,
                        row=int(table.rows[empty[0]]), fix="Write the ticker symbol in every row.")
    _check_long_keys(dates, symbols, table, date_col)
    order = list(pd.unique(symbols))
    if len(order) < 2:
        raise DataError(f"a portfolio needs at least 2 symbols, the file has {len(order)} "
                        f"({', '.join(order)})", path=table.path, column=symbol_col,
                        row=int(table.rows[0]), fix="Add rows for at least one more symbol.")
    frames: dict[str, pd.DataFrame] = {}
    for field in ("close", *_EXTRA_FIELDS):
        if field not in columns:
            continue
        values = _parse_numbers(table, columns[field], dates=dates, symbols=symbols,
                                label=field, allow_zero=field == "volume")
        long = pd.DataFrame({"date": dates, "symbol": symbols, "value": values})
        frames[field] = (long.pivot(index="date", columns="symbol", values="value")
                         .reindex(columns=order).sort_index())
        frames[field].columns.name = None
    close = frames.pop("close")
    return close, frames


def _parse_dates(table: _Table, column: str) -> pd.DatetimeIndex:
    """Dates of a column as midnight timestamps; empty or unparseable cells are errors."""
    series = table.frame[column]
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        parsed = pd.DatetimeIndex(series)
        text = series.astype(str).to_numpy()
        empty = parsed.isna()
    else:
        text = series.fillna("").astype(str).str.strip().to_numpy()
        empty = text == ""
        parsed = pd.DatetimeIndex(pd.to_datetime(pd.Series(text), format="ISO8601", errors="coerce"))
        if parsed[~empty].isna().any():  # not ISO 8601: let pandas infer one format, e.g. 01/31/2024
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "could not infer format": bad cells
                inferred = pd.DatetimeIndex(pd.to_datetime(pd.Series(text), errors="coerce"))
            if inferred.isna().sum() < parsed.isna().sum():
                parsed = inferred
    if empty.any():
        i = int(np.argmax(empty))
        raise DataError("the date is empty", path=table.path, column=column,
                        row=int(table.rows[i]), fix=f"Fill in the date or delete the row. {_DATE_FIX}")
    bad = np.asarray(parsed.isna())
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"cannot read {text[i]!r} as a date", path=table.path, column=column,
                        row=int(table.rows[i]), fix=_DATE_FIX)
    if parsed.tz is not None:
        parsed = parsed.tz_localize(None)
    return parsed.normalize()


def _check_date_order(dates: pd.DatetimeIndex, table: _Table, column: str) -> None:
    """Wide form: one row per date, in increasing order."""
    dup = np.asarray(dates.duplicated())
    if dup.any():
        i = int(np.argmax(dup))
        j = int(np.argmax(np.asarray(dates == dates[i])))
        raise DataError(f"date {dates[i].date()} appears twice, on rows {table.rows[j]} and "
                        f"{table.rows[i]}", path=table.path, column=column, row=int(table.rows[i]),
                        fix="Keep one row per date.")
    back = np.flatnonzero(np.diff(dates.asi8) < 0)
    if back.size:
        i = int(back[0]) + 1
        raise DataError(f"dates are not sorted: {dates[i].date()} comes after "
                        f"{dates[i - 1].date()}", path=table.path, column=column,
                        row=int(table.rows[i]), fix="Sort the rows by date, oldest first.")


def _check_long_keys(dates: pd.DatetimeIndex, symbols: np.ndarray, table: _Table, column: str) -> None:
    """Long form: one row per (date, symbol), each symbol's dates in increasing order."""
    keys = pd.DataFrame({"date": dates, "symbol": symbols})
    dup = keys.duplicated().to_numpy()
    if dup.any():
        i = int(np.argmax(dup))
        j = int(np.argmax(((keys["date"] == dates[i]) & (keys["symbol"] == symbols[i])).to_numpy()))
        raise DataError(f"{symbols[i]} has two rows for {dates[i].date()}, rows {table.rows[j]} "
                        f"and {table.rows[i]}", path=table.path, column=column,
                        row=int(table.rows[i]), fix="Keep one row per date and symbol.")
    codes = pd.factorize(symbols)[0]
    order = np.argsort(codes, kind="stable")
    stamps, grouped = dates.asi8[order], codes[order]
    back = np.flatnonzero((grouped[1:] == grouped[:-1]) & (stamps[1:] < stamps[:-1]))
    if back.size:
        i, prev = int(order[back[0] + 1]), int(order[back[0]])
        raise DataError(f"dates of {symbols[i]} are not sorted: {dates[i].date()} comes after "
                        f"{dates[prev].date()}", path=table.path, column=column,
                        row=int(table.rows[i]), fix="Sort the rows by symbol and date, oldest first.")


def _parse_numbers(
    table: _Table,
    column: str,
    *,
    dates: pd.DatetimeIndex,
    label: str,
    symbols: np.ndarray | None = None,
    allow_zero: bool = False,
) -> np.ndarray:
    """Floats of a column, NaN where the cell is empty (or null); bad cells are errors."""
    series = table.frame[column]
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        text = series.astype(str).to_numpy()
        missing = np.isnan(values)
    else:
        text = series.fillna("").astype(str).str.strip().to_numpy()
        values = pd.to_numeric(pd.Series(text), errors="coerce").to_numpy(dtype=np.float64)
        missing = text == ""

    def fail(i: int, problem: str, fix: str) -> DataError:
        what = label if symbols is None else f"{label} of {symbols[i]}"
        return DataError(f"{what} on {dates[i].date()}: {problem}", path=table.path, column=column,
                         row=int(table.rows[i]), fix=fix)

    bad = ~missing & ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        cell = text[i]
        if cell.lower() in _MISSING_TOKENS:
            raise fail(i, f"{cell!r} is not a price",
                       "Leave the cell empty where the price is missing; short gaps are "
                       "forward-filled and longer ones marked unavailable.")
        if np.isinf(values[i]):
            raise fail(i, f"{cell!r} is infinite", "Replace it with the real value or leave it empty.")
        hint = (" Use a dot as the decimal separator and no thousands separators."
                if re.fullmatch(r"[-+]?[\d.]*,[\d.,]*", cell) else "")
        raise fail(i, f"{cell!r} is not a number", f"Write a plain number such as 123.45.{hint}")
    low = ~missing & ((values < 0) if allow_zero else (values <= 0))
    if low.any():
        i = int(np.argmax(low))
        need = "negative" if allow_zero else "zero or negative"
        raise fail(i, f"{text[i]} is {need}",
                   "Fix the value, or leave the cell empty if it is unknown"
                   + ("." if allow_zero else "; prices must be greater than 0."))
    return values


# --------------------------------------------------------------------------- panel
def _check_options(*, frequency: str | None, max_ffill: int, start: str | None,
                   end: str | None) -> None:
    if frequency is not None:
        try:
            pd.tseries.frequencies.to_offset(frequency)
        except ValueError as exc:
            raise ConfigError(f"frequency {frequency!r} is not a pandas offset alias; use e.g. "
                              "'W-FRI' for weekly Friday closes, or None to keep the rows.") from exc
    if isinstance(max_ffill, bool) or not isinstance(max_ffill, int) or max_ffill < 0:
        raise ConfigError(f"max_ffill must be an integer >= 0, got {max_ffill!r}.")
    bounds = {}
    for name, value in (("start", start), ("end", end)):
        if value is None:
            continue
        try:
            bounds[name] = pd.Timestamp(value)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{name} {value!r} is not a date; write it as YYYY-MM-DD.") from exc
    if len(bounds) == 2 and bounds["start"] > bounds["end"]:
        raise ConfigError(f"start {start} is after end {end}; swap them.")


def _panel_from_frames(
    close: pd.DataFrame,
    extra: dict[str, pd.DataFrame],
    *,
    source: str,
    frequency: str | None,
    max_ffill: int,
    start: str | None,
    end: str | None,
    header_row: int | None = None,
) -> MarketPanel:
    """Resample, forward-fill and window validated frames into a panel, warning about repairs."""
    empty = [str(s) for s in close.columns[close.isna().all().to_numpy()]]
    if empty:
        raise DataError(f"{empty[0]} has no prices at all", path=source, column=empty[0],
                        row=header_row, fix="Fill in its prices or delete the column.")
    if frequency is not None:
        close = close.resample(frequency).last()
        extra = {k: (v.resample(frequency).sum(min_count=1) if k == "volume"
                     else v.resample(frequency).agg(_RESAMPLE_HOW[k])) for k, v in extra.items()}
    base = MarketPanel.from_close_frame(close, source=source, max_ffill=max_ffill)
    _warn_repairs(close, base, max_ffill)
    panel = MarketPanel(
        dates=base.dates, symbols=base.symbols, close=base.close, available=base.available,
        extra={k: np.where(base.available, v.reindex(index=close.index, columns=close.columns)
                           .to_numpy(dtype=np.float64), np.nan) for k, v in extra.items()},
        source=source,
    )
    if start is None and end is None:
        return panel
    window = panel.between(None if start is None else str(pd.Timestamp(start).date()),
                           None if end is None else str(pd.Timestamp(end).date()))
    if window.n_dates == 0:
        raise DataError(f"no dates between {start or 'the start'} and {end or 'the end'}; the data "
                        f"covers {panel.dates[0]} to {panel.dates[-1]}", path=source,
                        fix="Choose start/end dates inside that range.")
    return window


def _warn_repairs(close: pd.DataFrame, panel: MarketPanel, max_ffill: int) -> None:
    """Warn (DataWarning) how many missing prices were forward-filled or marked unavailable."""
    present = np.isfinite(close.to_numpy(dtype=np.float64))
    seen_before = np.maximum.accumulate(present, axis=0)
    seen_after = np.maximum.accumulate(present[::-1], axis=0)[::-1]
    inside = seen_before & seen_after
    filled = panel.available & ~present
    dropped = inside & ~panel.available
    if not (filled.any() or dropped.any()):
        return

    def per_symbol(mask: np.ndarray) -> str:
        parts = []
        for n in np.flatnonzero(mask.any(axis=0)):
            first = panel.dates[int(np.argmax(mask[:, n]))]
            parts.append(f"{panel.symbols[n]} {int(mask[:, n].sum())} (first {first})")
        return "; ".join(parts)

    notes = []
    if filled.any():
        notes.append(f"forward-filled {int(filled.sum())} missing prices, at most {max_ffill} in a "
                     f"row: {per_symbol(filled)}")
    if dropped.any():
        notes.append(f"marked {int(dropped.sum())} prices unavailable in gaps longer than "
                     f"{max_ffill} rows: {per_symbol(dropped)}")
    warnings.warn(DataWarning(f"{panel.source}: " + ". ".join(notes) + "."), stacklevel=4)
