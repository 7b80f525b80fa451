"""Performance metrics of a weekly net-return series.

Conventions (stated once, used by every metric, the report and the promotion gate):

* Input is a series of **simple net returns** per rebalancing period, costs included,
  ``r[s] = V[s + 1] / V[s] - 1``. Periods are weeks: **52 periods a year**.
* Equity starts at 1.0: ``V[0] = 1``, ``V[s + 1] = prod(1 + r[:s + 1])``.
* **CAGR** is compounded: ``V[S] ** (52 / S) - 1`` (``-1`` after a total loss).
* **Volatility** is the **sample** standard deviation (``ddof=1``) times ``sqrt(52)``.
* **Sharpe** is ``mean(r) / std(r, ddof=1) * sqrt(52)`` with a risk-free rate of 0.
* **Sortino** is ``mean(r) * 52 / (sqrt(mean(min(r, 0) ** 2)) * sqrt(52))``: the
  downside deviation below a target of 0, averaged over *all* periods.
* **Max drawdown** is the worst compounded fall from a running peak of equity,
  ``min_s V[s] / max_{u <= s} V[u] - 1``, with ``V[0] = 1`` included, so a loss in
  the first period counts. It is reported as a **negative** fraction (``-0.25``).
* **Calmar** is ``CAGR / |max drawdown|``.
* A ratio whose denominator is 0 (a flat series, no losing period, no drawdown)
  is undefined and returned as ``NaN``; so is any metric of fewer than 2 periods.

These agree with empyrical-reloaded (``period="weekly"``) wherever both are defined.
Every function reduces over the last axis, so ``(S,)`` gives a float and ``(B, S)``
gives ``(B,)`` (the bootstrap evaluates thousands of resampled series at once).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from sacfolio.evaluate.results import BacktestResult

__all__ = [
    "CONVENTIONS",
    "PERIODS_PER_YEAR",
    "Metrics",
    "annual_volatility",
    "cagr",
    "calmar",
    "max_drawdown",
    "metrics_table",
    "sharpe",
    "sortino",
    "summarize",
]

PERIODS_PER_YEAR = 52
"""Rebalancing periods per year (weekly decisions)."""

CONVENTIONS = (
    "Weekly simple net returns (costs included), 52 periods a year, risk-free rate 0. "
    "CAGR is compounded: final value ** (52 / weeks) - 1. Volatility and Sharpe use the sample "
    "standard deviation (ddof = 1), annualized by sqrt(52). Sortino divides by the downside "
    "deviation below 0 averaged over all weeks. Max drawdown is the worst compounded fall of "
    "equity from its running peak (starting value included), shown negative; Calmar is "
    "CAGR / |max drawdown|. Undefined ratios are shown as n/a."
)
"""The conventions above in one paragraph, for reports."""


def _as_returns(returns: np.ndarray) -> np.ndarray:
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim == 0:
        raise ValueError("returns must have at least one axis (periods last), got a scalar")
    return r


def _out(x: np.ndarray) -> float | np.ndarray:
    """A float for a single series, an array for a batch."""
    return float(x) if np.ndim(x) == 0 else x


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with NaN where the denominator is 0 or not finite."""
    num, den = np.broadcast_arrays(np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64))
    ok = np.isfinite(den) & (den != 0)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=ok)
    return out


def cagr(returns: np.ndarray) -> float | np.ndarray:
    """Compound annual growth rate.

    Parameters
    ----------
    returns : ndarray, shape (..., S)
        Simple net returns per week.

    Returns
    -------
    float or ndarray, shape (...)
        ``V[S] ** (52 / S) - 1``; ``-1`` if equity reached 0 or below; NaN for ``S < 2``.
    """
    r = _as_returns(returns)
    S = r.shape[-1]
    if S < 2:
        return _out(np.full(r.shape[:-1], np.nan))
    final = np.prod(1.0 + r, axis=-1)
    with np.errstate(invalid="ignore"):
        growth = np.where(final > 0, np.power(np.maximum(final, 0.0), PERIODS_PER_YEAR / S) - 1.0, -1.0)
    return _out(growth)


def annual_volatility(returns: np.ndarray) -> float | np.ndarray:
    """Annualized sample volatility, ``std(r, ddof=1) * sqrt(52)``.

    Parameters
    ----------
    returns : ndarray, shape (..., S)

    Returns
    -------
    float or ndarray, shape (...)
        NaN for ``S < 2``.
    """
    r = _as_returns(returns)
    if r.shape[-1] < 2:
        return _out(np.full(r.shape[:-1], np.nan))
    return _out(np.std(r, axis=-1, ddof=1) * np.sqrt(PERIODS_PER_YEAR))


