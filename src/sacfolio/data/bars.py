"""Intraday bars: OHLC (+ bid/ask, volume) of N instruments on a grid of times, read from files.

File format
-----------
``.csv``, ``.parquet`` or ``.pq``, one row per bar with columns (case-insensitive)
``time, open, high, low, close`` and optionally ``symbol``, ``bid``, ``ask``, ``volume``.
Without a ``symbol`` column the file holds one instrument named after the file.
``time`` is the bar's **end**, ISO 8601; times without an offset are UTC, times with one
are converted to UTC. ``bid``/``ask`` are the quotes at the bar's close.

Checked, each a :class:`~sacfolio.exceptions.DataError` naming the file, the row (CSV line,
header = line 1; 1-based Parquet row) and the column: missing or unknown columns, empty or
unreadable times and numbers, prices <= 0, ``high < low``, ``open``/``close`` outside
``[low, high]``, ``bid > ask``, a bar duplicated or out of order within its symbol.
The loader writes nothing; :func:`write_bars` writes a whole file or none.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sacfolio.data.validate import CellTable, check_header, parse_numbers
from sacfolio.exceptions import DataError

__all__ = ["BAR_FIELDS", "Bars", "load_bars", "write_bars"]

BAR_FIELDS = ("open", "high", "low", "close")
_OPTIONAL = ("bid", "ask", "volume")


@dataclass(frozen=True, eq=False)
class Bars:
    """Bars of N instruments on T times.

    Attributes
    ----------
    times : ndarray datetime64[ns], shape (T,)
        Bar end times, UTC, strictly increasing.
    symbols : tuple of str, length N
    open, high, low, close : ndarray float64, shape (T, N)
        NaN where an instrument has no bar at that time.
    bid, ask : ndarray float64 (T, N) or None
        Quotes at each bar's close, when the source has them.
    volume : ndarray float64 (T, N) or None
    source : str
    """

    times: np.ndarray
    symbols: tuple[str, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    bid: np.ndarray | None = None
    ask: np.ndarray | None = None
    volume: np.ndarray | None = None
    source: str = "memory"

    def __post_init__(self) -> None:
        shape = (len(self.times), len(self.symbols))
        for name in (*BAR_FIELDS, *_OPTIONAL):
            value = getattr(self, name)
            if value is not None and np.shape(value) != shape:
                raise DataError(f"bars field {name} has shape {np.shape(value)}, expected {shape}", path=self.source)
        if (self.bid is None) != (self.ask is None):
            raise DataError("bars need both bid and ask or neither", path=self.source)

    @property
    def available(self) -> np.ndarray:
        """(T, N) True where the instrument has a bar."""
        return np.isfinite(self.close)

    def to_frame(self) -> pd.DataFrame:
        """Long form, one row per (time, symbol) bar, the columns of the file format."""
        t, n = np.nonzero(self.available)
        data = {"time": pd.DatetimeIndex(self.times[t]).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "symbol": np.asarray(self.symbols, dtype=object)[n]}
        for name in (*BAR_FIELDS, *_OPTIONAL):
            value = getattr(self, name)
            if value is not None:
                data[name] = value[t, n]
        return pd.DataFrame(data)


def load_bars(path: str | Path) -> Bars:
    """Read and validate a bar file (see the module docstring).

    Raises
    ------
    DataError
        Missing, unreadable or invalid file; the message names the file, the row and the column.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("bar file not found", path=str(path), fix="Give an existing .csv, .parquet or .pq file.")
    table = _read(path)
    columns = {c.lower(): c for c in table.frame.columns}
    for name in table.frame.columns:
        if name.lower() not in ("time", "symbol", *BAR_FIELDS, *_OPTIONAL):
            raise DataError(f"unknown column {name!r}; the columns are time, symbol, open, high, low, close, "
                            "bid, ask, volume", path=table.path, column=name, row=table.header_row,
                            fix="Remove or rename that column.")
    for name in ("time", *BAR_FIELDS):
        if name not in columns:
            raise DataError(f"the column {name!r} is missing", path=table.path, column=name, row=table.header_row,
                            fix="Write a header time,symbol,open,high,low,close[,bid,ask,volume].")
    if ("bid" in columns) != ("ask" in columns):
        missing = "ask" if "bid" in columns else "bid"
        raise DataError(f"the column {missing!r} is missing (bid and ask come together)", path=table.path,
                        column=missing, row=table.header_row, fix="Add it, or remove the other one.")
    if len(table.frame) == 0:
        raise DataError("the file has a header but no bars", path=table.path, row=table.header_row,
                        fix="Add one row per bar.")
    times = _parse_times(table, columns["time"])
    symbols = _symbols(table, columns, path)
    _check_order(times, symbols, table, columns["time"])
    values = {name: parse_numbers(table, columns[name], dates=times, symbols=symbols, label=name,
                                  allow_zero=name == "volume")
              for name in (*BAR_FIELDS, *_OPTIONAL) if name in columns}
    _check_bars(values, table, columns)
    return _to_bars(times, symbols, values, table.path)


