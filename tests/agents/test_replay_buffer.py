"""ReplayBuffer: stores what was added, wraps around, samples reproducibly."""

import numpy as np
import pytest
import torch

from sacfolio.agents.buffers import ReplayBatch, ReplayBuffer
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


def test_aux_targets_are_stored_per_transition_and_sampled_with_their_row():
    buf = ReplayBuffer(3, 2, capacity=10, aux_shape=(2, 4))
    for i in range(6):
        obs = np.full(3, i, dtype=np.float32)
        target = np.arange(8, dtype=np.float32).reshape(2, 4) + 10 * i
        target[1, 3] = np.nan if i == 2 else target[1, 3]
        buf.add(obs, np.zeros(2, dtype=np.float32), float(i), obs, False, target)
    batch = buf.sample(64, torch.Generator().manual_seed(1))
    assert batch.aux_targets is not None and batch.aux_targets.shape == (64, 2, 4)
    i = batch.rewards
    want = torch.arange(8.0).reshape(1, 2, 4) + 10 * i[:, None, None]
    nan_rows = i == 2
    assert nan_rows.any() and torch.isnan(batch.aux_targets[nan_rows, 1, 3]).all()
    keep = torch.ones(2, 4, dtype=torch.bool)
    keep[1, 3] = False
    assert torch.equal(batch.aux_targets[:, keep], want[:, keep])
    with pytest.raises(ValueError, match="aux_target"):
        buf.add(obs, np.zeros(2, dtype=np.float32), 0.0, obs, False)
    with pytest.raises(ValueError, match="aux_target"):
        ReplayBuffer(3, 2, capacity=4).add(obs, np.zeros(2), 0.0, obs, False, np.zeros((2, 4)))
    with pytest.raises(ConfigError, match="aux_shape"):
        ReplayBuffer(3, 2, capacity=4, aux_shape=(0, 4))
    plain = ReplayBuffer(3, 2, capacity=4)
    _fill(plain, 3)
    assert plain.sample(4).aux_targets is None
