"""Known-answer markets: the generator's conditional mean is the truth a policy can know."""

import numpy as np
import pytest

from sacfolio.data.known_markets import known_market, known_market_config
from sacfolio.data.synthetic import FactorMarketConfig
from sacfolio.exceptions import ConfigError


def test_the_ar1_markets_expected_returns_are_the_mean_of_what_follows() -> None:
    market = known_market("ar1", strength=0.3, n_weeks=4000, n_stocks=10)
    expected = market.expected_returns()
    realized = market.panel.simple_returns()[1:]  # row t + 1 follows expected row t
    pred = expected[:-1]
    # regress the realized return on the known mean across all (week, stock) cells: slope ~ 1
    x, y = pred.ravel() - pred.mean(), realized.ravel() - realized.mean()
    slope = float(x @ y / (x @ x))
    assert 0.85 < slope < 1.15
    assert abs(realized.mean() - pred.mean()) < 3 * realized.std() / np.sqrt(realized.size)


def test_the_null_market_gives_every_stock_the_same_expected_return() -> None:
    market = known_market("null")
    expected = market.expected_returns()
    assert np.ptp(expected) < 1e-15 and expected[0, 0] > 0  # the market drifts up, no stock is special
    assert market.panel.n_symbols == 20 and str(market.panel.dates[-1]).startswith("2012")


def test_the_known_market_settings_and_their_errors() -> None:
    assert known_market_config("ar1").autocorr == 0.15
    assert known_market_config("factor", strength=0.2).ic_fundamental == pytest.approx(0.1)
    with pytest.raises(ConfigError, match="null market has no signal"):
        known_market_config("null", strength=0.1)
    with pytest.raises(ConfigError, match="unknown market 'ar2'"):
        known_market_config("ar2")


def test_bad_generator_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="factor_drift"):
        FactorMarketConfig(factor_drift=0.2)
    with pytest.raises(ConfigError, match="beta_spread"):
        FactorMarketConfig(beta_spread=1.5)
