"""Proximal Policy Optimization: the on-policy baseline SAC is compared with.

Clipped surrogate objective (Schulman et al., "Proximal Policy Optimization
Algorithms", 2017, eq. 7) on generalized advantage estimates
(:func:`~sacfolio.agents.buffers.gae`). The policy is the same :class:`GaussianActor`
SAC uses — a tanh-squashed Gaussian over [-1, 1]^(N+1) — so
:class:`~sacfolio.agents.policy.NumpyPolicy`, backtests and serving run a PPO actor
unchanged (deterministic action ``tanh(mean)``). The likelihood ratio is computed
on the Gaussian sample before the squash: the tanh Jacobian is the same for the old
and the new policy and cancels.

The rollout loop lives in :mod:`sacfolio.train.on_policy`, the rollout itself in
:class:`~sacfolio.agents.buffers.RolloutBuffer`; this module holds the learner
(networks, optimizer, losses).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
from torch import nn

from sacfolio.agents.buffers import RolloutBatch
from sacfolio.agents.config import PPOConfig
from sacfolio.agents.critics import ValueNet
from sacfolio.agents.learner import ActorLearner
from sacfolio.agents.networks import gaussian_entropy, gaussian_log_prob, standard_log_density
from sacfolio.agents.optim import FusedAdam

__all__ = ["PPO", "PPO_STATE_DICT_FILES"]

#: File names of a PPO learner's state dicts.
PPO_STATE_DICT_FILES = ("actor.pt", "value.pt")


class PPO(ActorLearner):
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
    actor, aux_shape, aux_objective, generator, n_updates
        As in :class:`~sacfolio.agents.learner.ActorLearner` (``n_updates`` counts
        minibatch steps).
    value : ValueNet
    optimizer : FusedAdam
        One Adam over actor and value network.
    """

    config: PPOConfig
    steps_name = "PPO steps"
    masked_name = "rollout steps with non-finite advantages were masked"
    advice = "Look for NaN/inf in observations or rewards, and lower the learning rate (PPO: 1e-5..3e-4)."

    def __init__(self, obs_dim: int, act_dim: int, *, config: PPOConfig = PPOConfig(), seed: int = 0,
                 n_assets: int | None = None) -> None:
        super().__init__(obs_dim, act_dim, config=config, seed=seed, n_assets=n_assets)
        self.value = ValueNet(self.obs_dim, config.hidden_sizes, generator=self.generator)
        self._params = [*self.actor.parameters(), *self.value.parameters()]
        self.optimizer = FusedAdam(self._params, lr=config.lr, weight_decay=config.weight_decay)

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
        log_prob = standard_log_density(noise, log_std).sum()
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
        log_ratio = gaussian_log_prob(batch.pre_tanh, mean, log_std) - batch.log_probs
        ratio = log_ratio.exp()
        weight = batch.mask / batch.mask.sum().clamp(min=1.0)
        adv = batch.advantages
        surrogate = torch.min(ratio * adv, ratio.clamp(1.0 - cfg.clip_range, 1.0 + cfg.clip_range) * adv)
        policy_loss = -(surrogate * weight).sum()
        value_loss = cfg.vf_coef * ((self.value(batch.obs) - batch.returns).square() * weight).sum()
        entropy = gaussian_entropy(log_std).mean()
        out = {"losses/policy": policy_loss, "losses/value": value_loss}
        if cfg.ent_coef > 0:
            out["losses/entropy"] = -cfg.ent_coef * entropy
        with torch.no_grad():
            out["charts/entropy"] = entropy.detach()
            # k3 estimator of KL(old || new) (Schulman, "Approximating KL divergence", 2020)
            out["charts/approx_kl"] = (((ratio - 1.0) - log_ratio) * weight).sum()
            out["charts/clip_fraction"] = (((ratio - 1.0).abs() > cfg.clip_range).float() * weight).sum()
        if self.aux_objective:
            out.update(self.aux_objective.losses(
                self.actor.aux, features, batch.aux_targets,  # type: ignore[arg-type]
                missing="aux heads are trained but the rollout has no aux_targets."))
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
        self.gradient_step(out, self._params, self.config.max_grad_norm, (("charts/grad_norm", self._params),),
                           (self.optimizer,))
        return self.step_metrics(out)

    def count_masked(self, n: int) -> None:
        """Record ``n`` rollout steps whose advantage or return was not finite (masked)."""
        self._nonfinite_targets = self._nonfinite_targets + n

    # --------------------------------------------------------------- interfaces
    def modules(self) -> Mapping[str, nn.Module]:
        """Modules by name (:class:`~sacfolio.agents.learner.Learner` protocol)."""
        return {"actor": self.actor, "value": self.value}

    def optimizers(self) -> Mapping[str, torch.optim.Optimizer]:
        """Optimizers by name (:class:`~sacfolio.agents.learner.Learner` protocol)."""
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
        self.load_modules({"actor.pt": self.actor, "value.pt": self.value}, state, PPO_STATE_DICT_FILES)
