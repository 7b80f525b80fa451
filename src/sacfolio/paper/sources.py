"""Bar sources of the paper loop: a bar file replayed or the intraday generator, at a chosen speed.

A source is an iterator of :class:`Bar` (or ``None``: no new bar yet, the loop waits).
Quotes are the bars' bid/ask carried forward where an instrument has no quote; such an
instrument cannot trade that bar (``tradable`` False) — the same quotes a backtest uses.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import NamedTuple, Sequence

import numpy as np

from sacfolio.broker.instruments import InstrumentSet
from sacfolio.broker.quotes import bar_quotes, carry_forward
from sacfolio.data.bars import Bars, load_bars
from sacfolio.data.intraday import IntradayConfig, synthetic_bars
from sacfolio.paper.errors import BarSourceError

__all__ = ["Bar", "bar_stream", "load_source_bars"]

DEFAULT_SYMBOLS = ("AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO")
"""Ten stocks of the embedded sample: the default universe of the generator."""


class Bar(NamedTuple):
    """One bar: end ``time`` (UTC datetime64), ``close``, ``bid``, ``ask`` (N,), ``tradable`` (N,) bool."""

    time: np.datetime64
    close: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    tradable: np.ndarray


def load_source_bars(*, path: str | None = None, n_bars: int = 2000, symbols: Sequence[str] | None = None,
                     seed: int = 0) -> Bars:
    """Bars of a file (``path``) or ``n_bars`` synthetic 5-minute bars of ``symbols``."""
    if path is not None:
        bars = load_bars(path)
        if symbols:
            missing = [s for s in symbols if s not in bars.symbols]
            if missing:
                raise BarSourceError(f"{path} has no bars of {missing}; it has {', '.join(bars.symbols)}")
        return bars
    if n_bars < 2:
        raise BarSourceError(f"--bars {n_bars}: the generator needs at least 2 bars")
    config = IntradayConfig(sessions=max(1, math.ceil(n_bars / IntradayConfig().bars_per_session)))
    full = synthetic_bars(list(symbols or DEFAULT_SYMBOLS), config=config, seed=seed)
    cut = slice(0, n_bars)
    return Bars(times=full.times[cut], symbols=full.symbols, open=full.open[cut], high=full.high[cut],
                low=full.low[cut], close=full.close[cut], bid=full.bid[cut], ask=full.ask[cut],
                volume=full.volume[cut], source=f"{full.source}(seed={seed}, bars={n_bars})")


def bar_stream(bars: Bars, instruments: InstrumentSet, *, speed: float = 0.0) -> Iterator[Bar]:
    """The bars one by one, ``speed`` bars per second (0: as fast as the loop takes them)."""
    quotes, tradable = carry_forward(bar_quotes(bars, instruments))
    pause = 0.0 if speed <= 0 else 1.0 / speed
    for t in range(len(bars.times)):
        if pause and t:
            time.sleep(pause)
        yield Bar(bars.times[t], bars.close[t], quotes.bid[t], quotes.ask[t], tradable[t])
