"""Classical portfolios the agent is measured against, run through the same backtest.

Every baseline is a small object with a ``name`` and ``decide(t, obs, drifted) ->
weights`` (the backtest's decision signature): at decision close ``t`` it returns
target weights of shape (N + 1,), CASH last, using prices at rows ``<= t`` only —
except :class:`HindsightTop5`, which reads row ``t + 1`` on purpose to give a
ceiling and says so in ``uses_future``.

Targets are already feasible for the env's constraints: stocks get
``(1 - cash_floor)`` of the portfolio split by the strategy's rule, no stock above
``max_weight`` (the surplus of a capped stock is spread over the uncapped ones,
and goes to CASH only when every stock is at the cap), unavailable symbols 0.

The fitted baselines (:class:`InverseVolatility`, :class:`MinimumVariance`,
:class:`MaximumSharpe`, :class:`HRP`) **refit and trade every ``refit_every`` = 4
weeks** on a trailing window of weekly returns (``lookback`` = 156 weeks for the
skfolio optimizers, ``vol_window`` = 26 weeks for inverse volatility) over the
symbols available throughout that window, and **hold** (return the drifted
weights, no trade) in between. A refit also happens at the start of a run (first
call, ``reset()``, a jump in ``t``, or nothing but CASH held: backtests start in
cash, so one object can serve consecutive folds) and when a held symbol stops
trading. When a fit cannot be done (too little history, a solver failure, invalid
weights) the refit falls back to equal weight; every fallback is counted in
``fallbacks`` and explained in ``fallback_log``.

Holding between refits (and :class:`BuyAndHold` never trading) means the drifted
weights can pass the 20% cap or fall under the cash floor; the backtest's
projection onto the feasible set then trades the excess back, as it would for the
agent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import ConfigError, EvaluationWindowError

__all__ = [
    "BASELINES",
    "BuyAndHold",
    "EqualWeight",
    "HRP",
    "HindsightTop5",
    "InverseVolatility",
    "MaximumSharpe",
    "MinimumVariance",
    "RefitSchedule",
    "Strategy",
    "WeightConstraints",
    "cap_weights",
    "make_baselines",
]


class Constraints(Protocol):
    """Anything with the env's weight limits (``WeightConstraints``, ``EnvConfig``)."""

    @property
    def cash_floor(self) -> float: ...

    @property
    def max_weight(self) -> float: ...


class Strategy(Protocol):
    """What the backtest needs from a policy or baseline."""

    name: str
    uses_future: bool

    def decide(self, t: int, obs: np.ndarray | None, drifted: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True, kw_only=True)
class WeightConstraints:
    """Weight limits the baselines respect (the env's defaults).

    Attributes
    ----------
    cash_floor : float, default 0.02
        Minimum CASH weight, in [0, 1).
    max_weight : float, default 0.20
        Maximum weight per stock, in (0, 1].
    """

    cash_floor: float = 0.02
    max_weight: float = 0.20

    def __post_init__(self) -> None:
        if not 0.0 <= self.cash_floor < 1.0:
            raise ConfigError(f"cash_floor={self.cash_floor} must be in [0, 1) (e.g. 0.02 for 2% cash)")
        if not 0.0 < self.max_weight <= 1.0:
            raise ConfigError(f"max_weight={self.max_weight} must be in (0, 1] (e.g. 0.20 for 20% per stock)")


@dataclass(frozen=True, kw_only=True)
class RefitSchedule:
    """When and on what the fitted baselines are re-estimated.

    Attributes
    ----------
    refit_every : int, default 4
        Weeks between refits (and trades); the weights drift in between.
    lookback : int, default 156
        Trailing weekly returns the skfolio optimizers are fitted on (3 years).
    vol_window : int, default 26
        Trailing weekly returns of the inverse-volatility estimate (half a year).
    min_history : int, default 52
        Fewest trailing returns a skfolio fit accepts; with less it falls back.
    """

    refit_every: int = 4
    lookback: int = 156
    vol_window: int = 26
    min_history: int = 52

    def __post_init__(self) -> None:
        for name in ("refit_every", "lookback", "vol_window", "min_history"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"RefitSchedule.{name}={value!r} must be a positive whole number of weeks")
        if self.vol_window < 2 or self.min_history < 2:
            raise ConfigError("RefitSchedule.vol_window and min_history need at least 2 returns for a volatility")
        if self.min_history > self.lookback:
            raise ConfigError(f"RefitSchedule.min_history={self.min_history} exceeds lookback={self.lookback}")


