"""The paper-trading loop: bar -> allocation -> each strategy's target -> netted order -> fill -> ledger.

Per bar, in order: the bar's inputs (:class:`~sacfolio.env.allocation_run.InputTracker`),
the allocation (the promoted meta-controller, or the static fallback), the book's netted
trade through the simulated broker (:func:`~sacfolio.env.allocation_book.book_step`), and
one ledger transaction with every row of the bar and the memory to resume from. A restart
reads that memory, skips the bars the source replays up to the last one recorded, and
continues: no bar twice, no order twice (order ids are derived from the run and the bar,
and are primary keys), the same numbers as an uninterrupted run.

Bad input never stops the loop: a bar that repeats or goes back in time is skipped, a
source that stalls is reported, a strategy with a NaN or infeasible target gets no
capital that bar, a refused order leaves the account as it was; each is an event.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from sacfolio.broker.account import AccountState
from sacfolio.broker.quotes import Quotes
from sacfolio.env.allocation_book import BookState, book_step, open_book
from sacfolio.env.allocation_run import Allocator, AllocationConfig, InputTracker, book_broker, shares_from_weights
from sacfolio.env.allocation_state import StrategySet
from sacfolio.exceptions import SacfolioError
from sacfolio.paper.errors import LedgerError
from sacfolio.paper.ledger import Ledger
from sacfolio.paper.records import bar_records, iso, memory_of
from sacfolio.paper.sources import Bar

__all__ = ["LoopSummary", "PaperLoop"]


@dataclass
class LoopSummary:
    """What one :meth:`PaperLoop.run` did."""

    processed: int = 0
    skipped_on_resume: int = 0
    rejected_bars: int = 0
    stalls: int = 0
    last_nav: float | None = None


class PaperLoop:
    """One paper session on ``ledger`` (see the module docstring).

    Parameters
    ----------
    ledger : Ledger
    symbols : tuple of str
    strategies : StrategySet
    config : AllocationConfig
    allocate : Allocator
        ``(state, returns) -> weights (K,)``; the model's or the static fallback's.
    source, reason : str
        ``"model"`` (with the version in ``reason``) or ``"fallback"`` and why.
    stall_seconds : float
        A source that gives no bar for this long is reported as stalled (once per stall).
    """

    def __init__(self, ledger: Ledger, *, symbols: tuple[str, ...], strategies: StrategySet,
                 config: AllocationConfig, allocate: Allocator, source: str, reason: str,
                 stall_seconds: float = 30.0, fallback: Allocator | None = None) -> None:
        self.ledger, self.symbols, self.strategies, self.config = ledger, tuple(symbols), strategies, config
        self.allocate, self.fallback, self.source, self.reason = allocate, fallback, source, reason
        self.stall_seconds = float(stall_seconds)
        self.broker = book_broker(self.symbols, config)
        self.tracker = InputTracker(strategies, len(self.symbols), config)
        self.book: BookState = open_book(self.broker, len(strategies), config.deposit)
        self.navs = self.book.cash.copy()
        self.nav = float(config.deposit)
        self.seq, self.last_time = 0, None
        self.run_id = self._start()

    def _start(self) -> str:
        """Record the settings of a new ledger, or check them and load the memory of an old one."""
        settings = {"symbols": list(self.symbols), "strategies": list(self.strategies.names),
                    "config": self.config.to_dict()}
        stored = self.ledger.meta_json("settings")
        if stored is None:
            run_id = uuid.uuid4().hex[:12]
            self.ledger.set_meta({"settings": settings, "run_id": run_id})
            return run_id
        if stored != settings:
            raise LedgerError(f"the ledger {self.ledger.path} was started with other settings ({stored}); this run "
                              f"has {settings}. Give another --db to start a new session.")
        memory = self.ledger.meta_json("memory")
        if memory is not None:
            self._load(memory)
        self.ledger.set_meta({"source": self.source, "reason": self.reason})
        return str(self.ledger.meta("run_id"))

    def _load(self, memory: dict) -> None:
        account = AccountState(**{k: np.array(v, dtype=np.float64) for k, v in memory["account"].items()})
        self.book = BookState(account, np.array(memory["cash"]), np.array(memory["units"]))
        self.navs, self.nav = np.array(memory["navs"]), float(memory["nav"])
        self.tracker.load(memory["tracker"])
        self.seq, self.last_time = int(memory["seq"]) + 1, np.datetime64(memory["time"].rstrip("Z"), "ns")

    # ------------------------------------------------------------------ one bar
    def _weights(self, state: np.ndarray, returns: np.ndarray, bad: np.ndarray,
                 events: list[tuple[str, str]]) -> np.ndarray:
        try:
            return shares_from_weights(self.allocate(state, returns), bad, self.config.cash_floor)
        except SacfolioError as exc:
            if self.fallback is None:
                raise
            events.append(("allocator_failed", f"{exc}; the static weights trade this bar"))
            return shares_from_weights(self.fallback(state, returns), bad, self.config.cash_floor)

    def process(self, bar: Bar) -> None:
        """Trade one bar and record it in one transaction."""
        events: list[tuple[str, str]] = []
        inputs = self.tracker.push(bar.time, bar.close, bar.bid, bar.ask)
        for k in np.flatnonzero(inputs.bad):
            events.append(("strategy_zeroed", f"{self.strategies.names[k]} gave a NaN or infeasible target; "
                                              "its allocation is 0 this bar"))
        shares = self._weights(inputs.state, inputs.returns, inputs.bad, events)
        quotes = Quotes(np.asarray(bar.bid, dtype=np.float64), np.asarray(bar.ask, dtype=np.float64))
        step = book_step(self.broker, self.book, quotes, shares, inputs.targets, band=self.config.band,
                         tradable=bar.tradable)
        for n in np.flatnonzero((step.order != 0.0) & (step.fills.units[0] == 0.0)):
            events.append(("order_refused", f"{self.symbols[n]} {step.order[n]:+.4f} units: "
                                            f"{step.fills.reasons()[n]}"))
        snap = self.broker.snapshot(step.state.account, quotes)
        records = bar_records(run_id=self.run_id, seq=self.seq, bar=bar, inputs=inputs, shares=shares, step=step,
                              snap=snap, prev_navs=self.navs, prev_nav=self.nav, symbols=self.symbols,
                              strategies=self.strategies.names, source=self.source, reason=self.reason,
                              events=events)
        memory = memory_of(step.state, self.tracker.to_dict(), step.strategy_navs, step.nav, self.seq, iso(bar.time))
        self.ledger.write_bar(records, {"memory": memory, "heartbeat_unix": str(time.time())})
        self.book, self.navs, self.nav = step.state, step.strategy_navs, step.nav
        self.last_time = np.datetime64(bar.time, "ns")
        self.seq += 1

    # ------------------------------------------------------------------ the loop
    def _admit(self, bar: Bar, summary: LoopSummary, resuming: bool) -> bool:
        """Whether ``bar`` is new and well-formed; skipped ones are counted or reported."""
        t = np.datetime64(bar.time, "ns")
        if self.last_time is not None and t <= self.last_time:
            if resuming:
                summary.skipped_on_resume += 1
            else:
                kind = "bar_repeated" if t == self.last_time else "bar_out_of_order"
                self.ledger.event(self.seq, kind, f"bar at {iso(t)} after {iso(self.last_time)}: skipped")
                summary.rejected_bars += 1
            return False
        close = np.asarray(bar.close, dtype=np.float64)
        if close.shape != (len(self.symbols),) or not (np.isfinite(bar.bid) & np.isfinite(bar.ask)).all():
            self.ledger.event(self.seq, "bad_bar", f"bar at {iso(t)} has {close.shape} closes or non-finite "
                                                   f"quotes for {len(self.symbols)} instruments: skipped")
            summary.rejected_bars += 1
            return False
        return True

    def run(self, source: Iterable[Bar | None], *, max_bars: int | None = None,
            poll_seconds: float = 0.05) -> LoopSummary:
        """Process the source's bars until it ends (or ``max_bars`` new bars)."""
        summary, resuming = LoopSummary(), self.last_time is not None
        waiting_since, reported = time.monotonic(), False
        self.ledger.set_meta({"pid": str(os.getpid()), "state": "running", "started_at": iso(np.datetime64("now")),
                              "heartbeat_unix": str(time.time())})
        for bar in source:
            if bar is None:
                idle = time.monotonic() - waiting_since
                if idle > self.stall_seconds and not reported:
                    self.ledger.event(self.seq, "source_stalled", f"no bar for {idle:.1f} s; waiting")
                    summary.stalls, reported = summary.stalls + 1, True
                self.ledger.heartbeat()
                time.sleep(poll_seconds)
                continue
            if not self._admit(bar, summary, resuming):
                continue
            if resuming:
                self.ledger.event(self.seq, "resumed", f"continued after bar {self.seq - 1}; "
                                                       f"{summary.skipped_on_resume} replayed bars skipped")
                resuming = False
            self.process(bar)
            summary.processed += 1
            summary.last_nav = self.nav
            waiting_since, reported = time.monotonic(), False
            if max_bars is not None and summary.processed >= max_bars:
                break
        self.ledger.set_meta({"state": "stopped", "stopped_at": iso(np.datetime64("now"))})
        return summary

