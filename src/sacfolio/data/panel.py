"""MarketPanel: dates x symbols price arrays, validated and point-in-time."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sacfolio.exceptions import DataError

__all__ = ["EXTRA_FIELDS", "FIELDS", "MarketPanel"]

FIELDS = ("open", "high", "low", "close", "volume")
EXTRA_FIELDS = tuple(f for f in FIELDS if f != "close")
"""The optional fields beside ``close``, in :data:`FIELDS` order: open, high, low, volume."""


@dataclass(frozen=True, eq=False)
class MarketPanel:
    """Prices of N symbols on T dates.

    Attributes
    ----------
    dates : ndarray of datetime64[D], shape (T,)
        Sorted, unique decision dates (for the embedded sample: Friday closes).
    symbols : tuple of str, length N
        Symbol order; every array's second axis follows it.
    close : ndarray of float64, shape (T, N)
        Close prices, finite and positive wherever ``available`` is True and
        NaN elsewhere.
    available : ndarray of bool, shape (T, N)
        True where the symbol trades on that date.
    extra : dict of str to ndarray (T, N)
        Optional ``open``, ``high``, ``low``, ``volume``.
    source : str
        Where the panel came from (a path or ``"embedded:sp500"``), used in messages.
    """

    dates: np.ndarray
    symbols: tuple[str, ...]
    close: np.ndarray
    available: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    source: str = "memory"

    def __post_init__(self) -> None:
        dates = np.asarray(self.dates).astype("datetime64[D]")
        object.__setattr__(self, "dates", dates)
        object.__setattr__(self, "symbols", tuple(str(s) for s in self.symbols))
        close = np.asarray(self.close, dtype=np.float64)
        available = np.asarray(self.available, dtype=bool)
        T, N = len(dates), len(self.symbols)
        if close.shape != (T, N) or available.shape != (T, N):
            raise DataError(
                f"close {close.shape} and available {available.shape} must both be "
                f"(dates, symbols) = ({T}, {N})",
                path=self.source,
            )
        if N < 2:
            raise DataError(
                f"a portfolio needs at least 2 symbols, found {N} ({', '.join(self.symbols) or 'none'})",
                path=self.source,
                fix="Add more symbol columns.",
            )
        if len(set(self.symbols)) != N:
            dup = sorted({s for s in self.symbols if self.symbols.count(s) > 1})
            raise DataError(f"duplicate symbols {dup}", path=self.source)
        if T > 1:
            step = np.diff(dates).astype(np.int64)
            if (step == 0).any():
                i = int(np.argmax(step == 0)) + 1
                raise DataError(f"duplicate date {dates[i]}", path=self.source, row=i,
                                fix="Keep one row per date.")
            if (step < 0).any():
                i = int(np.argmax(step < 0)) + 1
                raise DataError(f"dates are not sorted: {dates[i]} comes after {dates[i - 1]}",
                                path=self.source, row=i, fix="Sort the rows by date.")
        bad = available & ~(np.isfinite(close) & (close > 0))
        if bad.any():
            t, n = np.argwhere(bad)[0]
            raise DataError(
                f"price {close[t, n]!r} on {dates[t]} is not a finite positive number",
                path=self.source, column=self.symbols[n], row=int(t),
                fix="Fix or drop that cell; missing prices should be left empty.",
            )
        close = np.where(available, close, np.nan)
        close.flags.writeable = False
        available.flags.writeable = False
        object.__setattr__(self, "close", close)
        object.__setattr__(self, "available", available)

    # ------------------------------------------------------------------ shape
    @property
    def n_dates(self) -> int:
        return len(self.dates)

    @property
    def n_symbols(self) -> int:
        return len(self.symbols)

    def __repr__(self) -> str:
        if self.n_dates == 0:
            return f"MarketPanel(empty, {self.n_symbols} symbols)"
        return (f"MarketPanel({self.n_dates} dates {self.dates[0]}..{self.dates[-1]}, "
                f"{self.n_symbols} symbols, source={self.source!r})")

    # ------------------------------------------------------------- derived
    def simple_returns(self) -> np.ndarray:
        """Close-to-close simple returns, shape (T, N); row t is the return from t-1 to t.

        Row 0 and any cell whose symbol is unavailable at t-1 or t are 0.
        """
        r = np.zeros_like(self.close)
        both = self.available[1:] & self.available[:-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            step = self.close[1:] / self.close[:-1] - 1.0
        r[1:] = np.where(both, step, 0.0)
        return r

    def index_of(self, date: str | np.datetime64) -> int:
        """Index of the last date at or before ``date`` (point in time)."""
        d = np.datetime64(date, "D")
        i = int(np.searchsorted(self.dates, d, side="right")) - 1
        if i < 0:
            raise DataError(f"date {d} is before the first date {self.dates[0]}", path=self.source)
        return i

    def slice(self, start: int, stop: int) -> "MarketPanel":
        """Rows ``start:stop`` as a new panel."""
        return MarketPanel(
            dates=self.dates[start:stop], symbols=self.symbols,
            close=self.close[start:stop], available=self.available[start:stop],
            extra={k: v[start:stop] for k, v in self.extra.items()}, source=self.source,
        )

    def between(self, start: str | None = None, end: str | None = None) -> "MarketPanel":
        """Rows with ``start <= date <= end`` (inclusive, ISO dates)."""
        lo = 0 if start is None else int(np.searchsorted(self.dates, np.datetime64(start, "D"), "left"))
        hi = self.n_dates if end is None else int(np.searchsorted(self.dates, np.datetime64(end, "D"), "right"))
        return self.slice(lo, hi)

    def to_frame(self) -> pd.DataFrame:
        """Close prices as a wide DataFrame (date index, one column per symbol)."""
        return pd.DataFrame(self.close, index=pd.DatetimeIndex(self.dates, name="date"),
                            columns=list(self.symbols))

    @classmethod
    def from_close_frame(cls, frame: pd.DataFrame, *, source: str = "memory",
                         max_ffill: int = 2) -> "MarketPanel":
        """Build a panel from a wide close-price frame (DatetimeIndex x symbols).

        Point in time: whether a missing price is filled depends only on the rows up to
        it. A missing price is filled with the most recent one while that is at most
        ``max_ffill`` rows old (what a feed shows on those dates, not knowing when, or
        whether, the next price comes); after that the symbol is unavailable until a
        price arrives. Rows before a symbol's first price are unavailable. (Filling a gap
        only when it turns out short enough would let row t depend on prices after t.)
        """
        values = frame.to_numpy(dtype=np.float64, copy=True)
        present = np.isfinite(values)
        rows = np.arange(len(values))[:, None]
        # Index of the last present row at or before t (-1: none yet).
        prev_idx = np.maximum.accumulate(np.where(present, rows, -1), axis=0)
        fillable = ~present & (prev_idx >= 0) & (rows - prev_idx <= max_ffill)
        cols = np.broadcast_to(np.arange(values.shape[1]), values.shape)
        filled = np.where(fillable, values[np.clip(prev_idx, 0, None), cols], values)
        available = present | fillable
        return cls(
            dates=frame.index.to_numpy().astype("datetime64[D]"),
            symbols=tuple(map(str, frame.columns)),
            close=np.where(available, filled, np.nan),
            available=available,
            source=source,
        )
