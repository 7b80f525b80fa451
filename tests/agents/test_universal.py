"""The slot transformer: padding and masking by construction, equivariance, fusion of advisors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sacfolio.agents.buffers import ReplayBatch
from sacfolio.agents.config import SACConfig
from sacfolio.agents.sac import SAC
from sacfolio.agents.universal import UniversalActor, UniversalConfig
from sacfolio.agents.universal_critic import UniversalModules
from sacfolio.broker.projection import feasible_rows, weight_bounds
from sacfolio.env.config import EnvConfig
from sacfolio.env.slots import SlotLayout, SlotSpec, fused_target, slot_action_to_weights
from sacfolio.strategies.zoo import ADVISORS, all_advisor_weights

SMALL = UniversalConfig(d_model=8, n_heads=2, n_layers=1, ff_dim=16)
F, K, LIVE = 3, 3, 3


def _spec(n_slots: int) -> SlotSpec:
    return SlotSpec(max_symbols=n_slots, vocabulary=("A", "B", "C", "D"), advisors=ADVISORS[:K])


def _obs(n_slots: int, seed: int = 0, batch: int = 4) -> dict[str, torch.Tensor]:
    """LIVE live slots then padding: the live slots' values do not depend on ``n_slots``."""
    g = torch.Generator().manual_seed(seed)
    pad = _spec(n_slots).padding_id
    market = torch.zeros(batch, n_slots, F)
    context = torch.zeros(batch, n_slots, 5)
    market[:, :LIVE] = torch.randn(batch, LIVE, F, generator=g)
    context[:, :LIVE] = torch.rand(batch, LIVE, 5, generator=g)
    ids = torch.full((batch, n_slots), float(pad))
    ids[:, :LIVE] = torch.tensor([0.0, 2.0, 5.0])  # 5 = unknown_id
    advisors = torch.zeros(batch, K, n_slots + 1)
    raw = torch.rand(batch, K, LIVE + 1, generator=g)
    raw /= raw.sum(-1, keepdim=True)
    advisors[:, :, :LIVE], advisors[:, :, -1] = raw[:, :, :LIVE], raw[:, :, -1]
    return {"market_features": market, "context_features": context, "symbol_id": ids, "advisor_weights": advisors}


def _actor(n_slots: int) -> UniversalActor:
    spec = _spec(n_slots)
    return UniversalActor(SlotLayout.of(spec, F), spec, SMALL, generator=torch.Generator().manual_seed(3))


def test_live_slot_outputs_do_not_change_with_the_padding_length() -> None:
    short, long = _actor(5), _actor(11)  # same seed, and no weight depends on the slot count
    a = short.act_dict(_obs(5))
    b = long.act_dict(_obs(11))
    assert torch.allclose(a[:, :LIVE], b[:, :LIVE], atol=1e-6)
    assert torch.allclose(a[:, 5:], b[:, 11:], atol=1e-6)           # CASH and the mixture logits
    assert (a[:, LIVE:5] == 0).all() and (b[:, LIVE:11] == 0).all()  # padded: exactly 0
    (_, pooled_a, _), (_, pooled_b, _) = short.trunk.encode(_obs(5)), long.trunk.encode(_obs(11))
    assert torch.allclose(pooled_a[:, :SMALL.d_model], pooled_b[:, :SMALL.d_model], atol=1e-6)


def test_permuting_slots_permutes_per_slot_outputs_and_keeps_the_pooled_feature() -> None:
    actor, obs = _actor(7), _obs(7, seed=1)
    perm = torch.tensor([4, 2, 6, 0, 1, 5, 3])  # live slots land among the padded ones
    permuted = {k: v[:, perm] for k, v in obs.items() if k != "advisor_weights"}
    adv = obs["advisor_weights"]
    permuted["advisor_weights"] = torch.cat((adv[:, :, perm], adv[:, :, -1:]), dim=-1)
    h, glob, _ = actor.trunk.encode(obs)
    hp, globp, _ = actor.trunk.encode(permuted)
    assert torch.allclose(hp, h[:, perm], atol=1e-6)
    assert torch.allclose(globp, glob, atol=1e-6)
    a, ap = actor.act_dict(obs), actor.act_dict(permuted)
    assert torch.allclose(ap[:, :7], a[:, perm], atol=1e-6)
    assert torch.allclose(ap[:, 7:], a[:, 7:], atol=1e-6)


