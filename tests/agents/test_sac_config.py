"""SACConfig: the reference defaults, validation that names the value, JSON round trip."""

import json

import pytest

from sacfolio.agents.config import SACConfig
from sacfolio.exceptions import ConfigError


def test_defaults_are_seed_001_table():
    c = SACConfig()
    assert c.hidden_sizes == (64, 64)
    assert (c.actor_lr, c.critic_lr, c.alpha_lr) == (3e-4, 3e-4, 3e-4)
    assert (c.tau, c.gamma, c.init_alpha) == (0.005, 0.99, 0.2)
    assert (c.batch_size, c.buffer_size, c.warmup_steps) == (64, 10_000, 100)
    assert c.weight_decay == 1e-4
    assert (c.log_std_min, c.log_std_max) == (-20.0, 2.0)
    assert c.grad_clip_norm == 1.0 and c.updates_per_step == 1
    assert c.resolved_target_entropy(21) == -21.0
    assert SACConfig(target_entropy=-3.0).resolved_target_entropy(21) == -3.0


def test_frozen_and_keyword_only():
    with pytest.raises(Exception):
        SACConfig().tau = 0.1  # type: ignore[misc]
    with pytest.raises(TypeError):
        SACConfig((64, 64))  # type: ignore[misc]


@pytest.mark.parametrize("field,value", [
    ("hidden_sizes", ()), ("hidden_sizes", (64, 0)), ("actor_lr", 0.0), ("critic_lr", -1e-3),
    ("alpha_lr", float("nan")), ("tau", 0.0), ("tau", 1.5), ("gamma", 1.01), ("init_alpha", 0.0),
    ("target_entropy", float("inf")), ("batch_size", 0), ("buffer_size", 10), ("warmup_steps", -1),
    ("weight_decay", -1e-4), ("reward_scale", 0.0), ("log_std_min", 3.0), ("grad_clip_norm", 0.0), ("updates_per_step", 0),
    ("batch_size", 1.5), ("aux", 1), ("aux_horizons", ()), ("aux_horizons", (4, 1)), ("aux_horizons", (0, 4)),
    ("aux_coef_short", -0.01), ("aux_coef_long", float("nan")), ("aux_clip", 0.0),
    ("max_nonfinite_skips", -1), ("allow_unsafe_lr", "yes"),
])
def test_invalid_values_raise_config_error_naming_them(field, value):
    with pytest.raises(ConfigError, match=field):
        SACConfig(**{field: value})


def test_dict_round_trip_through_json():
    c = SACConfig(hidden_sizes=(32, 16), tau=0.01, grad_clip_norm=None, target_entropy=-2.5,
                  aux=True, aux_horizons=(1, 24), aux_coef_long=0.02, allow_unsafe_lr=True)
    assert SACConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c


def test_aux_and_safety_defaults_and_helpers():
    c = SACConfig()
    assert (c.aux, c.aux_horizons, c.aux_clip, c.max_nonfinite_skips, c.allow_unsafe_lr) == (
        False, (1, 4), 1.0, 100, False)
    assert SACConfig(aux_horizons=[1, 4, 12], aux_coef_short=0.5, aux_coef_long=0.1).aux_coefs() == (0.5, 0.1, 0.1)
    assert SACConfig(actor_lr=1e-4).learning_rates() == {"actor": 1e-4, "critic": 3e-4, "alpha": 3e-4}
    # an unsafe rate is refused when training starts, not here: saved models must stay loadable
    assert SACConfig(actor_lr=5e-3).actor_lr == 5e-3


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ConfigError, match="learning_rate"):
        SACConfig.from_dict({"learning_rate": 1e-3})
