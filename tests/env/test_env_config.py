"""EnvConfig defaults and validation."""

from __future__ import annotations

import dataclasses

import pytest

from sacfolio.env.config import EnvConfig
from sacfolio.exceptions import ConfigError


def test_defaults_follow_the_design():
    config = EnvConfig()
    assert (config.cash_floor, config.max_weight, config.cost_bps) == (0.02, 0.20, 10.0)
    assert (config.logit_scale, config.episode_length) == (5.0, 52)
    assert config.cost_rate == pytest.approx(0.001)


def test_config_is_frozen_and_keyword_only():
    with pytest.raises(dataclasses.FrozenInstanceError):
        EnvConfig().cash_floor = 0.5  # type: ignore[misc]
    with pytest.raises(TypeError):
        EnvConfig(0.02)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value"),
    [("cash_floor", 1.0), ("cash_floor", -0.1), ("max_weight", 0.0), ("max_weight", 1.5),
     ("cost_bps", -1.0), ("cost_bps", 6000.0), ("logit_scale", 0.0), ("logit_scale", 80.0),
     ("episode_length", 0), ("episode_length", 2.5), ("cash_floor", float("nan")), ("max_weight", True)],
)
def test_out_of_range_values_are_named_in_the_error(field, value):
    with pytest.raises(ConfigError, match=f"EnvConfig.{field}={value!r}"):
        EnvConfig(**{field: value})
