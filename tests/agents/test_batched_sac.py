"""K agents trained as one batched model follow the trajectories of K separate SAC learners."""

import numpy as np
import pytest
import torch

from sacfolio.agents import SAC, ReplayBatch, ReplayBuffer, SACConfig
from sacfolio.agents.batched import BatchedSAC
from sacfolio.exceptions import ConfigError

OBS, ACT, SEEDS = 7, 3, (0, 5, 11)


def _buffers(aux: bool = False) -> list[ReplayBuffer]:
    out = []
    for k in range(len(SEEDS)):
        rng = np.random.default_rng(100 + k)
        buf = ReplayBuffer(OBS, ACT, capacity=150, aux_shape=(2, ACT - 1) if aux else None)
        for i in range(150):
            act = rng.uniform(-1, 1, ACT)
            target = rng.normal(0.0, 0.6, (2, ACT - 1)) if aux else None
            if aux and i % 5 == 0:
                target[1, i % (ACT - 1)] = np.nan          # unknown labels are masked
            buf.add(rng.standard_normal(OBS), act, float(act[0] - act[2]), rng.standard_normal(OBS),
                    rng.random() < 0.1, target)
        out.append(buf)
    return out


def _stack(batches: list[ReplayBatch]) -> ReplayBatch:
    aux = None if batches[0].aux_targets is None else torch.stack([b.aux_targets for b in batches])
    return ReplayBatch(*(torch.stack(f) for f in list(zip(*batches))[:5]), aux_targets=aux)


def _run(config: SACConfig, updates: int, corrupt: int | None = None) -> tuple[BatchedSAC, list[SAC]]:
    buffers = _buffers(config.aux)
    batched = BatchedSAC(OBS, ACT, seeds=SEEDS, config=config)
    separate = [SAC(OBS, ACT, config=config, seed=s) for s in SEEDS]
    for sac in separate:
        sac.use_fast_path = False                    # the reference: autograd
    for step in range(updates):
        batches = [buf.sample(32, g) for buf, g in zip(buffers, batched.generators)]
        if step == corrupt:                          # agent 1 sees a NaN observation: only it skips
            obs = batches[1].obs.clone()
            obs[0, 0] = float("nan")
            batches[1] = batches[1]._replace(obs=obs)
        out = batched.update(_stack(batches))
        for k, sac in enumerate(separate):
            own = buffers[k].sample(32, sac.generator)
            if step == corrupt and k == 1:
                own = batches[1]
            want = sac.update(own)
            for key, value in want.items():
                torch.testing.assert_close(out[key][k], value, rtol=1e-5, atol=1e-5, msg=key)
    return batched, separate


@pytest.mark.parametrize("config", [
    SACConfig(), SACConfig(grad_clip_norm=None, tau=0.05),
    SACConfig(aux=True, reward_scale=100.0),                           # the portfolio default
    SACConfig(aux=True, aux_shared_trunk=True, aux_clip=0.5, aux_coef_short=0.0, aux_coef_long=0.5),
], ids=["clip", "noclip", "aux", "aux-shared-one-head"])
def test_each_agent_follows_its_separate_run(config):
    batched, separate = _run(config, updates=20)
    for k, sac in enumerate(separate):
        agent = batched.agent(k)
        for name in ("actor", "critic", "critic_target"):
            for p, q in zip(getattr(agent, name).parameters(), getattr(sac, name).parameters()):
                torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(agent.log_alpha, sac.log_alpha, rtol=1e-5, atol=1e-5)
        assert torch.equal(agent.generator.get_state(), sac.generator.get_state())
    assert batched.steps.tolist() == [20.0] * len(SEEDS)


def test_a_non_finite_step_skips_only_that_agent():
    batched, separate = _run(SACConfig(), updates=6, corrupt=3)
    assert batched.skipped.tolist() == [0.0, 1.0, 0.0]
    assert batched.steps.tolist() == [6.0, 5.0, 6.0]
    for k, sac in enumerate(separate):
        assert sac.nonfinite_counts()["skipped_updates"] == (k == 1)
        for p, q in zip(batched.agent(k).actor.parameters(), sac.actor.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-5)


def test_explore_draws_each_agents_action_as_its_own_learner():
    config = SACConfig(aux=True)
    batched = BatchedSAC(OBS, ACT, seeds=SEEDS, config=config)
    separate = [SAC(OBS, ACT, config=config, seed=s) for s in SEEDS]
    obs = torch.randn(len(SEEDS), OBS, generator=torch.Generator().manual_seed(3))
    got = batched.explore(obs)
    for k, sac in enumerate(separate):
        torch.testing.assert_close(got[k], sac.explore(obs[k: k + 1])[0], rtol=1e-6, atol=1e-6)
        assert torch.equal(batched.generators[k].get_state(), sac.generator.get_state())


def test_learners_that_cannot_be_stacked_are_refused():
    with pytest.raises(ConfigError, match="no seeds"):
        BatchedSAC(OBS, ACT, seeds=(), config=SACConfig())
    mixed = [SAC(OBS, ACT, config=SACConfig(), seed=0), SAC(OBS, ACT, config=SACConfig(aux=True), seed=1)]
    with pytest.raises(ConfigError, match="one config"):
        BatchedSAC.of(mixed)
    stepped = SAC(OBS, ACT, config=SACConfig(), seed=0)
    stepped.update(_buffers()[0].sample(32, stepped.generator))
    with pytest.raises(ConfigError, match="stepped"):
        BatchedSAC.of([stepped])
