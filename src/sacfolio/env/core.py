"""Batched portfolio simulator: B portfolios stepped at once on shared market arrays.

No I/O, no pandas: every step is a handful of numpy operations on (B, N + 1) arrays.
The same code prices training rewards and backtests, so a backtest is the env run
with a fixed policy.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

import numpy as np

from sacfolio.broker.costs import Rebalance, asset_growth, rebalance, turnover
from sacfolio.broker.execution import execute
from sacfolio.broker.projection import FeasibleSet
from sacfolio.data.panel import MarketPanel
from sacfolio.env.actions import benchmark_weights, masked_softmax, residual_point
from sacfolio.env.broker_book import BrokerBook
from sacfolio.env.config import EnvConfig
from sacfolio.env.rewards import excess_log_return, log_return
from sacfolio.exceptions import ConfigError, DataError, EvaluationWindowError

__all__ = ["PortfolioCore", "StepInfo"]


class StepInfo(TypedDict):
    """What one step did, per portfolio (all arrays have leading dimension B).

    Keys
    ----
    turnover : ndarray float64, shape (B,)
        Sum over stocks of |target - drifted| at the decision.
    cost : ndarray float64, shape (B,)
        Transaction cost as a fraction of portfolio value before the decision.
    net_return : ndarray float64, shape (B,)
        Simple portfolio return of the period, costs included (``exp(reward) - 1``).
    weights : ndarray float64, shape (B, N + 1)
        Weights traded to and held over the period (the projected target after the
        execution rules), CASH last.
    t : ndarray int64, shape (B,)
        Row of the decision; the period's returns are those of row ``t + 1``.
    spread, commission, financing : ndarray float64, shape (B,)
        Only with a broker (``rules.broker``): the cost split into the half-spread and the
        commission paid (``cost`` is their sum) and the financing received (< 0: paid),
        each a fraction of portfolio value before the decision.
    """

    turnover: np.ndarray
    cost: np.ndarray
    net_return: np.ndarray
    weights: np.ndarray
    t: np.ndarray
    spread: NotRequired[np.ndarray]
    commission: NotRequired[np.ndarray]
    financing: NotRequired[np.ndarray]


class PortfolioCore:
    """B long-only portfolios over N stocks and CASH, rebalanced at each row.

    Parameters
    ----------
    returns : ndarray float, shape (T, N)
        Simple returns; row t is the return from row t-1 to row t
        (:meth:`MarketPanel.simple_returns`). CASH earns 0.
    features : ndarray float, shape (T, N, F)
        Finite state features; row t may use information up to row t only.
    available : ndarray bool, shape (T, N)
        Tradable stocks per row; unavailable stocks are forced to weight 0.
    config : EnvConfig
        Portfolio rules (constraints, costs), execution, action mode and reward.
    benchmark : ndarray float, shape (T, N + 1), optional
        Benchmark weights per row for the residual action mode and the excess reward
        (:func:`~sacfolio.env.actions.benchmark_weights`; default the constrained equal
        weight). Unused by the softmax mode with the log-return reward.
    training : bool, default False
        A training env: costs are charged at ``cost_rate * config.train_cost_multiplier``.
        Backtests and serving (the default) pay the rules' cost.
    panel : MarketPanel, optional
        The prices and dates behind ``returns``; required when ``config.rules.broker`` is
        set: the portfolios are then accounts at the broker
        (:class:`~sacfolio.env.broker_book.BrokerBook`) and pay its spread, commission and
        financing instead of ``cost_bps`` on turnover.

    Notes
    -----
    Observation at row t (float32, length ``obs_dim = N * F + N + 1``) is
    ``features[t].ravel()`` followed by the current drifted weights incl. CASH
    (``F`` may be 0: a market-only core for strategies that need no state).
    A step at row t: map the action to a target and project it
    (:class:`~sacfolio.broker.projection.FeasibleSet`), apply the execution rules
    (:func:`~sacfolio.broker.execution.execute`: the traded weights ``w``), then the
    broker's :func:`~sacfolio.broker.costs.rebalance`: pay ``cost = cost_rate * turnover``,
    earn ``gross = sum(w * (1 + r[t + 1]))``; reward ``log((1 - cost) * gross)`` (less the
    benchmark portfolio's, for the excess reward); weights drift to
    ``w * (1 + r[t + 1]) / gross``; ``t += 1``.
    """

    def __init__(self, returns: np.ndarray, features: np.ndarray, available: np.ndarray,
                 config: EnvConfig, *, benchmark: np.ndarray | None = None, training: bool = False,
                 panel: MarketPanel | None = None) -> None:
        returns = np.asarray(returns, dtype=np.float64)
        features = np.asarray(features, dtype=np.float64)
        available = np.asarray(available, dtype=bool)
        if returns.ndim != 2:
            raise DataError(f"returns must be (T, N), got shape {returns.shape}")
        T, N = returns.shape
        if features.ndim != 3 or features.shape[:2] != (T, N):
            raise DataError(f"features must be (T, N, F) = ({T}, {N}, F), got shape {features.shape}")
        if available.shape != (T, N):
            raise DataError(f"available must be (T, N) = ({T}, {N}), got shape {available.shape}")
        if T < 2:
            raise DataError(f"need at least 2 rows (one decision and its return), got {T}")
        if not np.isfinite(returns).all():
            t, n = np.argwhere(~np.isfinite(returns))[0]
            raise DataError(f"return {float(returns[t, n])!r} is not finite", column=f"symbol {n}", row=int(t))
        if (returns <= -1.0).any():
            t, n = np.argwhere(returns <= -1.0)[0]
            raise DataError(f"return {float(returns[t, n])!r} is <= -100%", column=f"symbol {n}", row=int(t))
        if not np.isfinite(features).all():
            t, n, f = np.argwhere(~np.isfinite(features))[0]
            raise DataError(f"feature {f} of symbol {n} is {float(features[t, n, f])!r}; features must be finite",
                            row=int(t))
        self.config = config
        self.n_rows, self.n_symbols, self.n_features = T, N, features.shape[2]
        self.obs_dim = N * self.n_features + N + 1
        self.act_dim = N + 1
        self.available = available
        self.returns = returns.copy()
        self.returns.flags.writeable = False  # (T, N) simple returns; the trainer's aux labels
        # observation rows: features[t].ravel() and room for the weights (one gather per step)
        self._obs_rows = np.zeros((T, self.obs_dim), dtype=np.float32)
        self._obs_rows[:, : N * self.n_features] = features.reshape(T, -1)
        self._feat = self._obs_rows[:, : N * self.n_features]
        # per-row tables so a step only gathers rows: growth 1 + r with CASH growth 1,
        # 0/1 softmax mask, the feasible sets of the projection
        self._growth = asset_growth(returns)
        self._open = np.ones((T, N + 1))
        self._open[:, :N] = available
        self._feasible = FeasibleSet(available, config.rules)
        self._cap = np.ascontiguousarray(self._feasible.hi[:, :N])
        self.training = bool(training)
        self._cost_rate = config.rules.cost_rate
        if self.training and config.train_cost_multiplier != 1.0:
            self._cost_rate *= config.train_cost_multiplier
        self._bench = None
        if benchmark is not None or config.needs_benchmark:
            self._bench = benchmark_weights(available, config.rules, benchmark)
            self._bench.flags.writeable = False
        self._excess = config.reward == "excess_log_return"
        self._books = self._open_books(config, panel, (T, N))
        self._t = np.zeros(0, dtype=np.int64)
        self._stop = np.zeros(0, dtype=np.int64)
        self._left = 0  # min(stop - t): steps until the first portfolio's episode ends
        self._w = np.zeros((0, N + 1))
        self._wb = np.zeros((0, N + 1))  # the benchmark portfolios of the excess reward

    def _open_books(self, config: EnvConfig, panel: MarketPanel | None,
                    shape: tuple[int, int]) -> tuple[BrokerBook, BrokerBook] | None:
        """The agent's and the benchmark's broker accounts, when the rules name a broker."""
        venue = config.rules.broker
        if venue is None:
            return None
        if panel is None or (panel.n_dates, panel.n_symbols) != shape:
            raise ConfigError("a core that trades through a broker needs the panel behind its returns "
                              "(PortfolioCore(..., panel=panel)) for prices and dates")
        if self.training and config.train_cost_multiplier != 1.0:
            raise ConfigError("train_cost_multiplier must be 1.0 with a broker: its spread and commission are "
                              "the costs (edit the instrument file to train with other costs)")
        def book() -> BrokerBook:
            return BrokerBook(venue, panel.symbols, panel.close, panel.dates, self.available)
        return book(), book()

    # ----------------------------------------------------------------- state
    @property
    def batch_size(self) -> int:
        """Number of portfolios B set by the last :meth:`reset`."""
        return len(self._t)

    @property
    def t(self) -> np.ndarray:
        """Current row of each portfolio, shape (B,) (a copy)."""
        return self._t.copy()

    @property
    def stop(self) -> np.ndarray:
        """Row at which each portfolio's episode ends, shape (B,) (a copy)."""
        return self._stop.copy()

    @property
    def weights(self) -> np.ndarray:
        """Current drifted weights, shape (B, N + 1), CASH last (a copy)."""
        return self._w.copy()

    @property
    def through_broker(self) -> bool:
        """True when the portfolios trade through a broker (``config.rules.broker``)."""
        return self._books is not None

    @property
    def cost_rate(self) -> float:
        """Cost per unit of turnover this core charges (training multiplier included)."""
        return self._cost_rate

    @property
    def benchmark(self) -> np.ndarray:
        """Benchmark weights per row, shape (T, N + 1), CASH last (read-only)."""
        if self._bench is None:
            self._bench = benchmark_weights(self.available, self.config.rules)
            self._bench.flags.writeable = False
        return self._bench

    def observe(self) -> np.ndarray:
        """Observations at the current rows, float32 of shape (B, obs_dim)."""
        obs = self._obs_rows.take(self._t, axis=0)
        obs[:, self._feat.shape[1]:] = self._w
        return obs

    def observation_at(self, t: int, weights: np.ndarray) -> np.ndarray:
        """The observation at row ``t`` of a portfolio holding ``weights``.

        For serving: any row, the last included, without starting an episode.

        Parameters
        ----------
        t : int
            Row, ``0 <= t < T``.
        weights : ndarray, shape (N + 1,)
            Current weights incl. CASH.

        Returns
        -------
        ndarray float32, shape (obs_dim,)
        """
        if not 0 <= int(t) < self.n_rows:
            raise EvaluationWindowError(f"row {t} is outside the data's {self.n_rows} rows")
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (self.act_dim,):
            raise ValueError(f"weights must have shape ({self.act_dim},), got {weights.shape}")
        return np.concatenate([self._feat[int(t)], weights.astype(np.float32)])

    # ----------------------------------------------------------------- reset
    def reset(self, start: np.ndarray, stop: np.ndarray, *, which: np.ndarray | None = None) -> np.ndarray:
        """Start episodes at rows ``start`` that end when ``t == stop``, all in CASH.

        Parameters
        ----------
        start, stop : array_like of int, shape (B,) or (K,)
            First decision row and end row, ``0 <= start < stop <= T - 1``.
        which : array_like of bool, shape (B,), optional
            Reset only these portfolios of the current batch (``start``/``stop`` then
            have one entry per True). Default: a new batch of ``len(start)``.

        Returns
        -------
        ndarray float32, shape (B, obs_dim)
            Observations of the whole batch.
        """
        start = np.atleast_1d(np.asarray(start, dtype=np.int64))
        stop = np.atleast_1d(np.asarray(stop, dtype=np.int64))
        if start.shape != stop.shape or start.ndim != 1:
            raise ValueError(f"start {start.shape} and stop {stop.shape} must be equal 1-d shapes")
        bad = (start < 0) | (stop <= start) | (stop > self.n_rows - 1)
        if bad.any():
            i = int(np.argmax(bad))
            raise EvaluationWindowError(
                f"episode rows start={int(start[i])}, stop={int(stop[i])} must satisfy "
                f"0 <= start < stop <= {self.n_rows - 1} (the data has {self.n_rows} rows)."
            )
        cash = np.zeros((len(start), self.act_dim))
        cash[:, -1] = 1.0
        if self._books is not None:
            for book in self._books:
                book.reset(len(start), None if which is None else np.asarray(which, dtype=bool))
        if which is None:
            self._t, self._stop, self._w = start.copy(), stop.copy(), cash
            self._wb = cash.copy()
        else:
            which = np.asarray(which, dtype=bool)
            if which.shape != self._t.shape or int(which.sum()) != len(start):
                raise ValueError(f"which must be a ({len(self._t)},) mask with {len(start)} True entries")
            self._t[which], self._stop[which], self._w[which] = start, stop, cash
            self._wb[which] = cash
        self._left = int((self._stop - self._t).min()) if len(self._t) else 0
        return self.observe()

    # ------------------------------------------------------------------ step
    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, StepInfo]:
        """Trade towards ``action_to_weights(action)`` at the current rows and advance one row.

        Parameters
        ----------
        action : ndarray float, shape (B, N + 1)
            Actions in [-1, 1] (clipped), CASH last.

        Returns
        -------
        obs : ndarray float32, shape (B, obs_dim)
        reward : ndarray float64, shape (B,)
            ``log`` of net growth of portfolio value over the period (less the benchmark
            portfolio's for ``reward="excess_log_return"``).
        done : ndarray bool, shape (B,)
            True where the episode reached its stop row (a time limit, not a terminal state).
        info : StepInfo
        """
        t = self._check_running()
        action = np.asarray(action, dtype=np.float64)
        if self.config.action_mode == "residual":
            point = residual_point(action, self.benchmark[t], self._open[t, :-1], self.config.tilt)
            target = self._feasible.nearest(point, t)
        else:
            soft = masked_softmax(action, self.config.logit_scale, self._feasible.tradable(t))
            target = self._feasible.project(soft, t)
        return self._advance(t, self._execute(target, self._w, t))

    def step_weights(self, target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, StepInfo]:
        """Trade towards ``target`` (projected onto the constraints at the current rows) and advance.

        Parameters
        ----------
        target : ndarray float, shape (B, N + 1)
            Any finite weights, CASH last; they are projected first.

        Returns
        -------
        Same as :meth:`step`.
        """
        t = self._check_running()
        target = np.asarray(target, dtype=np.float64)
        if target.shape != self._w.shape:
            raise ValueError(f"target weights must have shape {self._w.shape}, got {target.shape}")
        if not np.isfinite(target).all():
            raise ValueError("target weights must be finite")
        return self._advance(t, self.trade_weights(target, t, self._w))

    def trade_weights(self, target: np.ndarray, rows: np.ndarray, drifted: np.ndarray) -> np.ndarray:
        """The weights a step at ``rows`` trades to from ``drifted`` for ``target``.

        What :meth:`step_weights` holds over the period (and serving answers): ``target``
        projected onto the rules of each row (a feasible target is kept bit for bit, as
        :meth:`step` keeps a zero tilt's benchmark: the water-filling returns a feasible
        point only to ~1e-16, and how far depends on numpy's summation order), then the
        execution rules from ``drifted``.

        Parameters
        ----------
        target, drifted : ndarray float64, shape (B, N + 1)
        rows : ndarray int, shape (B,)

        Returns
        -------
        ndarray float64, shape (B, N + 1)
        """
        rows = np.asarray(rows, dtype=np.int64)
        return self._execute(self._feasible.nearest(target, rows), drifted, rows)

    def _execute(self, target: np.ndarray, drifted: np.ndarray, rows: np.ndarray) -> np.ndarray:
        execution = self.config.execution
        if execution.immediate:
            return target
        return execute(target, drifted, self._cap[rows], self.config.rules.cash_floor, execution)

    def _check_running(self) -> np.ndarray:
        if self._left <= 0:  # also before any reset: no portfolios
            raise RuntimeError("step() on a finished or never started episode: call reset() first")
        return self._t

    def _advance(self, t: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, StepInfo]:
        fill, split = self._fill(0, target, self._w, t)
        if self._excess:
            held = self._execute(self.benchmark[t], self._wb, t)
            bench, _ = self._fill(1, held, self._wb, t)
            reward = excess_log_return(fill.growth, bench.growth)
            self._wb = bench.drifted
        else:
            reward = log_return(fill.growth)
        self._w = fill.drifted
        self._t = t + 1
        self._left -= 1
        obs = self.observe()
        info: StepInfo = {"turnover": fill.turnover, "cost": fill.cost, "net_return": fill.growth - 1.0,
                          "weights": target, "t": t}
        if split is not None:
            info.update(split)  # type: ignore[typeddict-item]
        return obs, reward, self._t == self._stop, info

    def _fill(self, which: int, target: np.ndarray, drifted: np.ndarray,
              t: np.ndarray) -> tuple[Rebalance, dict[str, np.ndarray] | None]:
        """One period of the agent's (``which=0``) or the benchmark's (1) portfolios."""
        if self._books is None:
            return rebalance(target, drifted, self._growth.take(t + 1, axis=0), self._cost_rate), None
        step = self._books[which].trade(target, t)
        fill = Rebalance(turnover(target, drifted), step.spread + step.commission, step.growth, step.drifted)
        return fill, {"spread": step.spread, "commission": step.commission, "financing": step.financing}
