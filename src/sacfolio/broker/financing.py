"""Financing at the daily rollover (17:00 New York): long and short rates, triple days.

At each rollover a position of ``units`` at mid price ``p`` is credited (rate > 0) or
charged (rate < 0)::

    |units| * p * rate / 365 * daysCharged

with ``rate = longRate`` for a long, ``shortRate`` for a short, and ``daysCharged`` that of
the rollover's weekday in the instrument's ``financingDaysOfWeek`` (FX pairs: Wednesday 3,
covering the weekend, Saturday and Sunday 0). The amount is in the quote currency and is
converted into the home currency at the gain or the loss factor by its sign.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sacfolio.broker.account import AccountState
from sacfolio.broker.fx import Conversion
from sacfolio.broker.instruments import InstrumentSet
from sacfolio.broker.quotes import Quotes

__all__ = ["ROLLOVER_HOUR", "ROLLOVER_TZ", "apply_financing", "financing", "rollover_days"]

ROLLOVER_HOUR = 17
ROLLOVER_TZ = "America/New_York"


def rollover_days(times: np.ndarray | pd.DatetimeIndex, instruments: InstrumentSet) -> np.ndarray:
    """Days of financing each instrument charges between consecutive times.

    Parameters
    ----------
    times : datetime64 array or DatetimeIndex, shape (T,), increasing
        Bar times; naive times are UTC.
    instruments : InstrumentSet

    Returns
    -------
    ndarray float64, shape (T, N)
        Row t sums ``daysCharged`` over the rollovers in ``(times[t-1], times[t]]``
        (a rollover at exactly ``times[t]`` counts at t); row 0 is 0.
    """
    index = pd.DatetimeIndex(times)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    local = index.tz_convert(ROLLOVER_TZ).tz_localize(None) - pd.Timedelta(hours=ROLLOVER_HOUR)
    # day number of the last rollover at or before each time (1970-01-01 was a Thursday)
    day = local.values.astype("datetime64[D]").astype(np.int64)
    counts = np.zeros((len(day), 7))
    if len(day) > 1:
        lo, hi = day[:-1], day[1:]
        for weekday in range(7):  # days d with (d + 3) % 7 == weekday, Monday = 0
            offset = (weekday - 3) % 7
            counts[1:, weekday] = np.floor_divide(hi - offset, 7) - np.floor_divide(lo - offset, 7)
    return counts @ instruments.days_charged.T


def financing(units: np.ndarray, quotes: Quotes, conv: Conversion, instruments: InstrumentSet,
              days: np.ndarray) -> np.ndarray:
    """Financing (B, N) in home currency for ``days`` (N,) days charged at ``quotes``."""
    rate = np.where(units > 0.0, instruments.long_rate, instruments.short_rate)
    amount = np.abs(units) * quotes.mid * rate * (days / 365.0)
    return conv.signed(amount)


def apply_financing(state: AccountState, quotes: Quotes, conv: Conversion, instruments: InstrumentSet,
                    days: np.ndarray) -> tuple[AccountState, np.ndarray]:
    """Book the financing of a rollover step into the balance; returns the (B,) amounts."""
    if not np.any(days):
        return state, np.zeros(state.balance.shape)
    total = financing(state.units, quotes, conv, instruments, days).sum(axis=-1)
    return state._replace(balance=state.balance + total, financing=state.financing + total), total
