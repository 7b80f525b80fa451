"""EnvConfig defaults, validation and its config.json form (old flat files included)."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from sacfolio.broker.execution import ExecutionRules
from sacfolio.broker.rules import PortfolioRules
from sacfolio.env.config import EnvConfig
from sacfolio.exceptions import ConfigError


def test_defaults_follow_the_design():
    config = EnvConfig()
    assert config.rules == PortfolioRules()
    assert (config.rules.cash_floor, config.rules.max_weight, config.rules.cost_bps) == (0.02, 0.20, 10.0)
    assert (config.logit_scale, config.episode_length) == (5.0, 52)
    assert config.rules.cost_rate == pytest.approx(0.001)


def test_config_is_frozen_and_keyword_only():
    with pytest.raises(dataclasses.FrozenInstanceError):
        EnvConfig().logit_scale = 0.5  # type: ignore[misc]
    with pytest.raises(TypeError):
        EnvConfig(PortfolioRules())  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value"),
    [("logit_scale", 0.0), ("logit_scale", 80.0), ("episode_length", 0), ("episode_length", 2.5),
     ("logit_scale", float("nan")), ("logit_scale", True)],
)
def test_out_of_range_values_are_named_in_the_error(field, value):
    with pytest.raises(ConfigError, match=f"EnvConfig.{field}={value!r}"):
        EnvConfig(**{field: value})


def test_rules_must_be_portfolio_rules():
    with pytest.raises(ConfigError, match="EnvConfig.rules="):
        EnvConfig(rules={"cash_floor": 0.02})  # type: ignore[arg-type]


def test_to_dict_nests_the_rules_and_round_trips():
    config = EnvConfig(rules=PortfolioRules(cash_floor=0.05, cost_bps=2.0), logit_scale=3.0, episode_length=26)
    assert config.to_dict() == {"rules": {"cash_floor": 0.05, "max_weight": 0.2, "cost_bps": 2.0},
                                "logit_scale": 3.0, "episode_length": 26, "action_mode": "softmax",
                                "tilt": 0.02, "execution": {"rebalance_rate": 1.0, "no_trade_band": 0.0},
                                "reward": "log_return", "train_cost_multiplier": 1.0}
    assert EnvConfig.from_dict(config.to_dict()) == config


def test_from_dict_reads_the_flat_layout_of_older_config_files():
    old = {"cash_floor": 0.02, "max_weight": 0.2, "cost_bps": 10.0, "logit_scale": 5.0, "episode_length": 52}
    assert EnvConfig.from_dict(old) == EnvConfig()
    assert EnvConfig.from_dict({"max_weight": 0.5}) == EnvConfig(rules=PortfolioRules(max_weight=0.5))


def test_from_dict_rejects_unknown_keys_and_rules_given_twice():
    with pytest.raises(ConfigError, match=r"unknown env config key\(s\) \['rewards'\]"):
        EnvConfig.from_dict({"rewards": "log_return"})
    with pytest.raises(ConfigError, match="twice"):
        EnvConfig.from_dict({"rules": {}, "cash_floor": 0.1})
    with pytest.raises(ConfigError, match="PortfolioRules.cash_floor"):
        EnvConfig.from_dict({"cash_floor": 1.5})


def test_the_new_settings_default_to_todays_behaviour():
    config = EnvConfig()
    assert (config.action_mode, config.reward, config.train_cost_multiplier) == ("softmax", "log_return", 1.0)
    assert config.execution == ExecutionRules() and config.execution.immediate
    assert not config.needs_benchmark


def test_the_new_settings_round_trip_through_config_json():
    config = EnvConfig(action_mode="residual", tilt=0.05, reward="excess_log_return", train_cost_multiplier=2,
                       execution=ExecutionRules(rebalance_rate=0.25, no_trade_band=0.01))
    data = json.loads(json.dumps(config.to_dict()))
    assert data["execution"] == {"rebalance_rate": 0.25, "no_trade_band": 0.01}
    assert EnvConfig.from_dict(data) == config
    assert config.needs_benchmark and isinstance(config.train_cost_multiplier, float)


def test_config_json_of_the_previous_release_reads_as_todays_behaviour():
    """A model saved before action modes, execution and rewards existed trades as it did."""
    previous = {"rules": {"cash_floor": 0.02, "max_weight": 0.2, "cost_bps": 10.0}, "logit_scale": 5.0,
                "episode_length": 52}
    assert EnvConfig.from_dict(previous) == EnvConfig()
    assert EnvConfig.from_dict({"execution": {"no_trade_band": 0.02}}).execution == \
        ExecutionRules(no_trade_band=0.02)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"action_mode": "tilted"}, "EnvConfig.action_mode='tilted'; choose from"),
     ({"reward": "sharpe"}, "EnvConfig.reward='sharpe'; choose from"),
     ({"tilt": 0.0}, "EnvConfig.tilt=0.0 must be in"),
     ({"tilt": 1.5}, "EnvConfig.tilt=1.5 must be in"),
     ({"train_cost_multiplier": -1.0}, "EnvConfig.train_cost_multiplier=-1.0"),
     ({"train_cost_multiplier": 600.0}, "EnvConfig.train_cost_multiplier=600.0"),
     ({"execution": {"rebalance_rate": 0.5}}, "EnvConfig.execution=")],
)
def test_new_settings_are_validated(kwargs, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        EnvConfig(**kwargs)


def test_the_training_cost_must_stay_below_the_brokers_limit():
    with pytest.raises(ConfigError, match="cost_bps \\* multiplier below 5000"):
        EnvConfig(rules=PortfolioRules(cost_bps=1000.0), train_cost_multiplier=5.0)
    assert EnvConfig(rules=PortfolioRules(cost_bps=1000.0), train_cost_multiplier=4.9).train_cost_multiplier == 4.9


def test_unknown_execution_settings_are_named():
    with pytest.raises(ConfigError, match=r"unknown execution setting\(s\) \['rate'\]"):
        EnvConfig.from_dict({"execution": {"rate": 0.5}})
