"""The universal model through the simulated broker: the walk-forward and its universe-change check."""

from __future__ import annotations

import dataclasses

from sacfolio.env.config import TRADING_DEFAULTS, EnvConfig
from sacfolio.evaluate.walkforward import WalkForwardConfig
from sacfolio.train.portfolio import PORTFOLIO_SAC
from sacfolio.workflows.universal import UNSEEN_SYMBOL
from sacfolio.workflows.walkforward import run_walk_forward


def test_a_universal_walk_forward_trades_through_the_broker_and_checks_changed_universes(recent_sample) -> None:
    env = EnvConfig.from_dict({**TRADING_DEFAULTS, "episode_length": 20,
                               "rules": {"broker": {"instruments": "sp500_cfd_example.json", "leverage": 2.0}}})
    sac = dataclasses.replace(PORTFOLIO_SAC, warmup_steps=16, batch_size=16)
    config = WalkForwardConfig(years=(2022,), train_steps=24, fold_steps=24, baselines=("equal_weight",),
                               variant="universal")
    result, _ = run_walk_forward(recent_sample, config=config, env_config=env, sac_config=sac, progress=False)
    agent = result.combined("sac")
    assert agent.through_broker and agent.spread.sum() > 0 and agent.financing.sum() < 0
    changes = result.info["universe_change"]
    # the renamed stock is one the model never saw, and still trades as the instrument it is
    assert [c["symbols"][-1] for c in changes] == [recent_sample.symbols[14], UNSEEN_SYMBOL]
    assert all(c["feasible_every_step"] for c in changes)
    assert changes[0]["agent"] != changes[1]["agent"]  # the unseen embedding changes the decisions
