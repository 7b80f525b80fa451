"""What another action would have earned: the env's period, replayed for any action.

A portfolio is a price taker: its action changes its own weights, costs and growth,
never the market's returns. So for a stored decision (row ``t``, drifted weights
``w0``) the period of *any* action is known exactly from the data the step already
used: map the action to its target, apply the execution rules from ``w0``, pay the
cost on the turnover and hold over row ``t + 1``'s returns. The learner
(:mod:`sacfolio.train.counterfactual`) uses it to give its critic the true reward of
fresh actions at replayed states instead of one noisy sample per visit.

The benchmark portfolio of the excess reward does not depend on the agent's action,
so two actions at the same decision differ in reward by exactly the difference of
their log growths (:func:`counterfactual_period`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sacfolio.broker.costs import asset_growth, rebalance
from sacfolio.env.actions import action_to_weights
from sacfolio.env.core import PortfolioCore
from sacfolio.exceptions import ConfigError

__all__ = ["CounterfactualPeriod", "check_counterfactual", "counterfactual_period"]


class CounterfactualPeriod(NamedTuple):
    """One period of B hypothetical decisions.

    Attributes
    ----------
    log_growth : ndarray float64, shape (B,)
        ``log`` of net value growth (the ``log_return`` reward of that action).
    drifted : ndarray float64, shape (B, N + 1)
        The weights at the next row: what the next observation holds.
    """

    log_growth: np.ndarray
    drifted: np.ndarray


def check_counterfactual(core: PortfolioCore) -> None:
    """Raise :class:`ConfigError` when ``core``'s periods depend on more than (row, weights, action).

    A core that trades through a broker keeps account state (margin, currency
    balances, closeouts) that the weights do not hold, so its periods cannot be replayed.
    """
    if core.through_broker:
        raise ConfigError("counterfactual actions need a period that depends only on the row, the weights and "
                          "the action; a core that trades through a broker keeps account state (margin, "
                          "currency balances), so train it with counterfactual_actions=0")


def counterfactual_period(core: PortfolioCore, rows: np.ndarray, drifted: np.ndarray,
                          actions: np.ndarray) -> CounterfactualPeriod:
    """The period of ``actions`` taken at ``rows`` from ``drifted``; ``core``'s episodes are untouched.

    The same mapping, projection, execution and costs as :meth:`PortfolioCore.step`
    (the training core's cost multiplier included).

    Parameters
    ----------
    core : PortfolioCore
    rows : ndarray int, shape (B,)
        Decision rows, ``0 <= t < T - 1``.
    drifted : ndarray float, shape (B, N + 1)
        The weights held before each decision (an observation's last ``N + 1`` entries).
    actions : ndarray float, shape (B, N + 1)
        Actions in [-1, 1], CASH last.

    Returns
    -------
    CounterfactualPeriod
    """
    check_counterfactual(core)
    rows = np.asarray(rows, dtype=np.int64)
    drifted = np.asarray(drifted, dtype=np.float64)
    if rows.ndim != 1 or rows.min(initial=0) < 0 or rows.max(initial=0) >= core.n_rows - 1:
        raise ValueError(f"rows must be a 1-d array of decision rows in [0, {core.n_rows - 1})")
    available = core.available[rows]
    target = action_to_weights(actions, core.config, available,
                               core.benchmark[rows] if core.config.action_mode == "residual" else None)
    held = core.trade_weights(target, rows, drifted)
    fill = rebalance(held, drifted, asset_growth(core.returns[rows + 1]), core.cost_rate)
    return CounterfactualPeriod(np.log(fill.growth), fill.drifted)
