"""Learning-rate ranges and gradient clipping (seed 004's guard rails)."""

from __future__ import annotations

import pytest
import torch

from sacfolio.exceptions import ConfigError, UnsafeLearningRateError
from sacfolio.train.safety import (DEFAULT_MAX_GRAD_NORM, LR_RANGES, SafetyConfig,
                                   check_grad_clipping, check_learning_rates, clip_grad_norm)


@pytest.mark.parametrize("algo", ["sac", "ppo", "SAC"])
def test_rates_inside_the_recommended_range_pass_silently(algo: str) -> None:
    assert check_learning_rates(algo, {"actor": 3e-4, "critic": 1e-4, "alpha": 1e-5}) == []


def test_seed004_rate_is_refused_with_the_fix() -> None:
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


def test_value_clipping_is_refused_and_norm_clipping_defaults_to_one() -> None:
    with pytest.raises(ConfigError, match="value clipping"):
        check_grad_clipping(1.0, clip_value=0.5)
    assert check_grad_clipping(DEFAULT_MAX_GRAD_NORM) == []
    assert "disabled" in check_grad_clipping(None)[0]
    assert SafetyConfig().max_grad_norm == 1.0
    with pytest.raises(ConfigError, match="max_grad_norm"):
        SafetyConfig(max_grad_norm=0.0)


def test_clip_grad_norm_rescales_and_keeps_direction() -> None:
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(1))
    a.grad, b.grad = torch.tensor([3.0, 0.0]), torch.tensor([4.0])
    before = torch.cat([a.grad, b.grad]).clone()
    norm = clip_grad_norm([a, b])
    after = torch.cat([a.grad, b.grad])
    assert float(norm) == pytest.approx(5.0)
    assert float(after.norm()) == pytest.approx(1.0, rel=1e-5)
    assert torch.allclose(after * 5.0, before, rtol=1e-5)  # same direction, unlike value clipping
    a.grad = torch.tensor([float("inf"), 0.0])
    assert not torch.isfinite(clip_grad_norm([a, b]))  # reported, not raised