def sharpe(returns: np.ndarray) -> float | np.ndarray:
    """Annualized Sharpe ratio with a zero risk-free rate.

    Parameters
    ----------
    returns : ndarray, shape (..., S)

    Returns
    -------
    float or ndarray, shape (...)
        ``mean(r) / std(r, ddof=1) * sqrt(52)``; NaN for a flat series or ``S < 2``.
    """
    r = _as_returns(returns)
    if r.shape[-1] < 2:
        return _out(np.full(r.shape[:-1], np.nan))
    sd = np.std(r, axis=-1, ddof=1)
    # a series whose spread is only floating-point noise around a constant is flat
    sd = np.where(sd <= 1e-14 * np.maximum(1.0, np.abs(np.mean(r, axis=-1))), 0.0, sd)
    return _out(_ratio(np.mean(r, axis=-1), sd) * np.sqrt(PERIODS_PER_YEAR))


def sortino(returns: np.ndarray) -> float | np.ndarray:
    """Annualized Sortino ratio with a target return of 0.

    Parameters
    ----------
    returns : ndarray, shape (..., S)

    Returns
    -------
    float or ndarray, shape (...)
        ``mean(r) * 52 / (sqrt(mean(min(r, 0)**2)) * sqrt(52))``; NaN when no period
        lost money or ``S < 2``.
    """
    r = _as_returns(returns)
    if r.shape[-1] < 2:
        return _out(np.full(r.shape[:-1], np.nan))
    downside = np.sqrt(np.mean(np.square(np.minimum(r, 0.0)), axis=-1)) * np.sqrt(PERIODS_PER_YEAR)
    return _out(_ratio(np.mean(r, axis=-1) * PERIODS_PER_YEAR, downside))


def max_drawdown(returns: np.ndarray) -> float | np.ndarray:
    """Worst compounded peak-to-trough fall of equity, as a negative fraction.

    Parameters
    ----------
    returns : ndarray, shape (..., S)

    Returns
    -------
    float or ndarray, shape (...)
        ``min_s V[s] / max_{u<=s} V[u] - 1`` over equity ``V`` starting at 1.0; 0 when
        equity never falls; NaN for ``S == 0``.
    """
    r = _as_returns(returns)
    if r.shape[-1] == 0:
        return _out(np.full(r.shape[:-1], np.nan))
    ones = np.ones(r.shape[:-1] + (1,))
    equity = np.concatenate([ones, np.cumprod(1.0 + r, axis=-1)], axis=-1)
    peak = np.maximum.accumulate(equity, axis=-1)
    return _out(np.min(equity / peak - 1.0, axis=-1))


def calmar(returns: np.ndarray) -> float | np.ndarray:
    """Calmar ratio, ``CAGR / |max drawdown|``.

    Parameters
    ----------
    returns : ndarray, shape (..., S)

    Returns
    -------
    float or ndarray, shape (...)
        NaN when there is no drawdown or ``S < 2``.
    """
    return _out(_ratio(np.asarray(cagr(returns)), np.abs(np.asarray(max_drawdown(returns)))))


@dataclass(frozen=True, kw_only=True)
class Metrics:
    """Summary of one backtest (conventions in the module docstring).

    Attributes
    ----------
    cagr, sharpe, sortino, volatility, max_drawdown, calmar : float
        As the functions of the same name; ``volatility`` is :func:`annual_volatility`.
    avg_turnover : float
        Mean over decisions of ``sum |target - drifted|`` over stocks.
    total_costs : float
        Sum over decisions of the cost charged, as fractions of portfolio value.
    final_value : float
        Equity at the end, starting from 1.0.
    n_periods : int
        Number of weekly periods S.
    """

    cagr: float
    sharpe: float
    sortino: float
    volatility: float
    max_drawdown: float
    calmar: float
    avg_turnover: float
    total_costs: float
    final_value: float
    n_periods: int

    def as_dict(self) -> dict[str, float | int | None]:
        """JSON-ready mapping; NaN and infinities become ``None``."""
        return {k: (v if isinstance(v, int) or np.isfinite(v) else None) for k, v in asdict(self).items()}


def summarize(result: BacktestResult) -> Metrics:
    """Every metric of one backtest.

    Parameters
    ----------
    result : BacktestResult
        S periods of net returns, turnover and costs.

    Returns
    -------
    Metrics
    """
    r = np.asarray(result.returns, dtype=np.float64)
    S = len(r)
    return Metrics(
        cagr=float(cagr(r)),
        sharpe=float(sharpe(r)),
        sortino=float(sortino(r)),
        volatility=float(annual_volatility(r)),
        max_drawdown=float(max_drawdown(r)),
        calmar=float(calmar(r)),
        avg_turnover=float(np.mean(result.turnover)) if S else float("nan"),
        total_costs=float(np.sum(result.costs)),
        final_value=float(np.prod(1.0 + r)),
        n_periods=S,
    )


def metrics_table(results: Mapping[str, BacktestResult]) -> pd.DataFrame:
    """One row of :class:`Metrics` per strategy, in the mapping's order.

    Parameters
    ----------
    results : mapping of str to BacktestResult
        Strategy name to its backtest.

    Returns
    -------
    DataFrame, shape (len(results), 10)
        Index ``strategy``, one column per :class:`Metrics` field.
    """
    rows = [asdict(summarize(res)) for res in results.values()]
    columns = list(Metrics.__dataclass_fields__)
    return pd.DataFrame(rows, index=pd.Index(list(results), name="strategy"), columns=columns)
