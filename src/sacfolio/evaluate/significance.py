"""How much a backtest's Sharpe ratio can be trusted: probabilistic and deflated Sharpe ratios.

Both are skfolio's measures (Bailey and Lopez de Prado), on weekly returns:

- the **probabilistic Sharpe ratio** PSR(SR*) is the probability that the true
  Sharpe ratio exceeds SR*, given the series' length, skew and kurtosis;
- the **deflated Sharpe ratio** is PSR against the Sharpe ratio the best of
  ``n_trials`` configurations would show by luck alone: a default picked from a
  grid must clear that bar, not zero.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["SharpeConfidence", "sharpe_confidence"]


@dataclass(frozen=True, kw_only=True)
class SharpeConfidence:
    """PSR against 0 and against a benchmark's Sharpe, and the deflated Sharpe ratio.

    Attributes
    ----------
    psr : float
        P(true Sharpe > 0).
    psr_vs_benchmark : float
        P(true Sharpe > the benchmark's observed Sharpe).
    dsr : float
        PSR against the expected maximum Sharpe of ``n_trials`` configurations.
    n_trials : int
        Configurations tried when the settings were chosen.
    expected_max_sharpe : float
        That bar, annualized (weekly Sharpe x sqrt(52)).
    """

    psr: float
    psr_vs_benchmark: float
    dsr: float
    n_trials: int
    expected_max_sharpe: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def sharpe_confidence(returns: np.ndarray, benchmark_returns: np.ndarray, *, n_trials: int = 1) -> SharpeConfidence:
    """PSR and DSR of weekly ``returns`` (benchmark: ``benchmark_returns`` over the same weeks).

    The trials' Sharpe ratios are taken to differ by estimation noise alone, so their
    spread is the standard error of the observed weekly Sharpe ratio,
    ``sqrt((1 - skew SR + (kurtosis - 1) / 4 SR^2) / (T - 1))``; with ``n_trials = 1``
    the DSR equals the PSR against 0.
    """
    # imported here: skfolio (and cvxpy behind it) is ~150 MiB that every CLI and serve
    # process would otherwise load through evaluate/__init__
    from scipy import stats  # lazily too: scipy.stats is ~60 MiB that training workers never need
    from skfolio.measures import expected_max_sharpe_ratio, probabilistic_sharpe_ratio

    r = np.asarray(returns, dtype=np.float64)
    b = np.asarray(benchmark_returns, dtype=np.float64)
    if r.shape != b.shape or r.ndim != 1 or len(r) < 3:
        raise ValueError(f"need two aligned 1-D weekly return series of >= 3 weeks, got {r.shape} and {b.shape}")
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ValueError(f"n_trials={n_trials!r} must be a whole number >= 1")
    sr_b = float(np.mean(b) / np.std(b, ddof=1))
    sr = float(np.mean(r) / np.std(r, ddof=1))
    variance = 1 - stats.skew(r) * sr + (stats.kurtosis(r, fisher=False) - 1) / 4 * sr ** 2
    spread = math.sqrt(max(variance, 0.0) / (len(r) - 1))
    # skfolio's deflated_sharpe_ratio takes the trials' Sharpe ratios; here only their
    # number is known, so the bar is computed from it (the same formula) and shown
    bar = float(expected_max_sharpe_ratio(n_trials, spread))
    dsr = float(probabilistic_sharpe_ratio(r, bar))
    return SharpeConfidence(psr=float(probabilistic_sharpe_ratio(r, 0.0)),
                            psr_vs_benchmark=float(probabilistic_sharpe_ratio(r, sr_b)),
                            dsr=dsr, n_trials=n_trials, expected_max_sharpe=bar * math.sqrt(52))
