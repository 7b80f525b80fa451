"""Circular replay buffer in one preallocated tensor, sampled with one index draw."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from sacfolio.exceptions import ConfigError

__all__ = ["ReplayBatch", "ReplayBuffer"]


class ReplayBatch(NamedTuple):
    """A batch of B transitions (float32 tensors).

    Attributes
    ----------
    obs : Tensor, shape (B, obs_dim)
    actions : Tensor, shape (B, act_dim)
    rewards : Tensor, shape (B,)
    next_obs : Tensor, shape (B, obs_dim)
    dones : Tensor, shape (B,)
        1.0 where the episode terminated at ``next_obs`` (no bootstrapping), else 0.0.
        Time-limit truncations are stored as 0.0.
    aux_targets : Tensor, shape (B, H, N), or None
        Realized future returns of the N stocks at H horizons after ``obs`` (labels
        of the aux heads; NaN where unknown). None when the buffer stores none.
    """

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    dones: torch.Tensor
    aux_targets: torch.Tensor | None = None


class ReplayBuffer:
    """Fixed-capacity FIFO of transitions.

    Each transition is one row ``[obs, action, reward, done, next_obs, aux_targets]``
    of a preallocated float32 tensor of shape
    (capacity, 2 * obs_dim + act_dim + 2 + H * N), so sampling is one ``randint`` and
    one row gather; the batch fields are column views. Writes go through a numpy view
    of the same memory (no per-step tensor creation).

    Parameters
    ----------
    obs_dim, act_dim : int
    capacity : int
        Maximum number of transitions; when full, the oldest is overwritten.
    aux_shape : tuple of int (H, N), optional
        Also store H x N aux targets per transition (see :class:`ReplayBatch`).
    """

    def __init__(self, obs_dim: int, act_dim: int, capacity: int, *,
                 aux_shape: tuple[int, int] | None = None) -> None:
        for name, value in (("obs_dim", obs_dim), ("act_dim", act_dim), ("capacity", capacity)):
            if int(value) != value or value < 1:
                raise ConfigError(f"ReplayBuffer {name} must be an int >= 1, got {value!r}.")
        if aux_shape is not None and (len(aux_shape) != 2 or min(aux_shape) < 1):
            raise ConfigError(f"ReplayBuffer aux_shape must be (H >= 1, N >= 1), got {aux_shape!r}.")
        self.obs_dim, self.act_dim, self.capacity = int(obs_dim), int(act_dim), int(capacity)
        self.aux_shape = None if aux_shape is None else (int(aux_shape[0]), int(aux_shape[1]))
        o, a = self.obs_dim, self.act_dim
        core = 2 * o + a + 2
        width = core + (0 if self.aux_shape is None else self.aux_shape[0] * self.aux_shape[1])
        self.storage = torch.zeros(self.capacity, width, dtype=torch.float32)
        self._rows = self.storage.numpy()
        self._cols = {"obs": slice(0, o), "actions": slice(o, o + a), "rewards": o + a,
                      "dones": o + a + 1, "next_obs": slice(o + a + 2, core),
                      "aux": slice(core, width)}
        self.pos = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray,
            done: bool, aux_target: np.ndarray | None = None) -> None:
        """Store one transition.

        Parameters
        ----------
        obs, next_obs : ndarray, shape (obs_dim,)
        action : ndarray, shape (act_dim,)
        reward : float
        done : bool
        aux_target : ndarray, shape (H, N), optional
            Required when the buffer has ``aux_shape``, refused otherwise.
        """
        row, c = self._rows[self.pos], self._cols
        row[c["obs"]] = obs
        row[c["actions"]] = action
        row[c["rewards"]] = reward
        row[c["dones"]] = float(done)
        row[c["next_obs"]] = next_obs
        if (aux_target is None) != (self.aux_shape is None):
            raise ValueError("aux_target must be given exactly when the buffer was built with aux_shape "
                             f"(aux_shape={self.aux_shape})")
        if aux_target is not None:
            row[c["aux"]] = np.reshape(aux_target, -1)
        self.pos = (self.pos + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> ReplayBatch:
        """Draw ``batch_size`` stored transitions uniformly with replacement.

        Parameters
        ----------
        batch_size : int
        generator : torch.Generator, optional
            Source of the indices.

        Returns
        -------
        ReplayBatch
            Fields of shape (batch_size, ...), views into one gathered tensor.

        Raises
        ------
        ValueError
            If the buffer is empty.
        """
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer; add transitions first")
        idx = torch.randint(self.size, (batch_size,), generator=generator)
        rows, c = torch.index_select(self.storage, 0, idx), self._cols
        aux = None if self.aux_shape is None else rows[:, c["aux"]].unflatten(1, self.aux_shape)
        return ReplayBatch(obs=rows[:, c["obs"]], actions=rows[:, c["actions"]],
                           rewards=rows[:, c["rewards"]], next_obs=rows[:, c["next_obs"]],
                           dones=rows[:, c["dones"]], aux_targets=aux)
