"""Backtests: the portfolio env run with a fixed decision rule, through the training cost code.

:func:`run_backtest` steps a :class:`PortfolioCore` (the agent's, with its features);
:func:`backtest_strategy` runs a classical strategy over a panel alone, on a core
with no features, through the same projection and cost code: no trained model needed.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from sacfolio.broker.rules import PortfolioRules
from sacfolio.data.panel import MarketPanel
from sacfolio.env.actions import action_to_weights, benchmark_weights
from sacfolio.env.config import EnvConfig
from sacfolio.env.core import PortfolioCore
from sacfolio.evaluate.results import BacktestResult, Fold
from sacfolio.exceptions import EvaluationWindowError
from sacfolio.strategies.base import Strategy

__all__ = ["Decide", "backtest_strategy", "market_core", "policy_decider", "run_backtest"]

Decide = Callable[[int, np.ndarray, np.ndarray], np.ndarray]
"""``decide(t, obs (obs_dim,), drifted (N + 1,)) -> target weights (N + 1,)``."""


def run_backtest(
    core: PortfolioCore,
    decide: Decide,
    *,
    start: int,
    stop: int,
    dates: np.ndarray,
    symbols: tuple[str, ...],
    name: str,
) -> BacktestResult:
    """Run one portfolio from 100% CASH with decisions at rows ``start .. stop - 1``.

    At each row t, ``decide(t, obs, drifted)`` returns target weights (any finite
    weights: the core projects them onto the constraints at row t), the core trades
    towards them under its execution rules (:meth:`PortfolioCore.trade_weights`),
    charges costs on the drift and realizes the returns of row t + 1. This resets
    ``core`` to a batch of one portfolio.

    Parameters
    ----------
    core : PortfolioCore
        The same core (returns, features, config) the agent trained in.
    decide : callable
        ``decide(t, obs (obs_dim,) float32, drifted (N + 1,) float64) -> (N + 1,)``.
    start, stop : int
        First decision row and last return row, ``0 <= start < stop <= T - 1``.
    dates : ndarray datetime64[D], shape (stop - start + 1,)
        ``panel.dates[start : stop + 1]``.
    symbols : tuple of str, length N
    name : str
        Strategy name in the result.

    Returns
    -------
    BacktestResult
        S = stop - start periods: the weights traded to (projected, after execution),
        net returns, turnover, costs.
    """
    if not 0 <= start < stop <= core.n_rows - 1:
        raise EvaluationWindowError(f"backtest rows start={start}, stop={stop} must satisfy "
                                    f"0 <= start < stop <= {core.n_rows - 1}.")
    dates = np.asarray(dates).astype("datetime64[D]")
    if len(dates) != stop - start + 1:
        raise EvaluationWindowError(f"dates has {len(dates)} entries; rows {start}..{stop} need "
                                    f"{stop - start + 1} (panel.dates[start:stop + 1]).")
    if len(symbols) != core.n_symbols:
        raise EvaluationWindowError(f"{len(symbols)} symbols given, the core has {core.n_symbols}.")
    S, M = stop - start, core.act_dim
    weights, returns = np.empty((S, M)), np.empty(S)
    turnover, costs = np.empty(S), np.empty(S)
    split = {k: np.empty(S) for k in ("spread", "commission", "financing")} if core.through_broker else {}
    obs = core.reset(np.array([start]), np.array([stop]))
    drifted = core.weights[0]
    for s in range(S):
        target = np.asarray(decide(start + s, obs[0], drifted), dtype=np.float64)
        if target.shape != (M,):
            raise ValueError(f"decide returned shape {target.shape} at row {start + s}; expected ({M},)")
        obs, _, _, info = core.step_weights(target[None, :])
        drifted = core.weights[0]
        weights[s], returns[s] = info["weights"][0], info["net_return"][0]
        turnover[s], costs[s] = info["turnover"][0], info["cost"][0]
        for key, values in split.items():
            values[s] = info[key][0]  # type: ignore[literal-required]
    return BacktestResult(name=name, symbols=tuple(symbols), dates=dates, weights=weights,
                          returns=returns, turnover=turnover, costs=costs, **split)


def policy_decider(
    act_fn: Callable[[np.ndarray], np.ndarray],
    config: EnvConfig,
    available: np.ndarray,
    benchmark: np.ndarray | None = None,
) -> Decide:
    """Turn a deterministic policy into a ``decide`` function for :func:`run_backtest`.

    Parameters
    ----------
    act_fn : callable
        ``act_fn(obs (1, obs_dim) float32) -> action (1, N + 1)`` in [-1, 1].
    config : EnvConfig
        Action mode, its scale or tilt, and constraints (the training env's config).
    available : ndarray bool, shape (T, N)
        Tradable stocks per row (``panel.available``).
    benchmark : ndarray float, shape (T, N + 1), optional
        The residual mode's benchmark weights per row (``core.benchmark``); default the
        constrained equal weight, as in the core.

    Returns
    -------
    callable
        ``decide(t, obs, drifted) = action_to_weights(act_fn(obs[None]), config, available[t],
        benchmark[t])[0]``: the policy's target; the core then applies the execution rules.
    """
    available = np.asarray(available, dtype=bool)
    table = benchmark_weights(available, config.rules, benchmark) if config.action_mode == "residual" else None

    def decide(t: int, obs: np.ndarray, drifted: np.ndarray) -> np.ndarray:
        action = np.asarray(act_fn(obs[None, :]), dtype=np.float64)
        return action_to_weights(action, config, available[t], None if table is None else table[t])[0]

    return decide


def market_core(panel: MarketPanel, rules: PortfolioRules) -> PortfolioCore:
    """A core over ``panel``'s returns and availability with no features (F = 0).

    Its observations are just the drifted weights: enough for strategies, which
    decide from prices and weights, never from the agent's state.
    """
    features = np.zeros((panel.n_dates, panel.n_symbols, 0))
    return PortfolioCore(panel.simple_returns(), features, panel.available, EnvConfig(rules=rules), panel=panel)


def backtest_strategy(panel: MarketPanel, strategy: Strategy, fold: Fold, rules: PortfolioRules, *,
                      name: str | None = None) -> BacktestResult:
    """Run ``strategy`` over the fold's test span under ``rules``, from 100% CASH.

    Parameters
    ----------
    panel : MarketPanel
        The prices the strategy was built on.
    strategy : Strategy
    fold : Fold
        Decisions at rows ``fold.test_start .. fold.test_stop - 1``.
    rules : PortfolioRules
        Constraints and costs (the agent's, for a fair comparison).
    name : str, optional
        Name in the result (default ``strategy.name``).

    Returns
    -------
    BacktestResult
    """
    return run_backtest(market_core(panel, rules), strategy.decide, start=fold.test_start, stop=fold.test_stop,
                        dates=panel.dates[fold.test_start:fold.test_stop + 1], symbols=panel.symbols,
                        name=strategy.name if name is None else name)
