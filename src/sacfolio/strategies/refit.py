"""Strategies re-estimated on a schedule: when to refit, on which window, what a failed fit does.

The fitted strategies **refit and trade every ``refit_every`` = 4 weeks** on a
trailing window of weekly returns over the symbols available throughout that
window, and **hold** (return the drifted weights, no trade) in between. A refit
also happens at the start of a run (first call, ``reset()``, a jump in ``t``, or
nothing but CASH held: backtests start in cash, so one object can serve consecutive
folds) and when a held symbol stops trading. When a fit cannot be done (too little
history, a solver failure, invalid weights) the refit falls back to equal weight;
every fallback is counted in ``fallbacks`` and explained in ``fallback_log``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from sacfolio.broker.rules import PortfolioRules
from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import ConfigError
from sacfolio.strategies.base import PanelStrategy, invested

__all__ = ["FitFailed", "FittedStrategy", "RefitSchedule"]


@dataclass(frozen=True, kw_only=True)
class RefitSchedule:
    """When and on what the fitted strategies are re-estimated.

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


class FitFailed(Exception):
    """A fit that cannot produce weights for this window (turned into a counted fallback)."""


class FittedStrategy(PanelStrategy, ABC):
    """A strategy re-estimated every ``refit_every`` weeks on a trailing window.

    Subclasses implement :meth:`_fit` and may narrow :meth:`_window`.
    """

    def __init__(self, panel: MarketPanel, rules: PortfolioRules = PortfolioRules(), *,
                 schedule: RefitSchedule = RefitSchedule()) -> None:
        super().__init__(panel, rules)
        self.schedule = schedule
        self.fallbacks = 0
        self.fallback_log: list[tuple[str, str]] = []  # (decision date, reason)
        self.n_fits = 0
        self._fitted_at: int | None = None
        self._last_t: int | None = None

    def _window(self) -> tuple[int, int]:
        """Trailing returns the fit uses and the fewest it accepts."""
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
                 or not invested(drifted))
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
        except (FitFailed, OptimizationError, SolverError, np.linalg.LinAlgError) as err:
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
