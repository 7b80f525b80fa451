"""EnvConfig defaults, validation and its config.json form (old flat files included)."""

from __future__ import annotations

import dataclasses

import pytest

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
                                "logit_scale": 3.0, "episode_length": 26}
    assert EnvConfig.from_dict(config.to_dict()) == config


def test_from_dict_reads_the_flat_layout_of_older_config_files():
    old = {"cash_floor": 0.02, "max_weight": 0.2, "cost_bps": 10.0, "logit_scale": 5.0, "episode_length": 52}
    assert EnvConfig.from_dict(old) == EnvConfig()
    assert EnvConfig.from_dict({"max_weight": 0.5}) == EnvConfig(rules=PortfolioRules(max_weight=0.5))


def test_from_dict_rejects_unknown_keys_and_rules_given_twice():
    with pytest.raises(ConfigError, match=r"unknown env config key\(s\) \['reward'\]"):
        EnvConfig.from_dict({"reward": "log"})
    with pytest.raises(ConfigError, match="twice"):
        EnvConfig.from_dict({"rules": {}, "cash_floor": 0.1})
    with pytest.raises(ConfigError, match="PortfolioRules.cash_floor"):
        EnvConfig.from_dict({"cash_floor": 1.5})
