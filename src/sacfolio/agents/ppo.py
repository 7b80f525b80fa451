"""Proximal Policy Optimization: the on-policy baseline of seed 001's SAC-vs-PPO table.

Clipped surrogate objective (Schulman et al., "Proximal Policy Optimization
Algorithms", 2017, eq. 7) with generalized advantage estimation (Schulman et al.,
"High-Dimensional Continuous Control Using Generalized Advantage Estimation", 2016,
eq. 16). The policy is the same :class:`GaussianActor` SAC uses — a tanh-squashed
Gaussian over [-1, 1]^(N+1) — so :class:`~sacfolio.agents.policy.NumpyPolicy`,
backtests and serving run a PPO actor unchanged (deterministic action
``tanh(mean)``). The likelihood ratio is computed on the Gaussian sample before the
squash: the tanh Jacobian is the same for the old and the new policy and cancels.

The rollout loop lives in :mod:`sacfolio.train.ppo_trainer`; this module holds the
learner (networks, optimizer, losses) and the GAE helper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple

import numpy as np
import torch
from torch import nn

from sacfolio.agents.aux import aux_losses
from sacfolio.agents.config import (_check_positive, _check_range, _is_int, aux_coefs, check_aux_fields,
                                     check_hidden_sizes, config_from_dict, config_to_dict)
from sacfolio.agents.networks import GaussianActor, _linear_init_, load_module_states
from sacfolio.agents.sac import FusedAdam, aux_shape_of
from sacfolio.exceptions import ConfigError, TrainingHealthError

__all__ = ["PPO", "PPOConfig", "PPO_STATE_DICT_FILES", "RolloutBatch", "ValueNet", "gae"]

#: File names of a PPO learner's state dicts.
PPO_STATE_DICT_FILES = ("actor.pt", "value.pt")
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_ENTROPY_CONST = 0.5 + _LOG_SQRT_2PI  # entropy of N(0, 1) per dimension


@dataclass(frozen=True, kw_only=True)
class PPOConfig:
    """PPO hyperparameters (Stable-Baselines3's defaults where seed 001 is silent).

    Attributes
    ----------
    hidden_sizes : tuple of int
        Hidden widths of the actor and of the value network (ReLU).
    lr : float
        Adam learning rate of actor and value network (one optimizer).
    n_steps : int
        Environment steps per rollout.
    batch_size : int
        Minibatch size of the gradient steps, <= ``n_steps``.
    n_epochs : int
        Passes over each rollout.
    gamma : float
        Discount factor, in [0, 1].
    gae_lambda : float
        GAE's bias/variance trade-off, in [0, 1].
    clip_range : float
        Clip of the probability ratio, ``1 +- clip_range``, > 0.
    ent_coef : float
        Weight of the entropy bonus, >= 0.
    vf_coef : float
        Weight of the value loss, > 0.
    max_grad_norm : float or None
        Global gradient-norm clip of each step; None disables it.
    reward_scale : float
        Rewards are multiplied by this before GAE (weekly log returns are ~1e-3).
    weight_decay : float
        Adam L2 penalty, >= 0.
    normalize_advantage : bool
        Standardize the advantages of each rollout.
    log_std_min, log_std_max : float
        Clamp of the actor's log standard deviation. The floor is higher than SAC's
        so a collapsed policy cannot make the ratio overflow.
    aux, aux_horizons, aux_coef_short, aux_coef_long, aux_clip
        Auxiliary return heads, as in :class:`~sacfolio.agents.config.SACConfig`.
    max_nonfinite_skips : int
        Minibatch steps with a non-finite loss or gradient are skipped; past this
        many the trainer raises :class:`~sacfolio.exceptions.TrainingHealthError`.
    allow_unsafe_lr : bool
        Train with ``lr`` above the refusal limit (``--allow-unsafe-lr``).
    """

    hidden_sizes: tuple[int, ...] = (64, 64)
    lr: float = 3e-4
    n_steps: int = 512
    batch_size: int = 64
    n_epochs: int = 10
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float | None = 0.5
    reward_scale: float = 1.0
    weight_decay: float = 0.0
    normalize_advantage: bool = True
    log_std_min: float = -5.0
    log_std_max: float = 2.0
    aux: bool = False
    aux_horizons: tuple[int, ...] = (1, 4)
    aux_coef_short: float = 0.01
    aux_coef_long: float = 0.01
    aux_clip: float = 1.0
    aux_shared_trunk: bool = False  # as SACConfig.aux_shared_trunk
    max_nonfinite_skips: int = 100
    allow_unsafe_lr: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden_sizes", check_hidden_sizes(self.hidden_sizes))
        for name in ("lr", "clip_range", "vf_coef", "reward_scale"):
            _check_positive(name, getattr(self, name))
        for name in ("n_steps", "batch_size", "n_epochs"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ConfigError(f"{name} must be an int >= 1, got {value!r}.")
        if self.batch_size > self.n_steps:
            raise ConfigError(f"batch_size {self.batch_size} is larger than n_steps {self.n_steps}; "
                              "lower batch_size or collect longer rollouts.")
        _check_range("gamma", self.gamma, 0.0, 1.0)
        _check_range("gae_lambda", self.gae_lambda, 0.0, 1.0)
        for name in ("ent_coef", "weight_decay"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}.")
        if self.max_grad_norm is not None:
            _check_positive("max_grad_norm", self.max_grad_norm)
        if not (math.isfinite(self.log_std_min) and math.isfinite(self.log_std_max)
                and self.log_std_min < self.log_std_max):
            raise ConfigError(f"need finite log_std_min < log_std_max, got "
                              f"({self.log_std_min!r}, {self.log_std_max!r}).")
        for name in ("normalize_advantage", "allow_unsafe_lr"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        check_aux_fields(self)
        if not _is_int(self.max_nonfinite_skips) or self.max_nonfinite_skips < 0:
            raise ConfigError(f"max_nonfinite_skips must be an int >= 0, got {self.max_nonfinite_skips!r}.")

    def learning_rates(self) -> dict[str, float]:
        """Learning rate per optimizer, for :func:`sacfolio.train.safety.check_learning_rates`."""
        return {"ppo": self.lr}

    def aux_coefs(self) -> tuple[float, ...]:
        """Loss weight of each aux horizon (short first, then long)."""
        return aux_coefs(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field (tuples as lists)."""
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PPOConfig":
        """Inverse of :meth:`to_dict`; unknown keys are a :class:`ConfigError`."""
        return config_from_dict(cls, data)


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
        of its episode up to it non-finite (the trainer masks them).
    """
    deltas = rewards + gamma * next_values - values
    carry = np.where(episode_ends, 0.0, gamma * lam)
    adv = np.empty(len(rewards), dtype=np.float64)
    last = 0.0
    for t in range(len(rewards) - 1, -1, -1):  # sequential by definition; T is one rollout
        last = deltas[t] + carry[t] * last
        adv[t] = last
    return adv, adv + values


class ValueNet(nn.Module):
    """State-value MLP ``obs -> hidden ... -> 1`` with ReLU activations.

    Parameters
    ----------
    obs_dim : int
    hidden_sizes : sequence of int
    generator : torch.Generator, optional
        Source of the initial weights.
    """

    def __init__(self, obs_dim: int, hidden_sizes: tuple[int, ...] = (64, 64), *,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = int(obs_dim)
        for h in hidden_sizes:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        for layer in self.net:
            if isinstance(layer, nn.Linear):
                _linear_init_(layer.weight, layer.bias, layer.in_features, generator)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Values, shape (B,), of observations of shape (B, obs_dim)."""
        return self.net(obs).squeeze(-1)


def _gaussian_log_prob(u: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """Diagonal Gaussian log-density of ``u`` (B, A), summed over A -> (B,)."""
    z = (u - mean) * torch.exp(-log_std)
    return (-0.5 * z.square() - log_std - _LOG_SQRT_2PI).sum(-1)


class PPO:
    """Clipped PPO with a squashed Gaussian actor, a value network and optional aux heads.

    Parameters
    ----------
    obs_dim, act_dim : int
    config : PPOConfig
    seed : int
        Seed of :attr:`generator` (initial weights, action noise, minibatch order).
    n_assets : int, optional
        Stocks the aux heads predict (default ``act_dim - 1``).

    Attributes
    ----------
    actor : GaussianActor
        The policy, with ``actor.aux`` heads when ``config.aux`` (saved in ``actor.pt``).
    value : ValueNet
    optimizer : FusedAdam
        One Adam over actor and value network.
    aux_shape : tuple of int (H, N) or None
    generator : torch.Generator
    n_updates : int
        Minibatch gradient steps made (skipped ones included).
    """

    def __init__(self, obs_dim: int, act_dim: int, *, config: PPOConfig = PPOConfig(), seed: int = 0,
                 n_assets: int | None = None) -> None:
        if int(obs_dim) != obs_dim or obs_dim < 1 or int(act_dim) != act_dim or act_dim < 1:
            raise ConfigError(f"obs_dim and act_dim must be ints >= 1, got {obs_dim!r}, {act_dim!r}.")
        self.obs_dim, self.act_dim, self.config = int(obs_dim), int(act_dim), config
        self.generator = torch.Generator().manual_seed(int(seed))
        self.aux_shape = aux_shape_of(config, self.act_dim, n_assets)
        self.actor = GaussianActor(self.obs_dim, self.act_dim, config.hidden_sizes,
                                   log_std_min=config.log_std_min, log_std_max=config.log_std_max,
                                   generator=self.generator, aux_shape=self.aux_shape,
                                   aux_clip=config.aux_clip)
        self.value = ValueNet(self.obs_dim, config.hidden_sizes, generator=self.generator)
        self._params = [*self.actor.parameters(), *self.value.parameters()]
        self.optimizer = FusedAdam(self._params, lr=config.lr, weight_decay=config.weight_decay)
        coefs = config.aux_coefs() if self.aux_shape is not None else ()
        self._aux_heads = [k for k, c in enumerate(coefs) if c > 0]  # coef 0: no loss, no gradient
        self._aux_coefs = torch.tensor([coefs[k] for k in self._aux_heads])
        self._aux_horizons = [config.aux_horizons[k] for k in self._aux_heads]
        self.n_updates = 0
        self._skipped = torch.zeros(())
        self._masked = torch.zeros(())

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def act(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Sample an action for one observation.

        Parameters
        ----------
        obs : ndarray float32, shape (obs_dim,)

        Returns
        -------
        action : ndarray float32, shape (act_dim,)
            ``tanh(u)`` in (-1, 1).
        pre_tanh : ndarray float32, shape (act_dim,)
            The Gaussian sample ``u``.
        log_prob : float
            Gaussian log-density of ``u``.
        """
        mean, log_std = self.actor(torch.from_numpy(obs).unsqueeze(0))
        noise = torch.randn(mean.shape, generator=self.generator)
        u = mean + log_std.exp() * noise
        log_prob = (-0.5 * noise.square() - log_std - _LOG_SQRT_2PI).sum()
        return torch.tanh(u)[0].numpy(), u[0].numpy(), float(log_prob)

    @torch.no_grad()
    def values(self, obs: np.ndarray) -> np.ndarray:
        """State values of a batch, float64 of shape (B,), for observations (B, obs_dim)."""
        return self.value(torch.as_tensor(obs, dtype=torch.float32)).double().numpy()

    # ------------------------------------------------------------------ update
    def losses(self, batch: RolloutBatch) -> dict[str, torch.Tensor]:
        """PPO losses of one minibatch; rows with ``mask == 0`` are left out of every mean.

        Returns
        -------
        dict of str to Tensor, shape ()
            ``losses/policy`` (clipped surrogate, eq. 7, negated), ``losses/value``
            (``vf_coef`` x MSE to the GAE returns), ``losses/entropy`` (``-ent_coef`` x
            entropy, when ``ent_coef > 0``), ``losses/aux`` with trained aux heads,
            and ``charts/entropy``, ``charts/approx_kl``, ``charts/clip_fraction``,
            ``charts/aux_mse_h{h}``, ``charts/aux_masked_targets`` (with aux) without graph.
        """
        cfg = self.config
        features = self.actor.trunk(batch.obs)
        mean = self.actor.mean_head(features)
        log_std = self.actor.log_std_head(features).clamp(self.actor.log_std_min, self.actor.log_std_max)
        log_ratio = _gaussian_log_prob(batch.pre_tanh, mean, log_std) - batch.log_probs
        ratio = log_ratio.exp()
        weight = batch.mask / batch.mask.sum().clamp(min=1.0)
        adv = batch.advantages
        surrogate = torch.min(ratio * adv, ratio.clamp(1.0 - cfg.clip_range, 1.0 + cfg.clip_range) * adv)
        policy_loss = -(surrogate * weight).sum()
        value_loss = cfg.vf_coef * ((self.value(batch.obs) - batch.returns).square() * weight).sum()
        entropy = (log_std + _ENTROPY_CONST).sum(-1).mean()
        out = {"losses/policy": policy_loss, "losses/value": value_loss}
        if cfg.ent_coef > 0:
            out["losses/entropy"] = -cfg.ent_coef * entropy
        with torch.no_grad():
            out["charts/entropy"] = entropy.detach()
            # k3 estimator of KL(old || new) (Schulman, "Approximating KL divergence", 2020)
            out["charts/approx_kl"] = (((ratio - 1.0) - log_ratio) * weight).sum()
            out["charts/clip_fraction"] = (((ratio - 1.0).abs() > cfg.clip_range).float() * weight).sum()
        if self._aux_heads:
            if batch.aux_targets is None:
                raise ConfigError("aux heads are trained but the rollout has no aux_targets.")
            targets = batch.aux_targets[:, self._aux_heads]
            pred = self.actor.aux(features if cfg.aux_shared_trunk else features.detach(), self._aux_heads)
            aux, masked = aux_losses(pred, targets, self._aux_coefs, self._aux_horizons, cfg.aux_clip)
            out.update(aux)
            out["charts/aux_masked_targets"] = masked
        return out

    def update(self, batch: RolloutBatch) -> dict[str, torch.Tensor]:
        """One minibatch gradient step; skipped (and counted) when the loss or gradient is not finite.

        Returns
        -------
        dict of str to Tensor, shape ()
            Detached entries of :meth:`losses` (zeroed on a skipped step),
            ``charts/grad_norm`` when clipping, and the running ``charts/skipped_updates``.
        """
        out = self.losses(batch)
        total = sum(v for k, v in out.items() if k.startswith("losses/"))
        for p in self._params:
            p.grad = None
        total.backward()
        check = total.detach()
        if self.config.max_grad_norm is not None:
            out["charts/grad_norm"] = nn.utils.clip_grad_norm_(self._params, self.config.max_grad_norm,
                                                               foreach=True)
            check = check + out["charts/grad_norm"]
        skip = check.mul(0.0).ne_(0.0)            # 1.0 when the loss or the gradient norm is NaN/inf
        self.optimizer.step(found_inf=skip)
        self.n_updates += 1
        self._skipped = self._skipped + skip
        keys = list(out)
        values = torch.stack([v.detach() for v in out.values()]).nan_to_num_(0.0, 0.0, 0.0).unbind()
        metrics = dict(zip(keys, values))
        metrics["charts/skipped_updates"] = self._skipped
        return metrics

    def count_masked(self, n: int) -> None:
        """Record ``n`` rollout steps whose advantage or return was not finite (masked)."""
        self._masked = self._masked + n

    def nonfinite_counts(self) -> dict[str, int]:
        """Steps skipped and rollout targets masked so far (one host sync; call rarely)."""
        return {"skipped_updates": int(self._skipped), "nonfinite_targets": int(self._masked)}

    def check_nonfinite(self) -> None:
        """Raise once more than ``config.max_nonfinite_skips`` steps have been skipped.

        Raises
        ------
        TrainingHealthError
        """
        counts = self.nonfinite_counts()
        limit = self.config.max_nonfinite_skips
        if counts["skipped_updates"] > limit:
            raise TrainingHealthError(
                f"{counts['skipped_updates']} of {self.n_updates} PPO steps had a non-finite loss or "
                f"gradient and were skipped, more than max_nonfinite_skips={limit} "
                f"({counts['nonfinite_targets']} rollout steps with non-finite advantages were masked). "
                "Look for NaN/inf in observations or rewards, and lower the learning rate (PPO: 1e-5..3e-4).")

    # --------------------------------------------------------------- interfaces
    def policy(self) -> GaussianActor:
        """The actor: all that acting, backtests and serving need."""
        return self.actor

    def predict_aux(self, obs: np.ndarray | torch.Tensor) -> np.ndarray:
        """Aux return predictions, float32 (B, H, N) (or (H, N) for one observation).

        Raises
        ------
        ConfigError
            If the model has no aux heads.
        """
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32))
        single = x.ndim == 1
        pred = self.actor.predict_aux(x.unsqueeze(0) if single else x).numpy()
        return pred[0] if single else pred

    def modules(self) -> Mapping[str, nn.Module]:
        """Modules by name (``train.callbacks.Learner`` protocol)."""
        return {"actor": self.actor, "value": self.value}

    def optimizers(self) -> Mapping[str, torch.optim.Optimizer]:
        """Optimizers by name (``train.callbacks.Learner`` protocol)."""
        return {"ppo": self.optimizer}

    def state_dicts(self) -> dict[str, dict[str, torch.Tensor]]:
        """State dicts by file name (:data:`PPO_STATE_DICT_FILES`); tensors only."""
        return {"actor.pt": self.actor.state_dict(), "value.pt": self.value.state_dict()}

    def load_state_dicts(self, state: Mapping[str, Mapping[str, torch.Tensor]]) -> None:
        """Restore weights written by :meth:`state_dicts`.

        Raises
        ------
        ConfigError
            If a file is missing or its tensors do not fit this learner's shapes.
        """
        load_module_states(
            {"actor.pt": self.actor, "value.pt": self.value}, state, expected=PPO_STATE_DICT_FILES,
            shapes=f"obs_dim={self.obs_dim}, act_dim={self.act_dim}, hidden_sizes={self.config.hidden_sizes}, "
                   f"aux={self.config.aux}")
