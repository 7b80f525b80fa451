"""Where learners keep their experience: SAC's replay buffer and PPO's rollout buffer.

:class:`ReplayBuffer` is a circular buffer in one preallocated tensor, sampled with
one index draw (off-policy). :class:`RolloutBuffer` holds one on-policy rollout and
turns it into generalized advantage estimates (:func:`gae`; Schulman et al.,
"High-Dimensional Continuous Control Using Generalized Advantage Estimation", 2016).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch

from sacfolio.exceptions import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from sacfolio.agents.ppo import PPO

__all__ = ["ReplayBatch", "ReplayBuffer", "RolloutBatch", "RolloutBuffer", "gae"]

logger = logging.getLogger(__name__)


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
    rows : Tensor int64, shape (B,), or None
        The env's decision row of each transition (for counterfactual actions,
        :mod:`sacfolio.train.counterfactual`). None when the buffer stores none.
    """

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    dones: torch.Tensor
    aux_targets: torch.Tensor | None = None
    rows: torch.Tensor | None = None

    def with_feature_noise(self, std: float, columns: int, generator: torch.Generator) -> "ReplayBatch":
        """This batch with N(0, std^2) noise added to the first ``columns`` entries of
        ``obs`` and ``next_obs`` (``SACConfig.feature_noise``).

        In a flat portfolio state those are the standardized features; the weights after
        them, which the rewards and counterfactual periods are computed from, stay exact.
        The noise is drawn from ``generator`` (obs first, then next_obs), so a run stays
        reproducible from its seed.
        """
        b = self.obs.shape[0]
        noise = torch.randn((2, b, columns), generator=generator, dtype=self.obs.dtype).mul_(std)
        obs, next_obs = self.obs.clone(), self.next_obs.clone()
        obs[:, :columns] += noise[0]
        next_obs[:, :columns] += noise[1]
        return self._replace(obs=obs, next_obs=next_obs)


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
    store_rows : bool
        Also store each transition's decision row (``ReplayBatch.rows``).
    """

    def __init__(self, obs_dim: int, act_dim: int, capacity: int, *,
                 aux_shape: tuple[int, int] | None = None, store_rows: bool = False) -> None:
        for name, value in (("obs_dim", obs_dim), ("act_dim", act_dim), ("capacity", capacity)):
            if int(value) != value or value < 1:
                raise ConfigError(f"ReplayBuffer {name} must be an int >= 1, got {value!r}.")
        if aux_shape is not None and (len(aux_shape) != 2 or min(aux_shape) < 1):
            raise ConfigError(f"ReplayBuffer aux_shape must be (H >= 1, N >= 1), got {aux_shape!r}.")
        self.obs_dim, self.act_dim, self.capacity = int(obs_dim), int(act_dim), int(capacity)
        self.aux_shape = None if aux_shape is None else (int(aux_shape[0]), int(aux_shape[1]))
        o, a = self.obs_dim, self.act_dim
        core = 2 * o + a + 2
        aux_end = core + (0 if self.aux_shape is None else self.aux_shape[0] * self.aux_shape[1])
        self.store_rows = bool(store_rows)
        width = aux_end + self.store_rows  # a row index is exact in float32 below 2**24
        self.storage = torch.zeros(self.capacity, width, dtype=torch.float32)
        self._rows = self.storage.numpy()
        self._cols = {"obs": slice(0, o), "actions": slice(o, o + a), "rewards": o + a,
                      "dones": o + a + 1, "next_obs": slice(o + a + 2, core),
                      "aux": slice(core, aux_end), "row": aux_end}
        self.pos = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray,
            done: bool, aux_target: np.ndarray | None = None, row: int | None = None) -> None:
        """Store one transition.

        Parameters
        ----------
        obs, next_obs : ndarray, shape (obs_dim,)
        action : ndarray, shape (act_dim,)
        reward : float
        done : bool
        aux_target : ndarray, shape (H, N), optional
            Required when the buffer has ``aux_shape``, refused otherwise.
        row : int, optional
            The decision row; required when the buffer stores rows, refused otherwise.
        """
        slot, c = self._rows[self.pos], self._cols
        slot[c["obs"]] = obs
        slot[c["actions"]] = action
        slot[c["rewards"]] = reward
        slot[c["dones"]] = float(done)
        slot[c["next_obs"]] = next_obs
        if (aux_target is None) != (self.aux_shape is None):
            raise ValueError("aux_target must be given exactly when the buffer was built with aux_shape "
                             f"(aux_shape={self.aux_shape})")
        if aux_target is not None:
            slot[c["aux"]] = np.reshape(aux_target, -1)
        if (row is None) == self.store_rows:
            raise ValueError(f"row must be given exactly when the buffer stores rows (store_rows={self.store_rows})")
        if row is not None:
            slot[c["row"]] = row
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
                           dones=rows[:, c["dones"]], aux_targets=aux,
                           rows=rows[:, c["row"]].long() if self.store_rows else None)


class RolloutBatch(NamedTuple):
    """A minibatch of B on-policy transitions (float32 tensors).

    Attributes
    ----------
    obs : Tensor, shape (B, obs_dim)
    pre_tanh : Tensor, shape (B, act_dim)
        Gaussian sample ``u`` the action ``tanh(u)`` came from.
    log_probs : Tensor, shape (B,)
        Gaussian log-density of ``pre_tanh`` under the policy that acted.
    advantages : Tensor, shape (B,)
        GAE advantages (normalized when configured); 0 where ``mask`` is 0.
    returns : Tensor, shape (B,)
        Value targets ``advantage + V_old``; 0 where ``mask`` is 0.
    mask : Tensor, shape (B,)
        1.0 where advantage and return are finite, else 0.0 (masked from the losses).
    aux_targets : Tensor, shape (B, H, N), or None
    """

    obs: torch.Tensor
    pre_tanh: torch.Tensor
    log_probs: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    mask: torch.Tensor
    aux_targets: torch.Tensor | None = None

    def rows(self, idx: torch.Tensor) -> "RolloutBatch":
        """Rows ``idx`` of every field (a minibatch)."""
        return RolloutBatch(*(None if f is None else f[idx] for f in self))


def gae(rewards: np.ndarray, values: np.ndarray, next_values: np.ndarray, episode_ends: np.ndarray,
        gamma: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Generalized advantage estimates of one rollout (GAE paper, eq. 16).

    ``delta_t = r_t + gamma V(s_{t+1}) - V(s_t)`` and ``A_t = delta_t + gamma lambda A_{t+1}``,
    the recursion cut at episode ends. ``next_values`` already holds 0 after a true
    termination and ``V(final obs)`` after a time-limit truncation, so truncated
    episodes are bootstrapped, not treated as terminal.

    Parameters
    ----------
    rewards, values, next_values : ndarray, shape (T,)
    episode_ends : ndarray bool, shape (T,)
        True where step t ended an episode (terminated or truncated).
    gamma, lam : float

    Returns
    -------
    advantages, returns : ndarray float64, shape (T,)
        ``returns = advantages + values``. A non-finite reward makes the advantages
        of its episode up to it non-finite (the rollout buffer masks them).
    """
    deltas = rewards + gamma * next_values - values
    carry = np.where(episode_ends, 0.0, gamma * lam)
    adv = np.empty(len(rewards), dtype=np.float64)
    last = 0.0
    for t in range(len(rewards) - 1, -1, -1):  # sequential by definition; T is one rollout
        last = deltas[t] + carry[t] * last
        adv[t] = last
    return adv, adv + values


