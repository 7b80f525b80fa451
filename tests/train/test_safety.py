"""Learning-rate ranges: rates that make the weights explode are refused."""

from __future__ import annotations

import pytest

from sacfolio.exceptions import ConfigError, UnsafeLearningRateError
from sacfolio.train.safety import LR_RANGES, check_learning_rates


@pytest.mark.parametrize("algo", ["sac", "ppo", "SAC"])
def test_rates_inside_the_recommended_range_pass_silently(algo: str) -> None:
    assert check_learning_rates(algo, {"actor": 3e-4, "critic": 1e-4, "alpha": 1e-5}) == []


def test_a_rate_16x_above_the_range_is_refused_with_the_fix() -> None:
    with pytest.raises(UnsafeLearningRateError,
                       match=r"critic learning rate 0\.005.*--allow-unsafe-lr"):
        check_learning_rates("sac", {"actor": 3e-4, "critic": 5e-3})


def test_unsafe_rate_is_a_warning_when_allowed() -> None:
    [warning] = check_learning_rates("sac", {"critic": 5e-3}, allow_unsafe=True)
    assert "0.005" in warning and "allowed" in warning


def test_rates_between_recommended_and_refusal_limits_warn() -> None:
    warnings = check_learning_rates("ppo", {"policy": 5e-4, "value": 1e-3, "aux": 1e-6})
    assert len(warnings) == 3
    assert "above the recommended" in warnings[0] and "above the recommended" in warnings[1]
    assert "below the recommended" in warnings[2]


def test_invalid_inputs_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="known: ppo, sac"):
        check_learning_rates("ddpg", {"actor": 1e-4})
    for bad in (0.0, -1e-4, float("nan")):
        with pytest.raises(ConfigError, match="positive"):
            check_learning_rates("sac", {"actor": bad})
    assert LR_RANGES["sac"].refuse_above == 1e-3