def cap_weights(weights: np.ndarray, cap: float) -> np.ndarray:
    """Cap weights at ``cap`` and spread the surplus proportionally over the others.

    Parameters
    ----------
    weights : ndarray, shape (n,)
        Non-negative weights.
    cap : float
        Maximum weight per entry.

    Returns
    -------
    ndarray, shape (n,)
        Every entry ``<= cap``; the total is kept when ``(weights > 0).sum() * cap``
        allows it, otherwise every positive entry ends at ``cap``. Zero entries stay 0.
    """
    w = np.asarray(weights, dtype=np.float64).copy()
    for _ in range(len(w)):  # each pass caps at least one more entry
        over = w > cap
        if not over.any():
            break
        surplus = float((w[over] - cap).sum())
        w[over] = cap
        free = (w > 0) & (w < cap)
        if not free.any():
            break
        w[free] += surplus * w[free] / w[free].sum()
    return np.minimum(w, cap)


def _invested(drifted: np.ndarray) -> bool:
    """True when any stock is held (a run starts all in CASH)."""
    return bool((drifted[:-1] > 0).any())


class _FitFailed(Exception):
    """A fit that cannot produce weights for this window (turned into a counted fallback)."""


class _Baseline:
    """Shared checks and the mapping from stock weights to a feasible target."""

    name: ClassVar[str]
    uses_future: ClassVar[bool] = False

    def __init__(self, panel: MarketPanel, constraints: Constraints = WeightConstraints()) -> None:
        self.panel = panel
        self.constraints = constraints
        self._returns = panel.simple_returns()  # row t: t-1 -> t, known at t

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, {self.panel!r})"

    def _check(self, t: int, drifted: np.ndarray) -> np.ndarray:
        if not 0 <= t < self.panel.n_dates:
            raise EvaluationWindowError(f"decision row {t} is outside the panel's {self.panel.n_dates} rows")
        drifted = np.asarray(drifted, dtype=np.float64)
        if drifted.shape != (self.panel.n_symbols + 1,):
            raise ValueError(f"drifted weights must have shape ({self.panel.n_symbols + 1},), got {drifted.shape}")
        return drifted

    def _target(self, stock_weights: np.ndarray) -> np.ndarray:
        """(N,) stock weights summing to 1 -> (N + 1,) feasible target, CASH last."""
        c = self.constraints
        stocks = cap_weights(stock_weights * (1.0 - c.cash_floor), c.max_weight)
        return np.append(stocks, 1.0 - stocks.sum())

    def _equal(self, t: int) -> np.ndarray:
        avail = self.panel.available[t]
        if not avail.any():
            return np.append(np.zeros(self.panel.n_symbols), 1.0)
        return self._target(avail / avail.sum())

    def _hold(self, t: int, drifted: np.ndarray) -> np.ndarray:
        """The drifted weights, with any symbol that stopped trading moved to CASH."""
        w = drifted.copy()
        gone = ~self.panel.available[t]
        w[-1] += w[:-1][gone].sum()
        w[:-1][gone] = 0.0
        return w


class EqualWeight(_Baseline):
    """1/N: ``1 - cash_floor`` split equally over the symbols trading at t, rebalanced weekly."""

    name = "equal_weight"

    def decide(self, t: int, obs: np.ndarray | None, drifted: np.ndarray) -> np.ndarray:
        """Target weights at row t, shape (N + 1,); ``obs`` is not used."""
        self._check(t, drifted)
        return self._equal(t)


class BuyAndHold(_Baseline):
    """Equal weight at the first decision of a run, then never trades (drifted weights)."""

    name = "buy_and_hold"

    def __init__(self, panel: MarketPanel, constraints: Constraints = WeightConstraints()) -> None:
        super().__init__(panel, constraints)
        self._last_t: int | None = None

    def reset(self) -> None:
        """Forget the last decision: the next call buys again."""
        self._last_t = None

    def decide(self, t: int, obs: np.ndarray | None, drifted: np.ndarray) -> np.ndarray:
        """Equal weight when a run starts, else ``drifted`` (shape (N + 1,)).

        A run starts at the first call, after :meth:`reset`, when ``t`` does not follow
        the last call, or when nothing but CASH is held (a backtest starts in cash).
        """
        drifted = self._check(t, drifted)
        new_run = self._last_t is None or t != self._last_t + 1 or not _invested(drifted)
        self._last_t = t
        return self._equal(t) if new_run else self._hold(t, drifted)


