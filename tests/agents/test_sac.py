"""SAC learner: losses reach only their own parameters, Polyak, temperature, state dicts."""

import numpy as np
import pytest
import torch

from sacfolio.agents import SAC, STATE_DICT_FILES, ReplayBuffer, SACConfig
from sacfolio.exceptions import ConfigError
from sacfolio.train.callbacks import Learner

OBS, ACT = 9, 3


def _buffer(n: int = 256, seed: int = 0) -> ReplayBuffer:
    rng = np.random.default_rng(seed)
    buf = ReplayBuffer(OBS, ACT, capacity=n)
    for _ in range(n):
        obs = rng.standard_normal(OBS).astype(np.float32)
        act = rng.uniform(-1, 1, ACT).astype(np.float32)
        buf.add(obs, act, float(act[0] - 0.5 * act[1]), rng.standard_normal(OBS), rng.random() < 0.05)
    return buf


def _params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def test_update_returns_detached_scalar_metrics_and_moves_every_trained_tensor():
    sac = SAC(OBS, ACT, config=SACConfig(), seed=0)
    before = {name: _params(m) for name, m in sac.modules().items()}
    log_alpha = sac.log_alpha.detach().clone()
    metrics = sac.update(_buffer().sample(64, sac.generator))
    assert {"losses/critic", "losses/actor", "losses/alpha", "charts/alpha", "charts/entropy",
            "charts/q_mean", "charts/actor_grad_norm", "charts/critic_grad_norm"} <= set(metrics)
    for key, value in metrics.items():
        assert isinstance(value, torch.Tensor) and value.ndim == 0 and not value.requires_grad, key
        assert np.isfinite(float(value)), key
    for name, module in sac.modules().items():
        changed = [not torch.equal(a, b) for a, b in zip(before[name], _params(module))]
        assert all(changed), name
    assert sac.log_alpha != log_alpha and sac.n_updates == 1
    assert isinstance(sac, Learner)
    assert set(sac.optimizers()) == {"actor", "critic", "alpha"}


def test_each_loss_reaches_only_its_own_parameters():
    sac = SAC(OBS, ACT, config=SACConfig(grad_clip_norm=None), seed=1)
    batch = _buffer().sample(64, torch.Generator().manual_seed(0))
    state = sac.generator.get_state()
    losses = sac.losses(batch)
    critic_params, actor_params = list(sac.critic.parameters()), list(sac.actor.parameters())
    want_critic = torch.autograd.grad(losses["losses/critic"], critic_params, retain_graph=True)
    want_actor = torch.autograd.grad(losses["losses/actor"], actor_params, retain_graph=True)
    want_alpha = torch.autograd.grad(losses["losses/alpha"], [sac.log_alpha])[0]
    sac.generator.set_state(state)
    sac.update(batch)
    for p, g in zip(critic_params, want_critic):
        torch.testing.assert_close(p.grad, g)
    for p, g in zip(actor_params, want_actor):
        torch.testing.assert_close(p.grad, g)
    torch.testing.assert_close(sac.log_alpha.grad, want_alpha)
    assert all(p.grad is None for p in sac.critic_target.parameters())


def test_target_critic_moves_by_polyak_tau():
    tau = 0.05
    sac = SAC(OBS, ACT, config=SACConfig(tau=tau), seed=2)
    target_before = _params(sac.critic_target)
    assert all(torch.equal(a, b) for a, b in zip(target_before, _params(sac.critic)))
    sac.update(_buffer().sample(64, sac.generator))
    for old, new_online, new_target in zip(target_before, _params(sac.critic), _params(sac.critic_target)):
        torch.testing.assert_close(new_target, (1 - tau) * old + tau * new_online, rtol=0, atol=1e-7)
        assert not torch.equal(new_target, old)


@pytest.mark.parametrize("target_entropy,direction", [(10.0, 1), (-100.0, -1)])
def test_temperature_follows_the_entropy_target(target_entropy, direction):
    sac = SAC(OBS, ACT, config=SACConfig(target_entropy=target_entropy, alpha_lr=1e-2), seed=3)
    buf = _buffer()
    start = sac.alpha
    for _ in range(20):
        sac.update(buf.sample(64, sac.generator))
    assert (sac.alpha - start) * direction > 0


