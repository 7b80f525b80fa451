"""SAC learner: losses reach only their own parameters, Polyak, temperature, state dicts."""

import numpy as np
import pytest
import torch

from sacfolio.agents import SAC, STATE_DICT_FILES, ReplayBuffer, SACConfig
from sacfolio.exceptions import ConfigError
from sacfolio.agents.learner import Learner

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
    from sacfolio.agents.optim import FusedAdam

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


# ------------------------------------------------------------------ NaN safety
def _all_params(sac: SAC) -> list[torch.Tensor]:
    return [*sac.actor.parameters(), *sac.critic.parameters(), *sac.critic_target.parameters(), sac.log_alpha]


def test_nan_targets_are_masked_counted_and_leave_every_parameter_finite():
    sac = SAC(OBS, ACT, config=SACConfig(grad_clip_norm=None), seed=0)
    buf = _buffer()
    clean = buf.sample(64, torch.Generator().manual_seed(3))
    rewards, next_obs = clean.rewards.clone(), clean.next_obs.clone()
    rewards[:5] = float("nan")
    rewards[5] = float("inf")
    next_obs[6:8, 2] = float("nan")   # a broken next state poisons its target, nothing else
    batch = clean._replace(rewards=rewards, next_obs=next_obs)
    metrics = sac.update(batch)
    assert float(metrics["charts/nonfinite_targets"]) == 8 and float(metrics["charts/skipped_updates"]) == 0
    assert all(torch.isfinite(p).all() for p in _all_params(sac))
    assert all(np.isfinite(float(v)) for v in metrics.values())
    # masked rows have no influence: other non-finite values there give the same losses
    other_rewards = rewards.clone()
    other_rewards[:6] = torch.tensor([float("-inf"), 1.0, float("nan"), float("nan"), 3.0, float("nan")])
    other_next = next_obs.clone()
    other_next[:6, 0] = float("nan")
    other_next[6:8] = float("inf")
    probe = SAC(OBS, ACT, config=SACConfig(grad_clip_norm=None), seed=9)
    state = probe.generator.get_state()
    a = probe.losses(batch)
    probe.generator.set_state(state)
    b = probe.losses(batch._replace(rewards=other_rewards, next_obs=other_next))
    assert float(b["charts/nonfinite_targets"]) == 8
    torch.testing.assert_close(a["losses/critic"], b["losses/critic"], rtol=0, atol=0)
    for _ in range(20):
        sac.update(batch)
    assert sac.nonfinite_counts() == {"skipped_updates": 0, "nonfinite_targets": 21 * 8}
    assert all(torch.isfinite(p).all() for p in _all_params(sac))


def test_nonfinite_loss_skips_the_step_without_touching_weights_or_optimizer_state():
    sac = SAC(OBS, ACT, config=SACConfig(), seed=1)
    buf = _buffer()
    sac.update(buf.sample(64, sac.generator))   # optimizer state exists
    before = [p.detach().clone() for p in [*sac.actor.parameters(), *sac.critic.parameters(), sac.log_alpha]]
    moments = [s["exp_avg"].clone() for s in sac.critic_optimizer.state.values()]
    steps = [float(s["step"]) for s in sac.critic_optimizer.state.values()]
    batch = buf.sample(64, sac.generator)
    obs = batch.obs.clone()
    obs[3, 0] = float("nan")                     # a broken observation: nothing to mask, skip
    metrics = sac.update(batch._replace(obs=obs))
    after = [p.detach() for p in [*sac.actor.parameters(), *sac.critic.parameters(), sac.log_alpha]]
    assert all(torch.equal(a, b) for a, b in zip(before, after))
    assert all(torch.equal(m, s["exp_avg"]) for m, s in zip(moments, sac.critic_optimizer.state.values()))
    assert steps == [float(s["step"]) for s in sac.critic_optimizer.state.values()]
    assert float(metrics["charts/skipped_updates"]) == 1 and sac.n_updates == 2
    assert all(np.isfinite(float(v)) for v in metrics.values())  # callbacks never see NaN losses
    sac.update(batch)                            # and the next clean batch trains again
    assert not torch.equal(before[0], sac.actor.trunk[0].weight)


def test_skips_past_the_limit_raise_training_health_error():
    from sacfolio.exceptions import TrainingHealthError

    sac = SAC(OBS, ACT, config=SACConfig(max_nonfinite_skips=3), seed=2)
    batch = _buffer().sample(64, sac.generator)
    bad = batch._replace(obs=torch.full_like(batch.obs, float("nan")))
    for _ in range(3):
        sac.update(bad)
    sac.check_nonfinite()                        # 3 skips: at the limit, allowed
    sac.update(bad)
    with pytest.raises(TrainingHealthError, match="4 of 4 SAC updates.*max_nonfinite_skips=3"):
        sac.check_nonfinite()


def test_fused_adam_found_inf_skips_exactly_like_no_step():
    from sacfolio.agents.optim import FusedAdam

    p = torch.nn.Parameter(torch.randn(4))
    opt = FusedAdam([p], lr=0.1, weight_decay=1e-2)
    p.grad = torch.full((4,), float("nan"))
    opt.step(found_inf=torch.ones(()))           # first step (Adam builds its state) skipped
    assert torch.isfinite(p).all() and float(opt.state[p]["step"]) == 0
    p.grad = torch.ones(4)
    before = p.detach().clone()
    opt.step(found_inf=torch.zeros(()))
    assert float(opt.state[p]["step"]) == 1 and not torch.equal(before, p.detach())
