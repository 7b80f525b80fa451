"""Bar sources of the paper loop: a bar file replayed or the intraday generator, at a chosen speed.

A source is an iterator of :class:`Bar` (or ``None``: no new bar yet, the loop waits).
Quotes are the bars' bid/ask carried forward where an instrument has no quote; such an
instrument cannot trade that bar (``tradable`` False) — the same quotes a backtest uses.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from sacfolio.broker.instruments import InstrumentSet
from sacfolio.broker.quotes import bar_quotes, carry_forward
from sacfolio.data.bars import Bars
from sacfolio.data.intraday import DEFAULT_SYMBOLS, load_source_bars

__all__ = ["Bar", "bar_stream", "load_source_bars"]



class Bar(NamedTuple):
    """One bar: end ``time`` (UTC datetime64), ``close``, ``bid``, ``ask`` (N,), ``tradable`` (N,) bool."""

    time: np.datetime64
    close: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    tradable: np.ndarray


def bar_stream(bars: Bars, instruments: InstrumentSet, *, speed: float = 0.0) -> Iterator[Bar]:
    """The bars one by one, ``speed`` bars per second (0: as fast as the loop takes them)."""
    quotes, tradable = carry_forward(bar_quotes(bars, instruments))
    pause = 0.0 if speed <= 0 else 1.0 / speed
    for t in range(len(bars.times)):
        if pause and t:
            time.sleep(pause)
        yield Bar(bars.times[t], bars.close[t], quotes.bid[t], quotes.ask[t], tradable[t])
