"""Price files: CSV or Parquet, wide or long, read and validated into a :class:`MarketPanel`.

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
from pathlib import Path

import numpy as np
import pandas as pd

from sacfolio.data.panel import EXTRA_FIELDS, MarketPanel
from sacfolio.data.sources.assemble import panel_from_frames
from sacfolio.data.validate import (
    CellTable,
    check_date_order,
    check_header,
    check_long_keys,
    check_options,
    parse_dates,
    parse_numbers,
)
from sacfolio.exceptions import DataError

__all__ = ["load_prices"]

_LONG_COLUMNS = ("date", "symbol", "open", "high", "low", "close", "volume")
_CSV_SUFFIXES = (".csv",)
_PARQUET_SUFFIXES = (".parquet", ".pq")


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
    check_options(frequency=frequency, max_ffill=max_ffill, start=start, end=end)
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
    return panel_from_frames(close, extra, source=str(path), frequency=frequency,
                              max_ffill=max_ffill, start=start, end=end,
                              header_row=table.header_row)


def _read_csv(path: Path) -> CellTable:
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
    check_header(header, where, header_row=1)
    body = body.loc[~blank].reset_index(drop=True)
    body.columns = header
    return CellTable(frame=body, rows=lines[~blank], path=where, header_row=1)


def _read_parquet(path: Path) -> CellTable:
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
    check_header(header, where, header_row=None)
    frame.columns = header
    return CellTable(frame=frame.reset_index(drop=True), rows=np.arange(1, len(frame) + 1),
                  path=where, header_row=None)


def _table_to_frames(table: CellTable) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
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


def _wide_frames(table: CellTable, date_col: str) -> pd.DataFrame:
    dates = parse_dates(table, date_col)
    check_date_order(dates, table, date_col)
    symbols = [c for c in table.frame.columns if c != date_col]
    if len(symbols) < 2:
        raise DataError(f"a portfolio needs at least 2 symbols, the file has {len(symbols)} "
                        f"({', '.join(symbols) or 'none'})", path=table.path,
                        column=symbols[0] if symbols else date_col, row=table.header_row,
                        fix="Add one column of close prices per symbol (date,AAPL,MSFT,...), "
                            "or use long form (date,symbol,close).")
    values = {s: parse_numbers(table, s, dates=dates, label=f"price of {s}") for s in symbols}
    return pd.DataFrame(values, index=pd.DatetimeIndex(dates, name="date"))


def _long_frames(table: CellTable, columns: dict[str, str]) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
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
    dates = parse_dates(table, date_col)
    symbols = table.frame[symbol_col].fillna("").astype(str).str.strip().to_numpy()
    empty = np.flatnonzero(symbols == "")
    if empty.size:
        raise DataError("the symbol is empty", path=table.path, column=symbol_col,
                        row=int(table.rows[empty[0]]), fix="Write the ticker symbol in every row.")
    check_long_keys(dates, symbols, table, date_col)
    order = list(pd.unique(symbols))
    if len(order) < 2:
        raise DataError(f"a portfolio needs at least 2 symbols, the file has {len(order)} "
                        f"({', '.join(order)})", path=table.path, column=symbol_col,
                        row=int(table.rows[0]), fix="Add rows for at least one more symbol.")
    frames: dict[str, pd.DataFrame] = {}
    for field in ("close", *EXTRA_FIELDS):
        if field not in columns:
            continue
        values = parse_numbers(table, columns[field], dates=dates, symbols=symbols,
                                label=field, allow_zero=field == "volume")
        long = pd.DataFrame({"date": dates, "symbol": symbols, "value": values})
        frames[field] = (long.pivot(index="date", columns="symbol", values="value")
                         .reindex(columns=order).sort_index())
        frames[field].columns.name = None
    close = frames.pop("close")
    return close, frames
