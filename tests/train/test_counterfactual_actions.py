"""Counterfactual actions in SAC training: the extra transitions carry the env's own rewards."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch

from sacfolio.agents import SAC, SACConfig
from sacfolio.agents.buffers import ReplayBuffer
from sacfolio.data.known_markets import known_market
from sacfolio.env import EnvConfig, PortfolioEnv
from sacfolio.env.counterfactual import counterfactual_period
from sacfolio.exceptions import ConfigError
from sacfolio.train.counterfactual import CounterfactualActions
from sacfolio.train.ensemble import trains_together
from sacfolio.train.off_policy import train_sac
from sacfolio.train.portfolio import PORTFOLIO_SAC, train_model

RESIDUAL = {"action_mode": "residual", "tilt": 1.0, "reward": "excess_log_return", "episode_length": 20}


def _env(settings: dict) -> PortfolioEnv:
    panel = known_market("ar1", strength=0.2, seed=0, n_stocks=5, n_weeks=90).panel
    return PortfolioEnv.from_panel(panel, config=EnvConfig.from_dict(settings))


def _filled_buffer(env: PortfolioEnv, n: int, aux: bool) -> ReplayBuffer:
    """``n`` transitions of random actions, stored as the trainer stores them."""
    rng = np.random.default_rng(0)
    k = env.core.n_symbols
    buffer = ReplayBuffer(env.observation_space.shape[0], env.action_space.shape[0], n,
                          aux_shape=(1, k) if aux else None, store_rows=True)
    obs, _ = env.reset(seed=0)
    while len(buffer) < n:
        action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
        next_obs, reward, terminated, truncated, info = env.step(action)
        buffer.add(obs, action, reward, next_obs, terminated, rng.normal(size=(1, k)) if aux else None, info["t"])
        obs = env.reset()[0] if terminated or truncated else next_obs
    return buffer


@pytest.mark.parametrize("settings", [{"episode_length": 20}, RESIDUAL], ids=["softmax log return", "residual excess"])
def test_the_extra_transitions_are_the_env_replaying_the_state_with_fresh_actions(settings):
    env = _env(settings)
    buffer = _filled_buffer(env, 60, aux=True)
    sac = SAC(env.observation_space.shape[0], env.action_space.shape[0], config=SACConfig(), seed=0)
    batch = buffer.sample(16, torch.Generator().manual_seed(1))
    out = CounterfactualActions(env, 2)(batch, sac)
    assert out.obs.shape[0] == 48
    for field in ("obs", "actions", "rewards", "next_obs", "dones", "rows"):
        torch.testing.assert_close(getattr(out, field)[:16], getattr(batch, field), rtol=0, atol=0)
    torch.testing.assert_close(out.obs[16:], batch.obs.repeat(2, 1), rtol=0, atol=0)
    assert not torch.equal(out.actions[16:32], batch.actions)  # fresh policy samples
    k = env.core.act_dim
    fresh = counterfactual_period(env.core, out.rows[16:].numpy(), out.obs[16:, -k:].double().numpy(),
                                  out.actions[16:].double().numpy())
    if settings.get("reward") is None:  # log return: the reward is the action's own log growth
        stored = counterfactual_period(env.core, batch.rows.numpy(), batch.obs[:, -k:].double().numpy(),
                                       batch.actions.double().numpy())
        np.testing.assert_allclose(stored.log_growth, batch.rewards.numpy(), atol=2e-7)
        np.testing.assert_allclose(out.rewards[16:].numpy(), fresh.log_growth, atol=4e-7)
    torch.testing.assert_close(out.next_obs[16:, :-k], batch.next_obs[:, :-k].repeat(2, 1), rtol=0, atol=0)
    np.testing.assert_allclose(out.next_obs[16:, -k:].numpy(), fresh.drifted, atol=1e-7)
    assert torch.isnan(out.aux_targets[16:]).all() and torch.isfinite(out.aux_targets[:16]).all()


def test_training_with_counterfactual_actions_runs_is_seeded_and_is_recorded():
    market = known_market("ar1", strength=0.2, seed=0, n_stocks=5, n_weeks=90)
    sac = dataclasses.replace(PORTFOLIO_SAC, network="cross_sectional", gamma=0.0, counterfactual_actions=1,
                              hidden_sizes=(16,), warmup_steps=20, batch_size=16)
    env = EnvConfig.from_dict(RESIDUAL)
    runs = [train_model(market.panel, train_stop=70, env_config=env, sac_config=sac, steps=60, seed=3,
                        progress=False) for _ in range(2)]
    first, second = (r.learner.actor.state_dict() for r in runs)  # type: ignore[union-attr]
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert runs[0].sac_config.to_dict()["counterfactual_actions"] == 1
    assert "counterfactual_actions" not in PORTFOLIO_SAC.to_dict()  # older config.json files read the same
    assert SACConfig.from_dict(sac.to_dict()) == sac
    assert not trains_together(algo="sac", variant="sac_price", sac_config=dataclasses.replace(
        PORTFOLIO_SAC, counterfactual_actions=1), members=3)
    mlp = dataclasses.replace(sac, network="mlp", counterfactual_actions=2)  # the hand-derived path, 3B rows
    model = train_model(market.panel, train_stop=70, env_config=env, sac_config=mlp, steps=60, seed=3, progress=False)
    assert model.learner.fast_path and model.train_result.n_updates == 40


def test_what_cannot_be_replayed_is_refused():
    with pytest.raises(ConfigError, match="counterfactual_actions must be an int >= 0"):
        SACConfig(counterfactual_actions=-1)
    with pytest.raises(ConfigError, match="portfolio env"):
        train_sac(gym.make("Pendulum-v1"), config=SACConfig(counterfactual_actions=1), total_steps=10, seed=0,
                  progress=False)
    with pytest.raises(ValueError, match="stores rows"):
        ReplayBuffer(3, 2, 4).add(np.zeros(3), np.zeros(2), 0.0, np.zeros(3), False, None, 5)
    with pytest.raises(ValueError, match="stores rows"):
        ReplayBuffer(3, 2, 4, store_rows=True).add(np.zeros(3), np.zeros(2), 0.0, np.zeros(3), False)
