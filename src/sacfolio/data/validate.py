"""Validation of price cells read from a file: header, dates, numbers, order, and price steps.

Every check raises a :class:`~sacfolio.exceptions.DataError` naming the file, the column
and the row; for CSV the row is the line number in the file (the header is line 1), for
Parquet it is the 1-based row of the table. :func:`check_options` validates the loader
options shared by every source, :func:`check_price_steps` the finished panel.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import ConfigError, DataError

__all__ = [
    "CellTable",
    "check_date_order",
    "check_header",
    "check_long_keys",
    "check_options",
    "check_price_steps",
    "parse_dates",
    "parse_numbers",
]

_MISSING_TOKENS = frozenset({"nan", "-nan", "+nan", "na", "n/a", "#n/a", "null", "none", "nat"})
_DATE_FIX = "Write dates as YYYY-MM-DD (ISO 8601)."


@dataclass(frozen=True)
class CellTable:
    """Cells of a file with the row label of each (CSV line number or 1-based Parquet row)."""

    frame: pd.DataFrame
    rows: np.ndarray
    path: str
    header_row: int | None


def check_header(header: list[str], where: str, *, header_row: int | None) -> None:
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


def parse_dates(table: CellTable, column: str) -> pd.DatetimeIndex:
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


def check_date_order(dates: pd.DatetimeIndex, table: CellTable, column: str) -> None:
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


def check_long_keys(dates: pd.DatetimeIndex, symbols: np.ndarray, table: CellTable, column: str) -> None:
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


def parse_numbers(
    table: CellTable,
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


def check_options(*, frequency: str | None, max_ffill: int, start: str | None,
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


def check_price_steps(panel: MarketPanel) -> None:
    """Every step between two available prices must have a representable return.

    A return ``close[t] / close[t-1] - 1`` that is infinite, NaN or ``<= -100%`` in
    float64 (e.g. next to a placeholder price such as ``1e308``) cannot be traded on;
    the error names the source, the symbol and both dates.
    """
    with np.errstate(over="ignore", under="ignore"):
        returns = panel.simple_returns()
    bad = ~np.isfinite(returns) | (returns <= -1.0)
    if not bad.any():
        return
    t, n = (int(i) for i in np.argwhere(bad)[0])
    symbol = panel.symbols[n]
    before, after, step = float(panel.close[t - 1, n]), float(panel.close[t, n]), float(returns[t, n])
    what = f"a return of {step:.0%}" if np.isfinite(step) else "a return too large to compute"
    raise DataError(f"price of {symbol} on {panel.dates[t]}: {after!r} after {before!r} on "
                    f"{panel.dates[t - 1]} is {what}, beyond what a price can do in one step",
                    path=panel.source, column=symbol,
                    fix="One of the two prices is wrong (a typo or a placeholder such as 1e308); "
                        "correct it or leave the cell empty.")