def test_critic_fits_rewards_when_gamma_is_zero():
    sac = SAC(OBS, ACT, config=SACConfig(gamma=0.0, critic_lr=1e-3, weight_decay=0.0), seed=4)
    batch = _buffer().sample(128, torch.Generator().manual_seed(1))
    first = float(sac.update(batch)["losses/critic"])
    for _ in range(300):
        last = float(sac.update(batch)["losses/critic"])
    assert last < 0.1 * first


def test_same_seed_same_weights_different_seed_different_weights():
    def run(seed: int) -> dict[str, torch.Tensor]:
        sac = SAC(OBS, ACT, config=SACConfig(), seed=seed)
        buf = _buffer()
        for _ in range(15):
            sac.update(buf.sample(64, sac.generator))
        return sac.actor.state_dict()
    a, b, c = run(7), run(7), run(8)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["mean_head.weight"], c["mean_head.weight"])


def test_state_dicts_round_trip_through_weights_only_files(tmp_path):
    sac = SAC(OBS, ACT, config=SACConfig(), seed=5)
    buf = _buffer()
    for _ in range(5):
        sac.update(buf.sample(64, sac.generator))
    state = sac.state_dicts()
    assert tuple(state) == STATE_DICT_FILES
    for name, sd in state.items():
        torch.save(sd, tmp_path / name)
    loaded = {name: torch.load(tmp_path / name, weights_only=True) for name in STATE_DICT_FILES}
    fresh = SAC(OBS, ACT, config=SACConfig(), seed=99)
    fresh.load_state_dicts(loaded)
    obs, act = torch.randn(16, OBS), torch.rand(16, ACT)
    assert torch.equal(fresh.actor.act(obs), sac.actor.act(obs))
    assert torch.equal(fresh.critic(obs, act), sac.critic(obs, act))
    assert torch.equal(fresh.critic_target(obs, act), sac.critic_target(obs, act))
    assert fresh.alpha == sac.alpha
    assert fresh.policy() is fresh.actor


def test_load_state_dicts_errors_name_the_problem():
    sac = SAC(OBS, ACT, seed=0)
    with pytest.raises(ConfigError, match="log_alpha.pt"):
        sac.load_state_dicts({k: v for k, v in sac.state_dicts().items() if k != "log_alpha.pt"})
    other = SAC(OBS + 1, ACT, seed=0)
    with pytest.raises(ConfigError, match="obs_dim=9"):
        sac.load_state_dicts(other.state_dicts())
    with pytest.raises(ConfigError, match="obs_dim"):
        SAC(0, ACT)


def test_fused_adam_matches_torch_adam_step_for_step():
    from sacfolio.agents.sac import FusedAdam

    torch.manual_seed(0)
    ref = [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(3))]
    ours = [torch.nn.Parameter(p.detach().clone()) for p in ref]
    ref_opt = torch.optim.Adam(ref, lr=1e-2, weight_decay=1e-3, fused=True)
    our_opt = FusedAdam(ours, lr=1e-2, weight_decay=1e-3)
    for step in range(6):
        grads = [torch.randn_like(p) for p in ref]
        for p, q, g in zip(ref, ours, grads):
            p.grad, q.grad = g.clone(), g.clone()
        if step == 3:  # a parameter without gradient is skipped by both
            ref[1].grad = ours[1].grad = None
        ref_opt.step()
        our_opt.step()
    for p, q in zip(ref, ours):
        torch.testing.assert_close(q, p, rtol=0, atol=1e-7)
    assert our_opt.state[ours[0]]["step"].item() == 6 and our_opt.state[ours[1]]["step"].item() == 5
    our_opt.param_groups[0]["lr"] = 0.0  # the lean step still reads the group's lr
    before = ours[0].detach().clone()
    ours[0].grad = torch.ones_like(before)
    our_opt.step()
    assert torch.equal(ours[0].detach(), before * (1 - 0.0))
