"""The known-model policy: trades on the true conditional mean of a generated market.

Not a strategy for real data (nobody knows the model there); on a known-answer
market (:mod:`sacfolio.data.known_markets`) it is the yardstick a learner is read
against: the agent's excess return over 1/N as a share of this policy's.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from sacfolio.broker.rules import PortfolioRules
from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import ConfigError
from sacfolio.strategies.base import PanelStrategy

__all__ = ["KnownModel"]


class KnownModel(PanelStrategy):
    """Each week, the feasible weights with the best expected return net of costs.

    At row t, with ``mu = expected[t]`` (the model's mean of next week's simple
    returns, known at t) and the drifted weights ``w0``, it solves the linear program

        maximize  mu . w - cost * sum |w - w0|   over the broker's feasible set
        (w >= 0, w <= max_weight, unavailable = 0, sum of stocks <= 1 - cash_floor),

    CASH earning 0. Where every available stock has the same expected return (the
    null market) the program has no unique answer and the policy holds equal weight,
    the tie that carries the least risk. That is the exact one-step optimum for a risk-neutral investor
    under the same rules and costs as everyone else: it uses past information only
    (``uses_future`` is False), plus the market's model, which no learner is given.

    Parameters
    ----------
    panel : MarketPanel
    expected : ndarray float, shape (T, N)
        Row t: expected simple return of row t + 1 given what is known at t
        (:meth:`~sacfolio.data.synthetic.FactorMarket.expected_returns`).
    rules : PortfolioRules
    """

    name = "known_model"

    def __init__(self, panel: MarketPanel, expected: np.ndarray, rules: PortfolioRules = PortfolioRules()) -> None:
        super().__init__(panel, rules)
        expected = np.asarray(expected, dtype=np.float64)
        if expected.shape != panel.close.shape or not np.isfinite(expected).all():
            raise ConfigError(f"expected returns must be finite with the panel's shape {panel.close.shape}, "
                              f"got {expected.shape}")
        self.expected = expected

    def decide(self, t: int, obs: np.ndarray | None, drifted: np.ndarray) -> np.ndarray:
        """Target weights (N + 1,), CASH last: the solution of the week's linear program."""
        w0 = self._check(t, drifted)[:-1]
        mu, N = self.expected[t], self.panel.n_symbols
        live = self.panel.available[t]
        if not live.any() or np.ptp(mu[live]) <= 1e-12:
            return self._equal(t)
        c = self.rules.cost_bps * 1e-4
        cap = np.where(self.panel.available[t], self.rules.max_weight, 0.0)
        # variables [w (N), buy (N), sell (N)]: w - buy + sell = w0, buy, sell >= 0
        objective = np.concatenate([-mu, np.full(N, c), np.full(N, c)])
        eye = np.eye(N)
        solved = linprog(objective, A_ub=np.concatenate([np.ones(N), np.zeros(2 * N)])[None, :],
                         b_ub=[1.0 - self.rules.cash_floor], A_eq=np.hstack([eye, -eye, eye]), b_eq=w0,
                         bounds=[(0.0, float(u)) for u in cap] + [(0.0, None)] * (2 * N), method="highs")
        w = np.clip(solved.x[:N], 0.0, cap) if solved.success else np.minimum(w0, cap)
        scale = min(1.0, (1.0 - self.rules.cash_floor) / max(w.sum(), 1e-300))
        w = w * scale
        return np.append(w, 1.0 - w.sum())
