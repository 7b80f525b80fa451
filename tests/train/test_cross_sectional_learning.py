"""The cross-sectional network learns a planted per-stock signal that the flat MLP misses."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sacfolio.data.known_markets import known_market
from sacfolio.env.config import EnvConfig
from sacfolio.train.portfolio import PORTFOLIO_SAC, train_model


@pytest.mark.slow
def test_the_tilts_follow_the_true_conditional_mean_out_of_sample():
    """8 stocks, AR(1) strength 0.3, 800 steps on weeks 0-239: on weeks 240-298, never seen,
    the tilt away from 1/N correlates with the market's true next-week mean. Measured
    0.63 (1,500 steps: 0.70, where the flat MLP of the same size gets 0.07); the bar is 0.4."""
    market = known_market("ar1", strength=0.3, seed=0, n_stocks=8, n_weeks=300)
    panel, mu = market.panel, market.expected_returns()
    env = EnvConfig.from_dict({"action_mode": "residual", "tilt": 1.0, "reward": "excess_log_return"})
    sac = dataclasses.replace(PORTFOLIO_SAC, network="cross_sectional", gamma=0.0, hidden_sizes=(32, 32))
    model = train_model(panel, train_stop=240, env_config=env, sac_config=sac, steps=800, seed=0, progress=False)
    core = model.bundle.core(panel)
    corr = []
    for t in range(240, panel.n_dates - 1):
        bench = core.benchmark[t]
        tilt = model.bundle.target_weights(core, t, bench.copy()) - bench
        corr.append(np.corrcoef(tilt[:-1], mu[t])[0, 1])
    assert np.nanmean(corr) > 0.4
