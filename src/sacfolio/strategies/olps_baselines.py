"""The OLPS algorithms traded under the broker's rules, and the hindsight BCRP ceiling."""

from __future__ import annotations

import numpy as np

from sacfolio.broker.projection import weight_bounds
from sacfolio.broker.rules import PortfolioRules
from sacfolio.broker.targets import equal_weights
from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import ConfigError, EvaluationWindowError
from sacfolio.strategies.base import PanelStrategy
from sacfolio.strategies.olps import OLPS, OlpsConfig, olps_portfolios
from sacfolio.strategies.zoo import invest
from sacfolio.strategies.zoo_baselines import PrecomputedStrategy

__all__ = ["HindsightBCRP", "OnlinePortfolio", "bcrp_weights", "panel_relatives"]


def panel_relatives(panel: MarketPanel) -> np.ndarray:
    """Price relatives ``close_t / close_{t-1}``, shape (T, N); 1 at row 0 and where a symbol
    does not trade at t - 1 or t."""
    return 1.0 + panel.simple_returns()


class OnlinePortfolio(PrecomputedStrategy):
    """An OLPS algorithm (:data:`~sacfolio.strategies.olps.OLPS`) rebalanced at every decision.

    The algorithm runs on the panel's price relatives from its first row (its state
    follows its own simplex portfolio, as in its paper); the portfolio ``b_t`` is traded
    as ``(1 - cash_floor) b_t`` projected onto the rules
    (:func:`~sacfolio.strategies.zoo.invest`), so no stock passes the cap.

    Parameters
    ----------
    panel : MarketPanel
    rules : PortfolioRules
    algorithm : str
        The strategy's name too.
    config : OlpsConfig
    """

    def __init__(self, panel: MarketPanel, rules: PortfolioRules = PortfolioRules(), *,
                 algorithm: str, config: OlpsConfig = OlpsConfig()) -> None:
        super().__init__(panel, rules)
        if algorithm not in OLPS:
            raise ConfigError(f"unknown online portfolio {algorithm!r}; choose from {list(OLPS)}")
        self.name = algorithm
        self.config = config

    def _compute(self) -> np.ndarray:
        path = olps_portfolios(self.name, panel_relatives(self.panel), self.panel.available, self.config)
        return invest((1.0 - self.rules.cash_floor) * path, self.panel.available, self.rules)


def bcrp_weights(relatives: np.ndarray, available: np.ndarray, rules: PortfolioRules) -> np.ndarray:
    """Best constant rebalanced portfolio in hindsight under the rules (Cover 1991).

    ``argmax_w sum_t log(w_stocks . x_t + w_cash)`` over the feasible set (CASH earns 0),
    by SLSQP with the analytic gradient.

    Parameters
    ----------
    relatives : ndarray float64, shape (T, N)
        Price relatives of the periods the portfolio is held over.
    available : ndarray bool, shape (N,)
        Stocks it may hold.
    rules : PortfolioRules

    Returns
    -------
    ndarray float64, shape (N + 1,)
        CASH last, feasible.
    """
    from scipy.optimize import minimize  # lazily: scipy.optimize takes a second to import

    gross = np.concatenate((relatives, np.ones((len(relatives), 1))), axis=1)
    lo, hi = weight_bounds(available, rules)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        growth = np.maximum(gross @ w, 1e-300)
        return -float(np.log(growth).sum()), -(gross / growth[:, None]).sum(axis=0)

    solved = minimize(loss, equal_weights(available, rules), jac=True, method="SLSQP", bounds=list(zip(lo, hi)),
                      constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)}],
                      options={"ftol": 1e-12, "maxiter": 500})
    w = np.clip(solved.x, lo, hi)
    w[-1] += 1.0 - w.sum()
    return w


class HindsightBCRP(PanelStrategy):
    """CEILING, NOT A STRATEGY: reads the future.

    At every decision of a return year (the rows whose next week falls in that calendar
    year, a walk-forward test fold), the best constant rebalanced portfolio of that
    whole year under the rules (:func:`bcrp_weights`), over the stocks that trade
    through all of it.
    """

    name = "hindsight_bcrp"
    uses_future = True

    def __init__(self, panel: MarketPanel, rules: PortfolioRules = PortfolioRules()) -> None:
        super().__init__(panel, rules)
        self._years = panel.dates[1:].astype("datetime64[Y]").astype(int) + 1970  # year of row t's return
        self._relatives = panel_relatives(panel)
        self._solved: dict[int, np.ndarray] = {}

    def decide(self, t: int, obs: np.ndarray | None, drifted: np.ndarray) -> np.ndarray:
        """The best constant portfolio of the year of row t's return, shape (N + 1,)."""
        self._check(t, drifted)
        if t + 1 >= self.panel.n_dates:
            raise EvaluationWindowError(
                f"{self.name} needs the next week's prices; row {t} ({self.panel.dates[t]}) is the last one")
        year = int(self._years[t])
        if year not in self._solved:
            rows = np.flatnonzero(self._years == year)
            trading = self.panel.available[rows[0]:rows[-1] + 2].all(axis=0)
            self._solved[year] = bcrp_weights(self._relatives[rows + 1], trading, self.rules)
        return self._solved[year].copy()
