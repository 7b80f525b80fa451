"""EvaluationRequest: the env settings a run trades under, from its overrides."""

from __future__ import annotations

from pathlib import Path

from sacfolio.broker.execution import ExecutionRules
from sacfolio.env.config import EnvConfig
from sacfolio.workflows.evaluation import EvaluationRequest, _describe_env


def test_a_request_without_env_options_trades_under_the_defaults(tmp_path: Path) -> None:
    request = EvaluationRequest(out=tmp_path)
    assert request.env_config == EnvConfig()
    assert _describe_env(request.env_config) == \
        "softmax of the action; trades to each target at once; reward log_return; costs 10 bps"


def test_env_options_override_only_what_they_name(tmp_path: Path) -> None:
    request = EvaluationRequest(out=tmp_path, env_options={
        "action_mode": "residual", "execution": {"rebalance_rate": 0.25}, "train_cost_multiplier": 2})
    config = request.env_config
    assert config == EnvConfig(action_mode="residual", execution=ExecutionRules(rebalance_rate=0.25),
                               train_cost_multiplier=2.0)
    assert _describe_env(config) == ("residual tilt of equal weight (tilt 0.02 per stock); trades 0.25 of the "
                                     "way to each target, no-trade band 0; reward log_return; costs 10 bps "
                                     "(20 bps in training, x2)")
