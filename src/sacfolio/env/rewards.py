"""Named reward terms (``EnvConfig.reward``), each a pure function of one period's growth.

``log_return``
    ``log(V_{t+1} / V_t)``: the log growth of portfolio value over the period, net of
    the costs of the decision at t (what the seed design asks for).
``excess_log_return``
    ``log(V_{t+1} / V_t) - log(Vb_{t+1} / Vb_t)``, where ``Vb`` is the benchmark
    portfolio (the env's benchmark weights, constrained equal weight by default) run
    beside each agent portfolio: it starts in CASH when the agent's does, is
    rebalanced towards the benchmark weights of every row under the same execution
    rules (rate, band) and pays the same costs on its own drifted weights, so it is
    what a policy that always plays the zero residual action would hold. The market's
    common move cancels, leaving the value of the tilt: much less noise per reward.

Both are in log units per period; the learner's ``reward_scale`` and ``gamma``
(``SACConfig``) apply on top.
"""

from __future__ import annotations

import numpy as np

__all__ = ["excess_log_return", "log_return"]


def log_return(growth: np.ndarray) -> np.ndarray:
    """``log(growth)`` of (B,) net value growth factors ``V_{t+1} / V_t``."""
    return np.log(growth)


def excess_log_return(growth: np.ndarray, benchmark_growth: np.ndarray) -> np.ndarray:
    """``log(growth) - log(benchmark_growth)``, both (B,) net value growth factors.

    Examples
    --------
    >>> float(excess_log_return(np.array([1.02]), np.array([1.01]))[0])  # doctest: +ELLIPSIS
    0.0098522...
    """
    out = np.log(growth)
    out -= np.log(benchmark_growth)
    return out
