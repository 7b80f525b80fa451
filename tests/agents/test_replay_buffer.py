"""ReplayBuffer: stores what was added, wraps around, samples reproducibly."""

import numpy as np
import pytest
import torch

from sacfolio.agents.buffer import ReplayBatch, ReplayBuffer
from sacfolio.exceptions import ConfigError


def _fill(buf: ReplayBuffer, n: int) -> None:
    for i in range(n):
        obs = np.full(buf.obs_dim, i, dtype=np.float32)
        buf.add(obs, np.full(buf.act_dim, -i, dtype=np.float32), float(i), obs + 0.5, i % 2 == 1)


def test_sampled_fields_are_consistent_rows():
    buf = ReplayBuffer(3, 2, capacity=10)
    _fill(buf, 7)
    batch = buf.sample(32, torch.Generator().manual_seed(0))
    assert isinstance(batch, ReplayBatch)
    assert batch.obs.shape == batch.next_obs.shape == (32, 3)
    assert batch.actions.shape == (32, 2) and batch.rewards.shape == batch.dones.shape == (32,)
    i = batch.rewards
    assert torch.equal(batch.obs, i[:, None].expand(32, 3))
    assert torch.equal(batch.actions, -i[:, None].expand(32, 2))
    assert torch.equal(batch.next_obs, batch.obs + 0.5)
    assert torch.equal(batch.dones, (i % 2 == 1).float())
    assert set(i.tolist()) <= set(range(7))


def test_wraparound_overwrites_the_oldest():
    buf = ReplayBuffer(1, 1, capacity=5)
    _fill(buf, 8)
    assert len(buf) == 5 and buf.pos == 3
    seen = set(buf.sample(500, torch.Generator().manual_seed(1)).rewards.tolist())
    assert seen == {3.0, 4.0, 5.0, 6.0, 7.0}


def test_sampling_is_reproducible_from_the_generator():
    buf = ReplayBuffer(2, 2, capacity=100)
    _fill(buf, 50)
    a = buf.sample(16, torch.Generator().manual_seed(3))
    b = buf.sample(16, torch.Generator().manual_seed(3))
    c = buf.sample(16, torch.Generator().manual_seed(4))
    assert torch.equal(a.rewards, b.rewards) and not torch.equal(a.rewards, c.rewards)


def test_empty_buffer_and_bad_sizes_raise():
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(2, 2, capacity=4).sample(1)
    with pytest.raises(ConfigError, match="capacity"):
        ReplayBuffer(2, 2, capacity=0)
