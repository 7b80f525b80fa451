"""The strategy book bar by bar: each bar's inputs from past bars, the allocation, the netted trade.

:class:`InputTracker` turns one bar at a time (close, quotes) into that bar's
:class:`BarInputs`: the strategies' targets from the trailing closes, their returns since
the previous bar and the meta-controller's state. The paper loop uses it live;
:func:`allocation_inputs` runs the same tracker over a whole bar file (``exact=True``) so
a backtest reproduces a paper session bit for bit, or computes the targets batched
(``exact=False``, ~10x faster, equal to ~1e-11) for training.

:func:`run_book` is the backtest: an allocator per bar, then
:func:`~sacfolio.env.allocation_book.book_step`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

import numpy as np

from sacfolio.broker.account import AccountConfig
from sacfolio.broker.instruments import equity_instruments
from sacfolio.broker.quotes import Quotes, bar_quotes, carry_forward
from sacfolio.broker.rules import PortfolioRules
from sacfolio.broker.simulator import Broker
from sacfolio.data.bars import Bars
from sacfolio.env.allocation_book import BookState, book_step, open_book
from sacfolio.env.allocation_state import (StateConfig, StrategySet, check_targets, market_returns,
                                           state_features, strategy_returns, time_of_day)
from sacfolio.exceptions import ConfigError, DataError

__all__ = ["AllocationConfig", "AllocationInputs", "BarInputs", "BookRun", "InputTracker", "allocation_inputs",
           "book_broker", "run_book", "shares_from_weights", "softmax_weights"]

Allocator = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``(state (D,), strategy returns of this bar (K,)) -> weights (K,) on the simplex``."""


@dataclass(frozen=True, kw_only=True)
class AllocationConfig:
    """How the book allocates and trades.

    Attributes
    ----------
    rules : PortfolioRules
        The strategies' target rules (cash floor and cap per stock); default 2% cash and
        30% per stock (a 20% cap leaves 10 stocks little room to differ).
    cash_floor : float, default 0.02
        Share of capital the allocation always leaves in CASH, in [0, 1).
    logit_scale : float, default 1.0
        Actions in [-1, 1] times this are the softmax logits of the allocation (1: one strategy
        gets at most e^2 = 7.4 times another's share; 3 was measured worse: the extra
        reallocation costs more than it earns on 5-minute bars).
    band : float, default 0.002
        No-trade band: a net order worth less than this share of NAV is not sent.
    deposit : float, default 100000.0
    commission_bps : float, default 0.5
        Commission on traded value; the spread comes from the bars' bid/ask.
    state : StateConfig
    """

    rules: PortfolioRules = field(default_factory=lambda: PortfolioRules(max_weight=0.3))
    cash_floor: float = 0.02
    logit_scale: float = 1.0
    band: float = 0.002
    deposit: float = 100_000.0
    commission_bps: float = 0.5
    state: StateConfig = field(default_factory=StateConfig)

    def __post_init__(self) -> None:
        checks = (("cash_floor", 0.0 <= self.cash_floor < 1.0, "in [0, 1)"),
                  ("logit_scale", 0.0 < self.logit_scale <= 50.0, "in (0, 50]"),
                  ("band", 0.0 <= self.band < 0.1, "in [0, 0.1)"), ("deposit", self.deposit > 0.0, "> 0"),
                  ("commission_bps", 0.0 <= self.commission_bps <= 100.0, "in [0, 100]"))
        for name, ok, need in checks:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not ok:
                raise ConfigError(f"AllocationConfig.{name}={value!r} must be {need}.")

    def to_dict(self) -> dict[str, Any]:
        return {"rules": self.rules.to_dict(), "cash_floor": self.cash_floor, "logit_scale": self.logit_scale,
                "band": self.band, "deposit": self.deposit, "commission_bps": self.commission_bps,
                "state": {"history": self.state.history, "windows": list(self.state.windows)}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AllocationConfig":
        data = dict(data)
        rules = PortfolioRules.from_dict(data.pop("rules", {}))
        state = StateConfig(**data.pop("state", {}))
        return cls(rules=rules, state=state, **data)


def book_broker(symbols: tuple[str, ...], config: AllocationConfig) -> Broker:
    """The broker of intraday equity bars: commission, no leverage, fills at the bars' bid/ask."""
    return Broker(equity_instruments(symbols, cost_bps=config.commission_bps), AccountConfig(max_leverage=1.0))


def softmax_weights(action: np.ndarray, scale: float) -> np.ndarray:
    """Softmax of ``scale * clip(action, -1, 1)`` (K,)."""
    e = np.exp(np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0) * scale)
    return e / e.sum()


