"""The rules a portfolio trades under: constraints, projection, costs on drifted weights, NAV.

One execution model for training, backtests, strategies and the serve fallback:
:class:`PortfolioRules` (cash floor, position cap, cost), the exact projection onto
the feasible set, feasible targets from a strategy's stock weights, the execution rules
that trade towards a target slowly (partial rebalancing, a no-trade band), and the cost
and value growth of a rebalance.

The simulated broker of OANDA's v20 rules (bid/ask, commission, leverage, margin and
closeout, home-currency conversion, financing) lives in its own modules, imported
where used: :mod:`.instruments`, :mod:`.quotes`, :mod:`.account`, :mod:`.orders`,
:mod:`.fx`, :mod:`.closeout`, :mod:`.financing` and :class:`.simulator.Broker`.
"""

from sacfolio.broker.costs import Rebalance, asset_growth, drift, rebalance, turnover
from sacfolio.broker.execution import ExecutionRules, execute
from sacfolio.broker.projection import FeasibleSet, feasible_rows, project_weights, weight_bounds
from sacfolio.broker.rules import PortfolioRules
from sacfolio.broker.targets import allocate, cap_weights, equal_weights

__all__ = ["ExecutionRules", "FeasibleSet", "PortfolioRules", "Rebalance", "allocate", "asset_growth",
           "cap_weights", "drift", "equal_weights", "execute", "feasible_rows", "project_weights", "rebalance",
           "turnover", "weight_bounds"]