class _Fitted(_Baseline, ABC):
    """A baseline re-estimated every ``refit_every`` weeks on a trailing window."""

    def __init__(self, panel: MarketPanel, constraints: Constraints = WeightConstraints(), *,
                 schedule: RefitSchedule = RefitSchedule()) -> None:
        super().__init__(panel, constraints)
        self.schedule = schedule
        self.fallbacks = 0
        self.fallback_log: list[tuple[str, str]] = []  # (decision date, reason)
        self.n_fits = 0
        self._fitted_at: int | None = None
        self._last_t: int | None = None

    # window of returns the fit uses and the fewest returns it accepts
    def _window(self) -> tuple[int, int]:
        return self.schedule.lookback, self.schedule.min_history

    @abstractmethod
    def _fit(self, returns: np.ndarray) -> np.ndarray:
        """(L, n) trailing returns -> (n,) weights summing to 1 (may raise a solver error)."""

    def reset(self) -> None:
        """Forget the last fit: the next call refits (counters are kept)."""
        self._fitted_at = None
        self._last_t = None

    def decide(self, t: int, obs: np.ndarray | None, drifted: np.ndarray) -> np.ndarray:
        """Refit and trade at a refit week, else hold the drifted weights; shape (N + 1,).

        Besides every ``refit_every`` weeks, a refit happens at the first call, after
        :meth:`reset`, when ``t`` does not follow the last call, when nothing but CASH
        is held (a backtest starts in cash) and when a held symbol stops trading.
        """
        drifted = self._check(t, drifted)
        held_gone = bool((drifted[:-1][~self.panel.available[t]] > 0).any())
        refit = (self._fitted_at is None or self._last_t is None or t != self._last_t + 1
                 or t - self._fitted_at >= self.schedule.refit_every or held_gone
                 or not _invested(drifted))
        self._last_t = t
        if not refit:
            return self._hold(t, drifted)
        self._fitted_at = t
        return self._refit(t)

    def _refit(self, t: int) -> np.ndarray:
        window, least = self._window()
        length = min(window, t)  # returns rows t-length+1 .. t need prices t-length .. t
        eligible = self.panel.available[t - length:t + 1].all(axis=0)
        if length < least or eligible.sum() < 2:
            return self._fallback(t, f"{length} trailing weeks and {int(eligible.sum())} symbols "
                                     f"with full history (need {least} weeks and 2 symbols)")
        X = self._returns[t - length + 1:t + 1][:, eligible]
        from cvxpy import SolverError
        from skfolio.exceptions import OptimizationError

        try:
            w = np.asarray(self._fit(X), dtype=np.float64)
        except (_FitFailed, OptimizationError, SolverError, np.linalg.LinAlgError) as err:
            return self._fallback(t, f"{type(err).__name__}: {err}")
        if w.shape != (int(eligible.sum()),) or not np.isfinite(w).all() or (w < -1e-8).any() \
                or abs(w.sum() - 1.0) > 1e-6:
            return self._fallback(t, f"optimizer returned invalid weights (sum {w.sum():.6g})")
        self.n_fits += 1
        full = np.zeros(self.panel.n_symbols)
        full[eligible] = np.clip(w, 0.0, None) / np.clip(w, 0.0, None).sum()
        return self._target(full)

    def _fallback(self, t: int, reason: str) -> np.ndarray:
        self.fallbacks += 1
        self.fallback_log.append((str(self.panel.dates[t]), reason))
        return self._equal(t)


class InverseVolatility(_Fitted):
    """Weights proportional to 1 / trailing ``vol_window``-week volatility (sample std)."""

    name = "inverse_volatility"

    def _window(self) -> tuple[int, int]:
        return self.schedule.vol_window, self.schedule.vol_window

    def _fit(self, returns: np.ndarray) -> np.ndarray:
        vol = returns.std(axis=0, ddof=1)
        if (vol <= 0).any():
            raise _FitFailed(f"{int((vol <= 0).sum())} symbol(s) have zero volatility")
        inv = 1.0 / vol
        return inv / inv.sum()


class _Skfolio(_Fitted, ABC):
    """A skfolio optimizer fitted with the stock cap as ``max_weights``."""

    @abstractmethod
    def _optimizer(self, cap: float) -> Any:
        """A fresh skfolio estimator with ``max_weights=cap``."""

    def _fit(self, returns: np.ndarray) -> np.ndarray:
        # a cap below 1/n cannot hold a fully invested portfolio; _target re-caps after scaling
        cap = max(self.constraints.max_weight, 1.0 / returns.shape[1])
        model = self._optimizer(cap)
        try:
            model.fit(returns)
        except ValueError as err:  # e.g. max-Sharpe when every expected return is below 0
            raise _FitFailed(str(err)) from err
        return model.weights_


