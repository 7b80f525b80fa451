"""Helpers of the paper tests."""

from __future__ import annotations

from sacfolio.env.allocation_run import AllocationConfig
from sacfolio.env.allocation_state import StateConfig
from sacfolio.strategies.zoo import ZooConfig

SYMBOLS = ("AAPL", "AMD", "BAC", "BBY", "CVX")
ZOO = ZooConfig(momentum_window=5, reversion_window=2, fast_window=3, slow_window=6, breakout_window=5,
                vol_window=3, vol_long_window=6, rsi_window=4, bollinger_window=5, risk_window=6)
CONFIG = AllocationConfig(state=StateConfig(history=8, windows=(4, 8)))


def make_loop(path, strategies, symbols=SYMBOLS, **kwargs):
    """A paper loop on the ledger at ``path`` trading the static fallback (no registry)."""
    from sacfolio.paper.allocators import select_allocator
    from sacfolio.paper.ledger import Ledger
    from sacfolio.paper.loop import PaperLoop

    selection = select_allocator(home=None, model="meta_sac", strategies=strategies.names, config=CONFIG)
    return PaperLoop(Ledger.open(path), symbols=symbols, strategies=strategies, config=CONFIG,
                     allocate=selection.allocate, source=selection.source, reason=selection.reason,
                     fallback=selection.fallback, **kwargs)
