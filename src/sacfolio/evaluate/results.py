"""Typed results of backtests and walk-forward runs (shared by backtest, metrics and report)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["BacktestResult", "Fold", "WalkForwardResult"]


@dataclass(frozen=True, kw_only=True)
class BacktestResult:
    """One strategy run over one span of S rebalancing periods.

    Attributes
    ----------
    name : str
        Strategy name (``"sac"``, ``"equal_weight"``, ...).
    symbols : tuple of str, length N
    dates : ndarray datetime64[D], shape (S + 1,)
        ``dates[s]`` is decision close s; ``dates[s + 1]`` ends period s.
    weights : ndarray float64, shape (S, N + 1)
        Target weights chosen at each decision close, last column CASH.
    returns : ndarray float64, shape (S,)
        Net simple portfolio return of each period, costs included.
    turnover : ndarray float64, shape (S,)
        Sum over stocks of |target - drifted| at each decision.
    costs : ndarray float64, shape (S,)
        Transaction cost of each decision as a fraction of portfolio value.
    spread, commission, financing : ndarray float64, shape (S,), optional
        Through a broker (``rules.broker``): ``costs`` split into half-spread and
        commission, and the financing received (< 0: paid) each period, fractions of
        portfolio value. None in the equity configuration.
    """

    name: str
    symbols: tuple[str, ...]
    dates: np.ndarray
    weights: np.ndarray
    returns: np.ndarray
    turnover: np.ndarray
    costs: np.ndarray
    spread: np.ndarray | None = None
    commission: np.ndarray | None = None
    financing: np.ndarray | None = None

    def __post_init__(self) -> None:
        S = len(self.returns)
        assert len(self.dates) == S + 1, (len(self.dates), S)
        assert self.weights.shape == (S, len(self.symbols) + 1), self.weights.shape
        assert len(self.turnover) == S and len(self.costs) == S
        for split in (self.spread, self.commission, self.financing):
            assert split is None or len(split) == S

    @property
    def through_broker(self) -> bool:
        """True when the run traded through a broker (the cost split is known)."""
        return self.spread is not None

    def sliced(self, first: int) -> "BacktestResult":
        """The periods ``first ..`` of this run (a later start of the same path)."""
        cut = lambda a: None if a is None else a[first:]  # noqa: E731
        return BacktestResult(name=self.name, symbols=self.symbols, dates=self.dates[first:],
                              weights=self.weights[first:], returns=self.returns[first:],
                              turnover=self.turnover[first:], costs=self.costs[first:],
                              spread=cut(self.spread), commission=cut(self.commission),
                              financing=cut(self.financing))

    @property
    def equity(self) -> np.ndarray:
        """Portfolio value on ``dates``, starting at 1.0; shape (S + 1,)."""
        return np.concatenate([[1.0], np.cumprod(1.0 + self.returns)])

    @staticmethod
    def concatenate(parts: list["BacktestResult"]) -> "BacktestResult":
        """Chain consecutive spans (e.g. walk-forward folds) into one result."""
        if not parts:
            raise ValueError("nothing to concatenate")
        first = parts[0]
        dates = [first.dates] + [p.dates[1:] for p in parts[1:]]
        for a, b in zip(parts, parts[1:]):
            if a.dates[-1] != b.dates[0]:
                raise ValueError(f"spans do not touch: {a.dates[-1]} then {b.dates[0]}")
        return BacktestResult(
            name=first.name, symbols=first.symbols, dates=np.concatenate(dates),
            weights=np.concatenate([p.weights for p in parts]),
            returns=np.concatenate([p.returns for p in parts]),
            turnover=np.concatenate([p.turnover for p in parts]),
            costs=np.concatenate([p.costs for p in parts]),
            **{k: np.concatenate([getattr(p, k) for p in parts]) if all(p.through_broker for p in parts) else None
               for k in ("spread", "commission", "financing")},
        )


@dataclass(frozen=True, kw_only=True)
class Fold:
    """One expanding-window walk-forward fold, as indices into the panel's dates.

    Training may use prices at rows ``<= train_stop`` only (its last transition ends
    at ``train_stop``). The test span makes decisions at rows ``test_start ..
    test_stop - 1`` and realizes returns up to row ``test_stop``;
    ``test_start == train_stop``, so no test return is seen in training.
    """

    label: str
    train_start: int
    train_stop: int
    test_start: int
    test_stop: int

    def __post_init__(self) -> None:
        assert self.train_start < self.train_stop <= self.test_start < self.test_stop


@dataclass(frozen=True, kw_only=True)
class WalkForwardResult:
    """Every strategy's backtest on every fold, plus what produced them."""

    symbols: tuple[str, ...]
    folds: tuple[Fold, ...]
    results: dict[str, tuple[BacktestResult, ...]]  # strategy name -> one result per fold
    info: dict = field(default_factory=dict)  # run settings, timings, training summaries
    # agent -> one tuple of per-fold results per seed-ensemble member (K > 1 only): the
    # single seeds behind the agent's averaged weights, for the report's seed band
    members: dict[str, tuple[tuple[BacktestResult, ...], ...]] = field(default_factory=dict)
    # on a generated market: the true mean of next week's simple returns per panel row,
    # (T, N) (the known model's, FactorMarket.expected_returns); None on real data
    known_expected: np.ndarray | None = None

    def combined_members(self, name: str) -> list[BacktestResult]:
        """Each ensemble member's folds chained into one result (empty without members)."""
        return [BacktestResult.concatenate(list(parts)) for parts in self.members.get(name, ())]

    def combined(self, name: str) -> BacktestResult:
        """The strategy's folds chained into one out-of-sample result."""
        return BacktestResult.concatenate(list(self.results[name]))
