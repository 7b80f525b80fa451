"""Bid/ask quotes of every instrument, from bar files or from mid prices and typical spreads.

Prices are rounded to each instrument's ``displayPrecision`` (v20 quotes carry exactly that
many decimals). A quote that is NaN marks an instrument without a price at that time: its
orders are refused with ``MARKET_HALTED``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sacfolio.broker.instruments import InstrumentSet
from sacfolio.data.bars import Bars
from sacfolio.exceptions import DataError

__all__ = ["Quotes", "bar_quotes", "carry_forward", "quotes_from_mid", "round_prices"]


class Quotes(NamedTuple):
    """Bid and ask of N instruments, shape (N,) or (B, N) (one row per portfolio or time).

    Fields
    ------
    bid, ask : ndarray float64
        ``bid <= ask``, rounded to ``displayPrecision``; NaN where there is no price.
    """

    bid: np.ndarray
    ask: np.ndarray

    @property
    def mid(self) -> np.ndarray:
        """``(bid + ask) / 2``: the price margin, position value and financing use."""
        return (self.bid + self.ask) * 0.5

    @property
    def spread(self) -> np.ndarray:
        return self.ask - self.bid

    @classmethod
    def checked(cls, bid: np.ndarray, ask: np.ndarray, *, source: str = "quotes") -> "Quotes":
        """Quotes after checking ``0 < bid <= ask`` where both are known."""
        bid, ask = np.asarray(bid, dtype=np.float64), np.asarray(ask, dtype=np.float64)
        if bid.shape != ask.shape:
            raise DataError(f"bid has shape {bid.shape} and ask {ask.shape}", path=source)
        with np.errstate(invalid="ignore"):
            bad = (bid > ask) | (bid <= 0.0)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise DataError(f"bid {bid[where]} and ask {ask[where]} at {where}: a bid must be > 0 and <= the ask",
                            path=source, fix="Swap the columns if bid and ask are inverted.")
        return cls(bid, ask)


def round_prices(prices: np.ndarray, instruments: InstrumentSet) -> np.ndarray:
    """Prices (..., N) rounded to each instrument's ``displayPrecision`` (half to even)."""
    scale = 10.0 ** instruments.display_precision
    return np.round(prices * scale) / scale


def quotes_from_mid(mid: np.ndarray, instruments: InstrumentSet, hour: np.ndarray | int = 12,
                    *, spread_scale: np.ndarray | float = 1.0) -> Quotes:
    """Bid and ask around mid prices with each instrument's typical spread for the UTC hour.

    Parameters
    ----------
    mid : ndarray float64, shape (..., N)
    instruments : InstrumentSet
    hour : int or ndarray int, shape broadcastable to ``mid.shape[:-1]``
        UTC hour 0..23 selecting ``typicalSpreadPips``.
    spread_scale : float or ndarray
        Multiplier of the spread (e.g. a widening at the session open), broadcast to ``mid``.

    Returns
    -------
    Quotes
        ``bid = round(mid - s / 2)``, ``ask = round(mid + s / 2)`` with ``s`` the spread in
        price units (pips x pip size, plus ``typicalSpreadBps`` x mid / 1e4), both rounded to
        ``displayPrecision``.
    """
    mid = np.asarray(mid, dtype=np.float64)
    hour = np.asarray(hour, dtype=np.int64)
    pips = instruments.spread_pips.T[hour % 24]  # (..., N)
    half = 0.5 * (pips * instruments.pip + mid * (instruments.spread_bps * 1e-4)) * spread_scale
    bid = round_prices(mid - half, instruments)
    ask = round_prices(mid + half, instruments)
    return Quotes(bid, np.maximum(ask, bid))


def bar_quotes(bars: Bars, instruments: InstrumentSet) -> Quotes:
    """Quotes (T, N) at each bar's close, instruments in ``bars.symbols`` order.

    The bars' own bid/ask where the file has them (rounded to ``displayPrecision``),
    otherwise the close with each instrument's typical spread for the bar's UTC hour.
    Instruments are matched by name (``instruments.select(bars.symbols)`` must succeed).
    """
    chosen = instruments.select(bars.symbols)
    if bars.bid is not None and bars.ask is not None:
        return Quotes.checked(round_prices(bars.bid, chosen), round_prices(bars.ask, chosen), source=bars.source)
    hours = bars.times.astype("datetime64[h]").astype(np.int64) % 24
    return quotes_from_mid(bars.close, chosen, hours)


def carry_forward(quotes: Quotes) -> tuple[Quotes, np.ndarray]:
    """Finite quotes (T, N) for marking positions, and where each instrument can trade.

    A missing quote (NaN: no bar at that time) takes the last known one, or before the
    first bar the first one; the mask (T, N) is False there, so orders on it are refused
    ``MARKET_HALTED`` while positions keep their last value.
    """
    import pandas as pd

    tradable = np.isfinite(quotes.bid) & np.isfinite(quotes.ask)
    filled = [pd.DataFrame(side).ffill().bfill().to_numpy() for side in (quotes.bid, quotes.ask)]
    return Quotes(*filled), tradable
