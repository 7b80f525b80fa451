"""GaussianActor and TwinCritic: shapes, squashing maths, batched critics, state-dict layout."""

import math

import pytest
import torch
from torch import nn
from torch.distributions import Normal
from torch.distributions.transforms import TanhTransform

from sacfolio.agents.critics import TwinCritic
from sacfolio.agents.networks import GaussianActor, squashed_gaussian_log_prob

OBS, ACT, B = 11, 4, 32


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_actor_shapes_range_and_deterministic_action_is_tanh_mean():
    actor = GaussianActor(OBS, ACT, (64, 64), generator=_gen())
    obs = torch.randn(B, OBS, generator=_gen(1))
    mean, log_std = actor(obs)
    assert mean.shape == log_std.shape == (B, ACT)
    action, log_prob = actor.sample(obs, _gen(2))
    assert action.shape == (B, ACT) and log_prob.shape == (B,)
    assert action.abs().max() < 1.0
    assert torch.equal(actor.act(obs, deterministic=True), torch.tanh(mean.detach()))
    stochastic = actor.act(obs, deterministic=False, generator=_gen(3))
    assert not torch.allclose(stochastic, torch.tanh(mean.detach()))


def test_log_std_is_clamped_to_config_range():
    actor = GaussianActor(OBS, ACT, (8,), log_std_min=-5.0, log_std_max=1.0, generator=_gen())
    obs = torch.randn(B, OBS, generator=_gen(1))
    with torch.no_grad():
        actor.log_std_head.bias.fill_(100.0)
    assert torch.all(actor(obs)[1] == 1.0)
    with torch.no_grad():
        actor.log_std_head.bias.fill_(-100.0)
    assert torch.all(actor(obs)[1] == -5.0)


def test_squashed_log_prob_matches_torch_distributions_reference():
    actor = GaussianActor(OBS, ACT, (64, 64), generator=_gen())
    obs = torch.randn(B, OBS, generator=_gen(1))
    action, log_prob = actor.sample(obs, _gen(7))
    mean, log_std = actor(obs)
    noise = torch.randn(mean.shape, generator=_gen(7))
    pre_tanh = mean + log_std.exp() * noise
    torch.testing.assert_close(action, torch.tanh(pre_tanh))
    reference = (Normal(mean, log_std.exp()).log_prob(pre_tanh)
                 - TanhTransform().log_abs_det_jacobian(pre_tanh, torch.tanh(pre_tanh))).sum(-1)
    torch.testing.assert_close(log_prob, reference, rtol=1e-5, atol=1e-5)


def test_log_prob_stays_finite_where_tanh_saturates():
    pre_tanh = torch.tensor([[30.0, -30.0, 0.0]])
    value = squashed_gaussian_log_prob(torch.zeros(1, 3), torch.zeros(1, 3), pre_tanh)
    assert torch.isfinite(value).all()
    # log(1 - tanh(u)^2) ~ 2 log 2 - 2|u| for large |u|: the correction adds 2*(2*30 - 2 log 2)
    expected = 3 * (-0.5 * math.log(2 * math.pi)) + 2 * (60 - 2 * math.log(2))
    assert value.item() == pytest.approx(expected, rel=1e-5)


def _separate_critics(critic: TwinCritic) -> nn.ModuleDict:
    def mlp() -> nn.Sequential:
        return nn.Sequential(nn.Linear(OBS + ACT, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                             nn.Linear(64, 1))
    twins = nn.ModuleDict({"q1": mlp(), "q2": mlp()})
    twins.load_state_dict(critic.state_dict(), strict=True)
    return twins


def test_twin_critic_batched_equals_two_separate_mlps():
    critic = TwinCritic(OBS, ACT, (64, 64), generator=_gen())
    obs, act = torch.randn(B, OBS, generator=_gen(1)), torch.rand(B, ACT, generator=_gen(2)) * 2 - 1
    q = critic(obs, act)
    assert q.shape == (2, B)
    twins = _separate_critics(critic)
    x = torch.cat((obs, act), -1)
    torch.testing.assert_close(q[0], twins["q1"](x).squeeze(-1), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(q[1], twins["q2"](x).squeeze(-1), rtol=1e-6, atol=1e-6)
    assert not torch.allclose(q[0], q[1])  # two independently initialized critics


def test_twin_critic_state_dict_is_per_critic_linear_layout_and_round_trips():
    critic = TwinCritic(OBS, ACT, (64, 64), generator=_gen())
    sd = critic.state_dict()
    assert sd["q1.0.weight"].shape == (64, OBS + ACT) and sd["q2.4.bias"].shape == (1,)
    assert len(sd) == 2 * 3 * 2
    other = TwinCritic(OBS, ACT, (64, 64), generator=_gen(99))
    other.load_state_dict(sd)
    obs, act = torch.randn(B, OBS), torch.randn(B, ACT)
    assert torch.equal(other(obs, act), critic(obs, act))
    # state dict tensors are copies: changing them leaves the module alone
    sd["q1.0.weight"].zero_()
    assert critic.weight0[0].abs().sum() > 0 and sd["q1.0.weight"].abs().sum() == 0


def test_twin_critic_load_rejects_bad_state_dicts():
    critic = TwinCritic(OBS, ACT, (64, 64), generator=_gen())
    sd = critic.state_dict()
    with pytest.raises(RuntimeError, match="Unexpected key"):
        critic.load_state_dict({**sd, "q3.0.weight": sd["q1.0.weight"]})
    with pytest.raises(RuntimeError, match="Missing key"):
        critic.load_state_dict({k: v for k, v in sd.items() if k != "q2.2.weight"})
    small = TwinCritic(OBS, ACT, (32, 32), generator=_gen())
    with pytest.raises(RuntimeError, match="size mismatch"):
        small.load_state_dict(sd)


def test_detached_critic_passes_gradient_to_action_only():
    critic = TwinCritic(OBS, ACT, (64, 64), generator=_gen())
    obs = torch.randn(B, OBS)
    act = torch.randn(B, ACT, requires_grad=True)
    critic(obs, act, detach_params=True).sum().backward()
    assert act.grad is not None and act.grad.abs().sum() > 0
    assert all(p.grad is None for p in critic.parameters())
    critic(obs, act).sum().backward()
    assert all(p.grad is not None for p in critic.parameters())


def test_same_generator_seed_gives_same_initial_weights():
    a, b = GaussianActor(OBS, ACT, generator=_gen(5)), GaussianActor(OBS, ACT, generator=_gen(5))
    c = GaussianActor(OBS, ACT, generator=_gen(6))
    for (k, v), w in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(v, w), k
    assert not torch.equal(a.state_dict()["mean_head.weight"], c.state_dict()["mean_head.weight"])