def _read(path: Path) -> CellTable:
    where, suffix = str(path), path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(path).reset_index(drop=True)
        except (OSError, ValueError) as exc:
            raise DataError(f"the file cannot be read as Parquet ({exc})", path=where,
                            fix="Re-export it with pandas.DataFrame.to_parquet.") from exc
        header, rows, header_row = [str(c).strip() for c in frame.columns], np.arange(1, len(frame) + 1), None
    elif suffix == ".csv":
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise DataError(f"the CSV cannot be read: {' '.join(str(exc).split())}", path=where, row=1,
                            fix="Write a header line and one comma-separated line per bar, UTF-8.") from exc
        header, rows, header_row = [str(c).strip() for c in frame.columns], np.arange(2, len(frame) + 2), 1
        frame = frame.apply(lambda col: col.str.strip())
    else:
        raise DataError(f"unsupported file type {path.suffix or '(none)'!r}", path=where,
                        fix="Save the bars as .csv or .parquet.")
    check_header(header, where, header_row=header_row)
    frame.columns = header
    return CellTable(frame=frame, rows=rows, path=where, header_row=header_row)


def _parse_times(table: CellTable, column: str) -> pd.DatetimeIndex:
    series = table.frame[column]
    text = series.astype(str).str.strip().to_numpy()
    empty = series.isna().to_numpy() | (text == "")
    if empty.any():
        i = int(np.argmax(empty))
        raise DataError("the time is empty", path=table.path, column=column, row=int(table.rows[i]),
                        fix="Fill in the bar's end time, e.g. 2024-01-02T14:35:00Z.")
    parsed = pd.to_datetime(pd.Series(series), format="ISO8601", errors="coerce", utc=True)
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"cannot read {text[i]!r} as a time", path=table.path, column=column,
                        row=int(table.rows[i]), fix="Write ISO 8601 times such as 2024-01-02T14:35:00Z.")
    return pd.DatetimeIndex(parsed).tz_localize(None).as_unit("ns")


def _symbols(table: CellTable, columns: dict[str, str], path: Path) -> np.ndarray:
    if "symbol" not in columns:
        return np.full(len(table.frame), path.stem, dtype=object)
    symbols = table.frame[columns["symbol"]].fillna("").astype(str).str.strip().to_numpy()
    empty = np.flatnonzero(symbols == "")
    if empty.size:
        raise DataError("the symbol is empty", path=table.path, column=columns["symbol"],
                        row=int(table.rows[empty[0]]), fix="Write the instrument's name in every row.")
    return symbols


def _check_order(times: pd.DatetimeIndex, symbols: np.ndarray, table: CellTable, column: str) -> None:
    keys = pd.DataFrame({"symbol": symbols, "time": times.asi8})
    dup = keys.duplicated().to_numpy()
    if dup.any():
        i = int(np.argmax(dup))
        first = int(np.argmax(((keys["symbol"] == symbols[i]) & (keys["time"] == keys["time"][i])).to_numpy()))
        raise DataError(f"the bar of {symbols[i]} at {times[i]} appears twice (rows {table.rows[first]} and "
                        f"{table.rows[i]})", path=table.path, column=column, row=int(table.rows[i]),
                        fix="Keep one bar per time and symbol.")
    codes = pd.factorize(symbols)[0]
    order = np.lexsort((np.arange(len(codes)), codes))  # by symbol, file order inside
    stamps, grouped = times.asi8[order], codes[order]
    back = np.flatnonzero((grouped[1:] == grouped[:-1]) & (stamps[1:] < stamps[:-1]))
    if back.size:
        i, prev = int(order[back[0] + 1]), int(order[back[0]])
        raise DataError(f"the bar of {symbols[i]} at {times[i]} is out of order: it comes after {times[prev]} "
                        f"(row {table.rows[prev]})", path=table.path, column=column, row=int(table.rows[i]),
                        fix="Sort the bars by time, oldest first.")


def _check_bars(values: dict[str, np.ndarray], table: CellTable, columns: dict[str, str]) -> None:
    o, h, low, c = (values[k] for k in BAR_FIELDS)
    with np.errstate(invalid="ignore"):
        checks = [("high", h < low, "high {} is below low {}", (h, low)),
                  ("open", (o < low) | (o > h), "open {} is outside [low, high] = [{}, {}]", (o, low, h)),
                  ("close", (c < low) | (c > h), "close {} is outside [low, high] = [{}, {}]", (c, low, h))]
        if "bid" in values:
            checks.append(("bid", values["bid"] > values["ask"], "bid {} is above ask {}",
                           (values["bid"], values["ask"])))
    for name, bad, text, parts in checks:
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(text.format(*(p[i] for p in parts)), path=table.path, column=columns[name],
                            row=int(table.rows[i]), fix="Correct the bar; high >= open, close >= low and bid <= ask.")


def _to_bars(times: pd.DatetimeIndex, symbols: np.ndarray, values: dict[str, np.ndarray], where: str) -> Bars:
    order = list(pd.unique(symbols))
    grid = np.unique(times.asi8)
    t = np.searchsorted(grid, times.asi8)
    n = pd.Index(order).get_indexer(symbols)
    arrays = {}
    for name, column in values.items():
        out = np.full((len(grid), len(order)), np.nan)
        out[t, n] = column
        arrays[name] = out
    return Bars(times=grid.astype("datetime64[ns]"), symbols=tuple(order), source=where, **arrays)


def write_bars(bars: Bars, path: str | Path) -> Path:
    """Write ``bars`` as CSV or Parquet (by suffix) atomically: a whole file or none."""
    path = Path(path)
    frame = bars.to_frame()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False, float_format="%.10g")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