def test_the_padding_embedding_row_gets_zero_gradient() -> None:
    actor, obs = _actor(6), _obs(6)
    h, glob, _ = actor.trunk.encode(obs)
    (h.square().sum() + glob.sum()).backward()
    grad = actor.trunk.encoder.embedding.weight.grad
    pad = _spec(6).padding_id
    assert (grad[pad] == 0).all()
    assert grad[0].abs().sum() > 0 and grad[_spec(6).unknown_id].abs().sum() > 0


def test_padded_slots_get_exactly_zero_weight_in_the_sampled_actions_and_the_portfolio() -> None:
    spec = _spec(6)
    layout = SlotLayout.of(spec, F)
    actor = _actor(6)
    flat = torch.as_tensor(layout.flatten({k: v.numpy() for k, v in _obs(6).items()}))
    action, log_prob = actor.sample(flat, torch.Generator().manual_seed(0))
    assert (action[:, LIVE:6] == 0).all() and torch.isfinite(log_prob).all()
    live = np.zeros((4, 6), dtype=bool)
    live[:, :LIVE] = True
    advisors = _obs(6)["advisor_weights"].double().numpy()
    weights, mixture = slot_action_to_weights(action.detach().numpy(), advisors, live, EnvConfig(), layout)
    assert (weights[:, LIVE:6] == 0).all()
    lo, hi = weight_bounds(live, EnvConfig().rules)
    assert feasible_rows(weights, lo, hi).all() and np.allclose(mixture.sum(1), 1.0)


def test_a_one_hot_mixture_with_zero_residual_trades_that_advisor_exactly() -> None:
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.03, (5, 6, 60)), axis=-1))[..., None]
    live = np.ones((5, 6), dtype=bool)
    live[:, 4:] = False
    advisors = all_advisor_weights(np.where(live[..., None, None], close, np.nan), live)
    for k in range(len(ADVISORS)):
        onehot = np.zeros((5, len(ADVISORS)))
        onehot[:, k] = 1.0
        out = fused_target(onehot, np.zeros((5, 7)), advisors, live, EnvConfig())
        assert np.array_equal(out, advisors[:, k])


def test_sac_trains_the_slot_networks_through_the_same_update() -> None:
    spec = _spec(6)
    layout = SlotLayout.of(spec, F)
    sac = SAC(layout.obs_dim, layout.act_dim, config=SACConfig(batch_size=4), seed=0,
              modules=UniversalModules(layout=layout, spec=spec, config=SMALL))
    twin = SAC(layout.obs_dim, layout.act_dim, config=SACConfig(batch_size=4), seed=0,
               modules=UniversalModules(layout=layout, spec=spec, config=SMALL))
    flat = torch.as_tensor(layout.flatten({k: v.numpy() for k, v in _obs(6).items()}))
    action = sac.actor.act(flat, deterministic=False, generator=torch.Generator().manual_seed(1))
    batch = ReplayBatch(flat, action, torch.full((4,), 0.01), flat.roll(1, 0), torch.zeros(4))
    before = {k: v.clone() for k, v in sac.critic.state_dict().items()}
    for learner in (sac, twin):
        metrics = learner.update(batch)
    assert all(torch.isfinite(v) for v in metrics.values())
    assert any(not torch.equal(before[k], v) for k, v in sac.critic.state_dict().items())
    for a, b in zip(sac.actor.parameters(), twin.actor.parameters()):  # same seed, same weights
        assert torch.equal(a, b)
    assert (sac.actor.trunk.encoder.embedding.weight[spec.padding_id] == 0).all()
    with pytest.raises(Exception, match="aux"):
        SAC(layout.obs_dim, layout.act_dim, config=SACConfig(aux=True),
            modules=UniversalModules(layout=layout, spec=spec))
