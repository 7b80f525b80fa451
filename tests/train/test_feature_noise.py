"""Feature noise (SACConfig.feature_noise): fresh noise on replayed features, exact weights, seeded."""

import gymnasium as gym
import pytest
import torch

from sacfolio.agents import SAC, SACConfig
from sacfolio.agents.buffers import ReplayBatch
from sacfolio.data.synthetic import drift_market
from sacfolio.env import EnvConfig, PortfolioEnv
from sacfolio.exceptions import ConfigError
from sacfolio.train.ensemble import train_sac_members
from sacfolio.train.off_policy import feature_columns, train_sac

SMALL = SACConfig(warmup_steps=20, batch_size=16, buffer_size=500, hidden_sizes=(16, 16))


def _env() -> PortfolioEnv:
    panel = drift_market(n_weeks=80, seed=0)
    return PortfolioEnv.from_panel(panel, config=EnvConfig(episode_length=26))


def _batch(b: int, obs_dim: int, act_dim: int) -> ReplayBatch:
    g = torch.Generator().manual_seed(1)
    return ReplayBatch(obs=torch.rand((b, obs_dim), generator=g), actions=torch.rand((b, act_dim), generator=g),
                       rewards=torch.rand(b, generator=g), next_obs=torch.rand((b, obs_dim), generator=g),
                       dones=torch.zeros(b))


def test_noise_reaches_the_features_only_with_the_asked_spread() -> None:
    batch = _batch(4000, 13, 4)
    clean_obs = batch.obs.clone()
    noisy = batch.with_feature_noise(0.7, 9, torch.Generator().manual_seed(0))
    for clean, perturbed in ((batch.obs, noisy.obs), (batch.next_obs, noisy.next_obs)):
        delta = perturbed - clean
        assert delta[:, :9].std().item() == pytest.approx(0.7, rel=0.03)
        assert abs(delta[:, :9].mean().item()) < 0.01
        assert torch.equal(perturbed[:, 9:], clean[:, 9:])            # the weights stay exact
    assert not torch.equal(noisy.obs[:, :9] - batch.obs[:, :9], noisy.next_obs[:, :9] - batch.next_obs[:, :9])
    assert torch.equal(batch.obs, clean_obs)                           # the replayed batch is not touched
    for field in ("actions", "rewards", "dones"):
        assert torch.equal(getattr(noisy, field), getattr(batch, field))
    again = batch.with_feature_noise(0.7, 9, torch.Generator().manual_seed(0))
    assert torch.equal(again.obs, noisy.obs) and torch.equal(again.next_obs, noisy.next_obs)


def test_the_portfolio_state_perturbs_its_features_before_the_weights() -> None:
    env = _env()
    core = env.core
    assert feature_columns(env) == core.n_symbols * core.n_features == core.obs_dim - core.act_dim
    with pytest.raises(ConfigError, match="flat portfolio state"):
        train_sac(gym.make("Pendulum-v1"), config=SACConfig(feature_noise=0.5), total_steps=10, seed=0,
                  progress=False)


def test_the_setting_is_checked_and_recorded_only_when_on() -> None:
    with pytest.raises(ConfigError, match="feature_noise"):
        SACConfig(feature_noise=-0.1)
    with pytest.raises(ConfigError, match="feature_noise"):
        SACConfig(feature_noise=float("nan"))
    assert "feature_noise" not in SACConfig().to_dict()                # older models' config.json reads the same
    recorded = SACConfig(feature_noise=0.5).to_dict()
    assert recorded["feature_noise"] == 0.5 and SACConfig.from_dict(recorded).feature_noise == 0.5


def _weights(learner: SAC) -> list[torch.Tensor]:
    return [p.detach().clone() for p in learner.actor.parameters()]


def test_a_noisy_run_is_reproducible_from_its_seed_and_differs_from_a_clean_one() -> None:
    noisy = SACConfig(**{**SMALL.__dict__, "feature_noise": 1.0})
    runs = [train_sac(_env(), config=c, total_steps=80, seed=4, progress=False).learner for c in (noisy, noisy, SMALL)]
    a, b, clean = (_weights(r) for r in runs)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert any(not torch.allclose(x, y) for x, y in zip(a, clean))


def test_members_trained_together_with_noise_equal_their_separate_runs() -> None:
    config = SACConfig(**{**SMALL.__dict__, "feature_noise": 1.0})
    seeds = (3, 8)
    separate = [train_sac(_env(), config=config, total_steps=80, seed=s, progress=False).learner for s in seeds]
    envs = [_env() for _ in seeds]
    fresh = [SAC(env.observation_space.shape[0], env.action_space.shape[0], config=config, seed=s)
             for env, s in zip(envs, seeds)]
    together = train_sac_members(envs, config=config, learners=fresh, seeds=seeds, total_steps=80, progress=False)
    for result, alone in zip(together, separate, strict=True):
        for x, y in zip(_weights(result.learner), _weights(alone), strict=True):
            torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-5)
