"""PPO learner: GAE by hand, the clipped surrogate, masking, skipping, state dicts."""

import json

import numpy as np
import pytest
import torch

from sacfolio.agents import NumpyPolicy
from sacfolio.agents.buffers import RolloutBatch, gae
from sacfolio.agents.config import PPOConfig
from sacfolio.agents.ppo import PPO, PPO_STATE_DICT_FILES
from sacfolio.exceptions import ConfigError
from sacfolio.agents.learner import Learner

OBS, ACT = 7, 3


def test_config_defaults_validation_and_round_trip():
    c = PPOConfig()
    assert (c.lr, c.n_steps, c.batch_size, c.n_epochs, c.gamma, c.gae_lambda, c.clip_range) == (
        3e-4, 512, 64, 10, 0.99, 0.95, 0.2)
    assert (c.ent_coef, c.vf_coef, c.max_grad_norm, c.reward_scale, c.aux) == (0.0, 0.5, 0.5, 1.0, False)
    assert c.learning_rates() == {"ppo": 3e-4}
    d = PPOConfig(aux=True, aux_horizons=(1, 24), n_steps=128, batch_size=32, max_grad_norm=None)
    assert PPOConfig.from_dict(json.loads(json.dumps(d.to_dict()))) == d
    for field, value in [("lr", 0.0), ("n_steps", 0), ("batch_size", 1000), ("gamma", 1.5), ("gae_lambda", -0.1),
                         ("clip_range", 0.0), ("ent_coef", -1.0), ("vf_coef", 0.0), ("aux_horizons", (4, 4)),
                         ("normalize_advantage", 1), ("log_std_min", 5.0)]:
        with pytest.raises(ConfigError, match=field):
            PPOConfig(**{field: value})
    with pytest.raises(ConfigError, match="unknown PPOConfig keys"):
        PPOConfig.from_dict({"learning_rate": 1e-3})


def test_gae_matches_hand_computation_with_cut_and_bootstrapped_episodes():
    g, lam = 0.9, 0.5
    rewards = np.array([1.0, 2.0, 3.0, 4.0])
    values = np.array([0.5, 1.0, 1.5, 2.0])
    # step 1 ends an episode by truncation: bootstrap from V(final obs) = 10; step 3 is the rollout cut
    next_values = np.array([1.0, 10.0, 2.0, 3.0])
    ends = np.array([False, True, False, False])
    adv, ret = gae(rewards, values, next_values, ends, g, lam)
    d = rewards + g * next_values - values
    want = np.array([d[0] + g * lam * d[1], d[1], d[2] + g * lam * d[3], d[3]])
    np.testing.assert_allclose(adv, want)
    np.testing.assert_allclose(ret, want + values)


def _batch(ppo: PPO, n: int = 32, seed: int = 0, log_ratio: float = 0.0, adv: float = 1.0) -> RolloutBatch:
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(n, OBS, generator=g)
    with torch.no_grad():
        mean, log_std = ppo.actor(obs)
        u = mean + log_std.exp() * torch.randn(n, ACT, generator=g)
        logp = (-0.5 * ((u - mean) / log_std.exp()).square() - log_std - 0.5 * np.log(2 * np.pi)).sum(-1)
    return RolloutBatch(obs=obs, pre_tanh=u, log_probs=logp - log_ratio, advantages=torch.full((n,), adv),
                        returns=torch.randn(n, generator=g), mask=torch.ones(n))


def _policy_grads(ppo: PPO, batch: RolloutBatch) -> list[torch.Tensor]:
    loss = ppo.losses(batch)["losses/policy"]
    params = [ppo.actor.mean_head.weight, ppo.actor.log_std_head.weight]
    return list(torch.autograd.grad(loss, params))


def test_clipped_surrogate_stops_the_gradient_outside_the_trust_region():
    ppo = PPO(OBS, ACT, seed=0)
    inside = _policy_grads(ppo, _batch(ppo, log_ratio=0.0))
    assert all(g.abs().sum() > 0 for g in inside)
    # ratio e^1 > 1.2 with a positive advantage: the objective is clipped, no gradient
    outside = _policy_grads(ppo, _batch(ppo, log_ratio=1.0))
    assert all(torch.equal(g, torch.zeros_like(g)) for g in outside)
    # with a negative advantage the min picks the unclipped term: gradient again
    assert all(g.abs().sum() > 0 for g in _policy_grads(ppo, _batch(ppo, log_ratio=1.0, adv=-1.0)))
    stats = ppo.losses(_batch(ppo, log_ratio=1.0))
    assert float(stats["charts/clip_fraction"]) == 1.0 and float(stats["charts/approx_kl"]) > 0


def test_masked_rows_do_not_change_the_losses():
    ppo = PPO(OBS, ACT, seed=1)
    batch = _batch(ppo)
    mask = torch.ones(32)
    mask[:4] = 0.0
    a = ppo.losses(batch._replace(mask=mask))
    returns, adv = batch.returns.clone(), batch.advantages.clone()
    returns[:4], adv[:4] = 1e6, -1e6
    b = ppo.losses(batch._replace(mask=mask, returns=returns, advantages=adv))
    for key in ("losses/policy", "losses/value"):
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_nonfinite_step_is_skipped_and_counted():
    ppo = PPO(OBS, ACT, config=PPOConfig(max_nonfinite_skips=0), seed=2)
    ppo.update(_batch(ppo))
    before = [p.detach().clone() for p in [*ppo.actor.parameters(), *ppo.value.parameters()]]
    bad = _batch(ppo, seed=1)
    obs = bad.obs.clone()
    obs[0] = float("nan")
    metrics = ppo.update(bad._replace(obs=obs))
    assert float(metrics["charts/skipped_updates"]) == 1
    assert all(np.isfinite(float(v)) for v in metrics.values())
    assert all(torch.equal(a, b) for a, b in zip(before, [*ppo.actor.parameters(), *ppo.value.parameters()]))
    from sacfolio.exceptions import TrainingHealthError

    with pytest.raises(TrainingHealthError, match="max_nonfinite_skips=0"):
        ppo.check_nonfinite()


def test_learner_protocol_state_dicts_and_numpy_policy(tmp_path):
    ppo = PPO(OBS, ACT, config=PPOConfig(aux=True), seed=3)
    assert isinstance(ppo, Learner) and set(ppo.modules()) == {"actor", "value"}
    for _ in range(3):
        ppo.update(_batch(ppo)._replace(aux_targets=torch.zeros(32, 2, ACT - 1)))
    state = ppo.state_dicts()
    assert tuple(state) == PPO_STATE_DICT_FILES and "aux.heads.1.weight" in state["actor.pt"]
    for name, sd in state.items():
        torch.save(sd, tmp_path / name)
    fresh = PPO(OBS, ACT, config=PPOConfig(aux=True), seed=9)
    fresh.load_state_dicts({n: torch.load(tmp_path / n, weights_only=True) for n in PPO_STATE_DICT_FILES})
    obs = np.random.default_rng(0).standard_normal((5, OBS)).astype(np.float32)
    np.testing.assert_allclose(NumpyPolicy.from_actor(fresh.policy())(obs),
                               ppo.actor.act(torch.from_numpy(obs)).numpy(), atol=1e-6)
    np.testing.assert_array_equal(fresh.predict_aux(obs), ppo.predict_aux(obs))
    with pytest.raises(ConfigError, match="value.pt"):
        fresh.load_state_dicts({"actor.pt": state["actor.pt"]})
    with pytest.raises(ConfigError, match="aux=False"):
        PPO(OBS, ACT, seed=0).load_state_dicts(state)