def shares_from_weights(weights: np.ndarray, bad: np.ndarray, cash_floor: float) -> np.ndarray:
    """Capital shares (K,): ``(1 - cash_floor) * weights``, 0 for strategies with a bad target."""
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != bad.shape or not np.isfinite(w).all() or (w < -1e-9).any() or abs(w.sum() - 1.0) > 1e-6:
        raise ConfigError(f"an allocation must be {bad.shape[0]} finite weights >= 0 summing to 1, got {w}")
    return np.where(bad, 0.0, np.maximum(w, 0.0) * (1.0 - cash_floor))


class BarInputs(NamedTuple):
    """One bar's inputs: targets (K, N + 1) with bad ones as CASH, bad (K,), returns (K,), state (D,)."""

    targets: np.ndarray
    bad: np.ndarray
    returns: np.ndarray
    state: np.ndarray


class InputTracker:
    """Bar-by-bar :class:`BarInputs` from closes and quotes, with the memory a restart needs (:meth:`to_dict`).

    A strategy's return of bar t is that of holding its previous target from t - 1 to t,
    less what trading into that target cost at t - 1 on its own (the turnover from its
    drifted weights times half the spread plus the commission): the state and the return
    baselines see returns net of each strategy's own trading.
    """

    _MEMORY = ("close", "returns", "market", "previous", "cost")

    def __init__(self, strategies: StrategySet, n_symbols: int, config: AllocationConfig) -> None:
        self.strategies, self.config = strategies, config
        k, s = len(strategies), config.state
        self.close = np.full((s.history, n_symbols), np.nan)
        self.returns = np.zeros((s.lookback, k))
        self.market = np.zeros(s.lookback)
        self.previous = np.zeros((k, n_symbols + 1))
        self.previous[:, -1] = 1.0
        self.cost = np.zeros(k)
        self.seen = 0

    def push(self, time: np.datetime64, close: np.ndarray, bid: np.ndarray, ask: np.ndarray, *,
             targets: np.ndarray | None = None) -> BarInputs:
        """The inputs of the bar ending at ``time`` with closes ``close`` and quotes ``bid``/``ask`` (N,).

        ``targets`` (K, N + 1) replaces the strategies' own (batched precomputation).
        """
        close = np.asarray(close, dtype=np.float64)
        last = self.close[-1]
        asset = np.where(np.isfinite(close) & np.isfinite(last), close / last - 1.0, 0.0)
        gross = strategy_returns(self.previous[None], asset[None])[0]
        r = gross - self.cost
        self.close = np.concatenate([self.close[1:], close[None]])
        self.returns = np.concatenate([self.returns[1:], r[None]])
        self.market = np.concatenate([self.market[1:], market_returns(asset[None])])
        self.seen += 1
        if targets is None and self.seen >= self.config.state.history:
            targets = self.strategies.targets(self.close[None], self.config.rules)[0]
        if targets is None:
            targets = np.zeros_like(self.previous)
            targets[:, -1] = 1.0
        clean, bad = check_targets(targets, self.config.rules)
        drifted = np.concatenate([self.previous[:, :-1] * (1.0 + asset), self.previous[:, -1:]], axis=1)
        drifted /= (1.0 + gross)[:, None]
        mid = (np.asarray(bid, dtype=np.float64) + np.asarray(ask, dtype=np.float64)) * 0.5
        rate = (np.asarray(ask, dtype=np.float64) - mid) / mid + self.config.commission_bps * 1e-4
        self.cost = np.abs(clean[:, :-1] - drifted[:, :-1]) @ rate
        self.previous = clean
        clock = np.zeros((self.config.state.lookback, 2))
        clock[-1] = time_of_day(np.array([time]))[0]
        state = state_features(self.returns, self.market, clock, self.config.state)[0]
        return BarInputs(clean, bad, r, state)

    def to_dict(self) -> dict[str, Any]:
        return {**{name: getattr(self, name).tolist() for name in self._MEMORY}, "seen": self.seen}

    def load(self, memory: dict[str, Any]) -> None:
        for name in self._MEMORY:
            value = np.array(memory[name], dtype=np.float64)
            if value.shape != getattr(self, name).shape:
                raise DataError(f"stored tracker memory {name} has shape {value.shape}, expected "
                                f"{getattr(self, name).shape}: the run was started with other settings")
            setattr(self, name, value)
        self.seen = int(memory["seen"])