class MinimumVariance(_Skfolio):
    """skfolio ``MeanRisk`` minimizing variance, each stock at most ``max_weight``."""

    name = "min_variance"

    def _optimizer(self, cap: float) -> Any:
        from skfolio.optimization import MeanRisk, ObjectiveFunction

        return MeanRisk(objective_function=ObjectiveFunction.MINIMIZE_RISK, max_weights=cap)


class MaximumSharpe(_Skfolio):
    """skfolio ``MeanRisk`` maximizing mean / standard deviation (risk-free 0), capped."""

    name = "max_sharpe"

    def _optimizer(self, cap: float) -> Any:
        from skfolio.measures import RiskMeasure
        from skfolio.optimization import MeanRisk, ObjectiveFunction

        return MeanRisk(objective_function=ObjectiveFunction.MAXIMIZE_RATIO,
                        risk_measure=RiskMeasure.VARIANCE, max_weights=cap)


class HRP(_Skfolio):
    """skfolio ``HierarchicalRiskParity`` (variance), with its ``max_weights`` cap."""

    name = "hrp"

    def _optimizer(self, cap: float) -> Any:
        from skfolio.optimization import HierarchicalRiskParity

        return HierarchicalRiskParity(max_weights=cap)


class HindsightTop5(_Baseline):
    """CEILING, NOT A STRATEGY: reads the future.

    At t, the ``k`` symbols with the best return over ``t -> t + 1`` each get
    ``min(max_weight, (1 - cash_floor) / k)`` (19.6% with the defaults: 20% each would
    break the 2% cash floor), the rest is CASH. It shows how far everyone is from
    perfect foresight under the same constraints and costs.
    """

    name = "hindsight_top5"
    uses_future = True

    def __init__(self, panel: MarketPanel, constraints: Constraints = WeightConstraints(), *,
                 k: int = 5) -> None:
        super().__init__(panel, constraints)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"HindsightTop5 k={k!r} must be a positive whole number of stocks")
        self.k = k
        self.name = f"hindsight_top{k}"

    def decide(self, t: int, obs: np.ndarray | None, drifted: np.ndarray) -> np.ndarray:
        """Target weights at row t from the return of row t + 1, shape (N + 1,)."""
        self._check(t, drifted)
        if t + 1 >= self.panel.n_dates:
            raise EvaluationWindowError(
                f"{self.name} needs the next week's prices; row {t} ({self.panel.dates[t]}) is the last one")
        both = self.panel.available[t] & self.panel.available[t + 1]
        ahead = np.where(both, self._returns[t + 1], -np.inf)
        best = np.argsort(-ahead, kind="stable")[:min(self.k, int(both.sum()))]
        w = np.zeros(self.panel.n_symbols + 1)
        w[best] = min(self.constraints.max_weight, (1.0 - self.constraints.cash_floor) / self.k)
        w[-1] = 1.0 - w[:-1].sum()
        return w


BaselineFactory = Callable[[MarketPanel, Constraints, RefitSchedule], Strategy]

BASELINES: dict[str, BaselineFactory] = {
    EqualWeight.name: lambda panel, c, s: EqualWeight(panel, c),
    BuyAndHold.name: lambda panel, c, s: BuyAndHold(panel, c),
    InverseVolatility.name: lambda panel, c, s: InverseVolatility(panel, c, schedule=s),
    MinimumVariance.name: lambda panel, c, s: MinimumVariance(panel, c, schedule=s),
    MaximumSharpe.name: lambda panel, c, s: MaximumSharpe(panel, c, schedule=s),
    HRP.name: lambda panel, c, s: HRP(panel, c, schedule=s),
    HindsightTop5.name: lambda panel, c, s: HindsightTop5(panel, c),
}
"""Baseline name -> factory ``(panel, constraints, schedule) -> strategy``."""


def make_baselines(
    panel: MarketPanel,
    names: Iterable[str] | None = None,
    *,
    constraints: Constraints = WeightConstraints(),
    schedule: RefitSchedule = RefitSchedule(),
) -> dict[str, Strategy]:
    """Build baselines by name, in the order given (default: all of :data:`BASELINES`).

    Raises
    ------
    ConfigError
        If a name is not in :data:`BASELINES`.
    """
    chosen = list(BASELINES) if names is None else list(names)
    unknown = [n for n in chosen if n not in BASELINES]
    if unknown:
        raise ConfigError(f"unknown baseline(s) {unknown}; choose from {sorted(BASELINES)}")
    return {n: BASELINES[n](panel, constraints, schedule) for n in chosen}
