"""ModelBundle.target_weights: what serving answers is what the backtest trades."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sacfolio.agents.config import SACConfig
from sacfolio.broker.execution import ExecutionRules
from sacfolio.env.config import EnvConfig
from sacfolio.env.layout import ObservationLayout
from sacfolio.evaluate.backtest import policy_decider, run_backtest
from sacfolio.features.scaler import FeatureScaler
from sacfolio.features.variants import build_features
from sacfolio.model.bundle import ModelBundle
from sacfolio.model.files import sac_actor

CONFIGS = {
    "defaults": EnvConfig(),
    "residual, slow, banded": EnvConfig(action_mode="residual", tilt=0.05, reward="excess_log_return",
                                        execution=ExecutionRules(rebalance_rate=0.25, no_trade_band=0.01),
                                        train_cost_multiplier=2.0),
    "softmax, banded": EnvConfig(execution=ExecutionRules(no_trade_band=0.02)),
}


def _bundle(panel, config: EnvConfig) -> ModelBundle:
    features = build_features(panel, "sac_price", progress=False)
    layout = ObservationLayout(symbols=panel.symbols, features=features.names)
    actor = sac_actor(SACConfig(hidden_sizes=(16,)), layout, seed=3)
    return ModelBundle.from_actor(actor, scaler=FeatureScaler().fit(features, stop=100), variant="sac_price",
                                  layout=layout, env_config=config)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_the_served_target_is_what_the_backtest_traded(recent_sample, name):
    panel, config = recent_sample, CONFIGS[name]
    bundle = _bundle(panel, config)
    held: list[tuple[int, np.ndarray]] = []
    policy = policy_decider(bundle.policy, config, panel.available)

    def decide(t, obs, drifted):
        held.append((t, drifted.copy()))
        return policy(t, obs, drifted)

    start, stop = 150, 190
    result = run_backtest(bundle.core(panel), decide, start=start, stop=stop,
                          dates=panel.dates[start:stop + 1], symbols=panel.symbols, name="sac")
    serving = bundle.core(panel)  # a fresh core, as the API holds
    for s, (t, drifted) in enumerate(held):
        np.testing.assert_array_equal(bundle.target_weights(serving, t, drifted), result.weights[s])
    if not config.execution.immediate:  # slow execution: the answer is a step, not the policy's target
        fast_config = EnvConfig(action_mode=config.action_mode, tilt=config.tilt)
        fast_bundle = dataclasses.replace(bundle, env_config=fast_config)
        fast = run_backtest(fast_bundle.core(panel), policy_decider(bundle.policy, fast_config, panel.available),
                            start=start, stop=stop, dates=panel.dates[start:stop + 1], symbols=panel.symbols,
                            name="fast")
        assert np.abs(fast.weights - result.weights).max() > 1e-3
        assert result.turnover.sum() <= fast.turnover.sum()


def test_backtests_and_serving_pay_the_real_cost_not_the_training_multiple(recent_sample):
    bundle = _bundle(recent_sample, EnvConfig(train_cost_multiplier=4.0))
    core = bundle.core(recent_sample)
    assert not core.training and core.cost_rate == bundle.env_config.rules.cost_rate


def test_without_current_weights_the_answer_is_the_target_not_a_step_from_cash(recent_sample):
    # The residual, slow bundle moves a quarter of the way a week: from cash that step would
    # leave ~75% in cash, which is not what the model wants to hold.
    bundle = _bundle(recent_sample, CONFIGS["residual, slow, banded"])
    core, t = bundle.core(recent_sample), 180
    cash = np.eye(recent_sample.n_symbols + 1)[-1]
    target = bundle.policy_target(core.observation_at(t, cash)[None, :], core.available[t], core.benchmark[t])[0]
    answer = bundle.target_weights(core, t)
    np.testing.assert_array_equal(answer, target)
    assert answer[-1] < 0.1
    step = bundle.target_weights(core, t, cash)
    assert step[-1] > 0.7