@dataclass(frozen=True, eq=False)
class AllocationInputs:
    """Per-bar inputs of a bar file: times (T,), quotes (T, N), tradable (T, N), targets
    (T, K, N + 1), bad (T, K), returns (T, K), states (T, D); ``first`` = first decision bar."""

    symbols: tuple[str, ...]
    strategies: tuple[str, ...]
    times: np.ndarray
    quotes: Quotes
    tradable: np.ndarray
    targets: np.ndarray
    bad: np.ndarray
    returns: np.ndarray
    states: np.ndarray
    first: int


def allocation_inputs(bars: Bars, strategies: StrategySet, config: AllocationConfig, *,
                      exact: bool = True, chunk: int = 1024) -> AllocationInputs:
    """:class:`AllocationInputs` of every bar (see the module docstring for ``exact``)."""
    quotes, tradable = carry_forward(bar_quotes(bars, book_broker(bars.symbols, config).instruments))
    T, H = len(bars.times), config.state.history
    if T <= H:
        raise DataError(f"{T} bars are not more than the {H} bars of history the strategies need",
                        path=bars.source, fix="Use more bars or a shorter StateConfig.history.")
    given = None
    if not exact:
        window = np.lib.stride_tricks.sliding_window_view(bars.close, H, axis=0).transpose(0, 2, 1)
        given = np.concatenate([strategies.targets(window[i:i + chunk], config.rules)
                                for i in range(0, len(window), chunk)])
    tracker = InputTracker(strategies, len(bars.symbols), config)
    rows = [tracker.push(bars.times[t], bars.close[t], quotes.bid[t], quotes.ask[t],
                         targets=None if given is None or t < H - 1 else given[t - H + 1]) for t in range(T)]
    stack = lambda i: np.stack([r[i] for r in rows])  # noqa: E731
    return AllocationInputs(bars.symbols, strategies.names, bars.times, quotes, tradable, stack(0), stack(1),
                            stack(2), stack(3), H - 1)


@dataclass(frozen=True, eq=False)
class BookRun:
    """A backtest of the book over bars ``start .. stop - 1`` (arrays over those bars).

    ``nav`` (S,) after each bar's trade; ``pnl`` (S,) change from the bar before (the
    first bar from the deposit); ``cost`` (S,) spread + commission; ``shares`` (S, K);
    ``strategy_pnl`` / ``strategy_cost`` (S, K + 1), CASH last; ``traded`` (S,) value traded.
    """

    times: np.ndarray
    nav: np.ndarray
    pnl: np.ndarray
    cost: np.ndarray
    traded: np.ndarray
    shares: np.ndarray
    strategy_pnl: np.ndarray
    strategy_cost: np.ndarray
    final: BookState

    @property
    def returns(self) -> np.ndarray:
        """Net simple return per bar."""
        before = np.concatenate([[self.nav[0] - self.pnl[0]], self.nav[:-1]])
        return self.nav / before - 1.0


def run_book(inputs: AllocationInputs, allocate: Allocator, config: AllocationConfig, *,
             start: int | None = None, stop: int | None = None) -> BookRun:
    """Backtest: at each bar the allocator's weights, then the netted trade (module docstring)."""
    start = inputs.first if start is None else int(start)
    stop = len(inputs.times) if stop is None else int(stop)
    if not inputs.first <= start < stop <= len(inputs.times):
        raise ConfigError(f"bars {start}..{stop} are outside {inputs.first}..{len(inputs.times)}")
    broker = book_broker(inputs.symbols, config)
    state = open_book(broker, len(inputs.strategies), config.deposit)
    rows: list[tuple] = []
    prev_navs = state.cash.copy()
    for t in range(start, stop):
        shares = shares_from_weights(allocate(inputs.states[t], inputs.returns[t]), inputs.bad[t], config.cash_floor)
        quotes = Quotes(inputs.quotes.bid[t], inputs.quotes.ask[t])
        step = book_step(broker, state, quotes, shares, inputs.targets[t], band=config.band,
                         tradable=inputs.tradable[t])
        state = step.state
        cost = np.append(step.strategy_costs, 0.0)
        traded = float(np.abs(step.fills.units[0]) @ quotes.mid)
        rows.append((step.nav, float(cost.sum()), traded, shares, step.strategy_navs - prev_navs + cost, cost))
        prev_navs = step.strategy_navs
    nav = np.array([r[0] for r in rows])
    pnl = np.diff(np.concatenate([[config.deposit], nav]))
    return BookRun(inputs.times[start:stop], nav, pnl, np.array([r[1] for r in rows]),
                   np.array([r[2] for r in rows]), np.stack([r[3] for r in rows]),
                   np.stack([r[4] for r in rows]), np.stack([r[5] for r in rows]), state)
