"""K agents trained as one batched model follow the trajectories of K separate SAC learners."""

import numpy as np
import pytest
import torch

from sacfolio.agents import SAC, ReplayBatch, ReplayBuffer, SACConfig
from sacfolio.agents.batched import BatchedSAC
from sacfolio.exceptions import ConfigError

OBS, ACT, SEEDS = 7, 3, (0, 5, 11)


def _buffers() -> list[ReplayBuffer]:
    out = []
    for k in range(len(SEEDS)):
        rng = np.random.default_rng(100 + k)
        buf = ReplayBuffer(OBS, ACT, capacity=150)
        for i in range(150):
            act = rng.uniform(-1, 1, ACT)
            buf.add(rng.standard_normal(OBS), act, float(act[0] - act[2]), rng.standard_normal(OBS), rng.random() < 0.1)
        out.append(buf)
    return out


def _stack(batches: list[ReplayBatch]) -> ReplayBatch:
    return ReplayBatch(*(torch.stack(f) for f in list(zip(*batches))[:5]))


def _run(config: SACConfig, updates: int, corrupt: int | None = None) -> tuple[BatchedSAC, list[SAC]]:
    buffers = _buffers()
    batched = BatchedSAC(OBS, ACT, seeds=SEEDS, config=config)
    separate = [SAC(OBS, ACT, config=config, seed=s) for s in SEEDS]
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


@pytest.mark.parametrize("config", [SACConfig(), SACConfig(grad_clip_norm=None, tau=0.05)], ids=["clip", "noclip"])
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


def test_aux_heads_are_refused():
    with pytest.raises(ConfigError, match="aux"):
        BatchedSAC(OBS, ACT, seeds=(0,), config=SACConfig(aux=True))
