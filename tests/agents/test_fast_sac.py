"""The hand-derived SAC update equals the autograd one: losses, gradients, new weights."""

import numpy as np
import pytest
import torch

from sacfolio.agents import SAC, ReplayBuffer, SACConfig
from sacfolio.exceptions import ConfigError

OBS, ACT = 11, 4


def _buffer(n: int = 200, seed: int = 0, nan_rewards: int = 0, aux: bool = False) -> ReplayBuffer:
    rng = np.random.default_rng(seed)
    buf = ReplayBuffer(OBS, ACT, capacity=n, aux_shape=(2, ACT - 1) if aux else None)
    for i in range(n):
        act = rng.uniform(-1, 1, ACT)
        reward = float("nan") if i < nan_rewards else float(act[0] - 0.3 * act[1])
        target = None
        if aux:   # returns beyond the clip, and unknown (NaN) labels, as the env's last rows have
            target = rng.normal(0.0, 0.7, (2, ACT - 1))
            target[1, :] = np.nan if i % 4 == 0 else target[1, :]
        buf.add(rng.standard_normal(OBS), act, reward, rng.standard_normal(OBS), rng.random() < 0.1, target)
    return buf


def _pair(config: SACConfig, seed: int = 0) -> tuple[SAC, SAC]:
    fast, plain = SAC(OBS, ACT, config=config, seed=seed), SAC(OBS, ACT, config=config, seed=seed)
    plain.use_fast_path = False
    assert fast.fast_path and not plain.fast_path
    return fast, plain


def _tensors(sac: SAC) -> list[torch.Tensor]:
    return [*sac.actor.parameters(), *sac.critic.parameters(), *sac.critic_target.parameters(), sac.log_alpha]


@pytest.mark.parametrize("config", [
    SACConfig(grad_clip_norm=None),
    SACConfig(),                                        # clipping at 1.0
    SACConfig(reward_scale=100.0, log_std_min=-1.0, log_std_max=0.5, gamma=0.9, target_entropy=3.0),
], ids=["plain", "clip", "scaled-clamped"])
def test_one_update_equals_autograd_in_losses_gradients_and_weights(config):
    fast, plain = _pair(config)
    batch = _buffer().sample(32, torch.Generator().manual_seed(1))
    out_fast, out_plain = fast.update(batch), plain.update(batch)
    assert set(out_fast) == set(out_plain)
    for key in out_plain:
        torch.testing.assert_close(out_fast[key], out_plain[key], rtol=1e-6, atol=1e-6, msg=key)
    for p, q in zip([*fast.actor.parameters(), *fast.critic.parameters(), fast.log_alpha],
                    [*plain.actor.parameters(), *plain.critic.parameters(), plain.log_alpha]):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-6, atol=1e-6)
    for p, q in zip(_tensors(fast), _tensors(plain)):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-6)
    assert torch.equal(fast.generator.get_state(), plain.generator.get_state())


def test_a_training_run_follows_the_autograd_trajectory():
    fast, plain = _pair(SACConfig(), seed=3)
    buf = _buffer(seed=2)
    for _ in range(25):
        fast.update(buf.sample(32, fast.generator))
        plain.update(buf.sample(32, plain.generator))
    for p, q in zip(_tensors(fast), _tensors(plain)):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-5)


def test_masked_targets_and_skipped_steps_match_autograd():
    fast, plain = _pair(SACConfig())
    batch = _buffer(nan_rewards=200).sample(32, torch.Generator().manual_seed(0))
    for sac in (fast, plain):
        sac.update(batch)                    # every target NaN: masked, the loss is 0, the step is taken
    assert fast.nonfinite_counts() == plain.nonfinite_counts() == {"skipped_updates": 0, "nonfinite_targets": 32}
    obs = batch.obs.clone()
    obs[0, 0] = float("nan")               # a NaN observation makes the critic loss NaN: skipped
    bad = batch._replace(obs=obs)
    before = [t.detach().clone() for t in _tensors(fast)]
    out = fast.update(bad)
    plain.update(bad)
    assert fast.nonfinite_counts() == plain.nonfinite_counts()
    assert fast.nonfinite_counts()["skipped_updates"] == 1
    assert float(out["losses/critic"]) == 0.0
    for p, q in zip(before[: -1 - len(list(fast.critic_target.parameters()))], _tensors(fast)):
        assert torch.equal(p, q)
    for p, q in zip(_tensors(fast), _tensors(plain)):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-6)