class RolloutBuffer:
    """Preallocated arrays of one rollout, written step by step, turned into GAE targets.

    Parameters
    ----------
    capacity : int
        Steps per rollout (``PPOConfig.n_steps``).
    obs_dim, act_dim : int
    aux_shape : tuple of int (H, N) or None
        Also store H x N aux targets per step.
    """

    def __init__(self, capacity: int, obs_dim: int, act_dim: int, aux_shape: tuple[int, int] | None) -> None:
        self.obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.pre_tanh = np.zeros((capacity, act_dim), dtype=np.float32)
        self.log_probs = np.zeros(capacity, dtype=np.float32)
        self.rewards = np.zeros(capacity, dtype=np.float64)
        self.terminated = np.zeros(capacity, dtype=bool)
        self.ends = np.zeros(capacity, dtype=bool)
        self.aux = None if aux_shape is None else np.zeros((capacity, *aux_shape), dtype=np.float32)
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def clear(self) -> None:
        """Start a new rollout (the arrays are reused)."""
        self.size = 0

    def add(self, obs: np.ndarray, pre_tanh: np.ndarray, log_prob: float, reward: float, next_obs: np.ndarray,
            terminated: bool, episode_end: bool, aux_target: np.ndarray | None) -> None:
        """Store one step; ``episode_end`` is True after a termination or a truncation."""
        i = self.size
        self.obs[i], self.pre_tanh[i], self.log_probs[i] = obs, pre_tanh, log_prob
        self.rewards[i], self.next_obs[i] = reward, next_obs
        self.terminated[i], self.ends[i] = terminated, episode_end
        if self.aux is not None:
            self.aux[i] = aux_target
        self.size += 1

    def finish(self, learner: "PPO") -> RolloutBatch:
        """GAE advantages and returns of the collected steps, as one batch of tensors.

        The last step bootstraps from ``V(next_obs)`` even when it did not end an
        episode (the rollout was cut, the episode goes on). Steps whose advantage or
        return is not finite (a NaN reward) are masked and counted on the learner.
        """
        n, cfg = self.size, learner.config
        values = learner.values(self.obs[:n])
        next_values = np.where(self.terminated[:n], 0.0, learner.values(self.next_obs[:n]))
        ends = self.ends[:n].copy()
        adv, returns = gae(self.rewards[:n] * cfg.reward_scale, values, next_values, ends,
                           cfg.gamma, cfg.gae_lambda)
        mask = np.isfinite(adv) & np.isfinite(returns)
        n_bad = int(n - mask.sum())
        if n_bad:
            learner.count_masked(n_bad)
            logger.warning("%d of %d rollout steps have non-finite advantages (NaN/inf rewards or "
                           "observations); they are masked from the PPO losses", n_bad, n)
        adv, returns = np.where(mask, adv, 0.0), np.where(mask, returns, 0.0)
        if cfg.normalize_advantage and mask.sum() > 1:
            good = adv[mask]
            adv = np.where(mask, (adv - good.mean()) / (good.std() + 1e-8), 0.0)
        # masked rows may hold NaN inputs; zero them so 0 * NaN cannot reach a gradient
        clean = {"nan": 0.0, "posinf": 0.0, "neginf": 0.0}
        return RolloutBatch(
            obs=torch.from_numpy(np.nan_to_num(self.obs[:n], **clean)),
            pre_tanh=torch.from_numpy(np.nan_to_num(self.pre_tanh[:n], **clean)),
            log_probs=torch.from_numpy(np.nan_to_num(self.log_probs[:n], **clean)),
            advantages=torch.from_numpy(adv.astype(np.float32)),
            returns=torch.from_numpy(returns.astype(np.float32)),
            mask=torch.from_numpy(mask.astype(np.float32)),
            aux_targets=None if self.aux is None else torch.from_numpy(self.aux[:n].copy()),
        )