AUX_CONFIGS = [
    SACConfig(reward_scale=100.0, aux=True),                            # the portfolio default
    SACConfig(aux=True, aux_shared_trunk=True, aux_clip=0.5),           # the aux loss trains the trunk
    SACConfig(aux=True, aux_coef_short=0.0, aux_coef_long=0.3, grad_clip_norm=None),   # one head untrained
]


@pytest.mark.parametrize("config", AUX_CONFIGS, ids=["default", "shared-clip", "one-head"])
def test_aux_heads_one_update_equals_autograd(config):
    fast, plain = _pair(config)
    batch = _buffer(aux=True).sample(32, torch.Generator().manual_seed(2))
    out_fast, out_plain = fast.update(batch), plain.update(batch)
    assert set(out_fast) == set(out_plain) and "losses/aux" in out_fast
    for key in out_plain:
        torch.testing.assert_close(out_fast[key], out_plain[key], rtol=1e-6, atol=1e-6, msg=key)
    for p, q in zip(fast.actor.parameters(), plain.actor.parameters()):
        assert (p.grad is None) == (q.grad is None)          # an untrained head gets no gradient at all
        if q.grad is not None:
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-6, atol=1e-6)
    for p, q in zip(_tensors(fast), _tensors(plain)):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("config", AUX_CONFIGS[:2], ids=["default", "shared-clip"])
def test_aux_heads_fifty_updates_follow_the_autograd_trajectory(config):
    fast, plain = _pair(config, seed=7)
    buf = _buffer(seed=4, aux=True)
    for _ in range(50):
        fast.update(buf.sample(32, fast.generator))
        plain.update(buf.sample(32, plain.generator))
    for p, q in zip(_tensors(fast), _tensors(plain)):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-6)
    assert torch.equal(fast.generator.get_state(), plain.generator.get_state())


def test_a_batch_without_aux_targets_is_refused_on_the_fast_path():
    sac = SAC(OBS, ACT, config=SACConfig(aux=True), seed=0)
    with pytest.raises(ConfigError, match="aux_targets"):
        sac.update(_buffer().sample(32, sac.generator))


def test_explore_samples_like_the_actor_with_the_same_noise():
    sac = SAC(OBS, ACT, config=SACConfig(), seed=4)
    obs = torch.randn(5, OBS)
    state = sac.generator.get_state()
    want = sac.actor.act(obs, deterministic=False, generator=sac.generator)
    after = sac.generator.get_state()
    sac.generator.set_state(state)
    torch.testing.assert_close(sac.explore(obs), want, rtol=1e-6, atol=1e-6)
    assert torch.equal(sac.generator.get_state(), after)       # the same draws, in the same order


def test_shared_adam_step_counters_never_leave_the_optimizer():
    sac = SAC(OBS, ACT, config=SACConfig(), seed=6)
    buf = _buffer()
    for _ in range(3):
        sac.update(buf.sample(32, sac.generator))
    steps = [st["step"] for st in sac.critic_optimizer.state_dict()["state"].values()]
    assert [float(s) for s in steps] == [3.0] * len(steps)
    assert len({s.data_ptr() for s in steps}) == len(steps)      # a plain Adam loading them counts each once
    reference = torch.optim.Adam(sac.critic.parameters(), lr=3e-4, fused=True)
    reference.load_state_dict(sac.critic_optimizer.state_dict())
    for p in sac.critic.parameters():
        p.grad = torch.ones_like(p)
    reference.step()
    assert [float(st["step"]) for st in reference.state.values()] == [4.0] * len(steps)


def test_lean_gradient_clipping_equals_torch_clip_grad_norm():
    from sacfolio.agents.learner import clip_grad_norm_

    torch.manual_seed(0)
    ours = [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(4)), torch.nn.Parameter(torch.randn(2))]
    ref = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    for scale in (10.0, 0.01):                       # clipped, and left alone
        for p, q in zip(ours, ref):
            p.grad = torch.randn_like(p) * scale
            q.grad = p.grad.clone()
        ours[2].grad = ref[2].grad = None
        norm = clip_grad_norm_(ours, 1.0)
        assert torch.equal(norm, torch.nn.utils.clip_grad_norm_(ref, 1.0, foreach=True))
        for p, q in zip(ours[:2], ref[:2]):
            assert torch.equal(p.grad, q.grad)
