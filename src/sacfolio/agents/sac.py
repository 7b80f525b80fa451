"""The Soft Actor-Critic learner: losses, optimizers, target critic and temperature.

Equation numbers refer to Haarnoja et al., "Soft Actor-Critic Algorithms and
Applications" (2018), arXiv:1812.05905.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

import torch
from torch import nn

from sacfolio.agents.buffers import ReplayBatch
from sacfolio.agents.config import SACConfig
from sacfolio.agents.critics import TwinCritic
from sacfolio.agents.learner import ActorLearner
from sacfolio.agents.networks import GaussianActor
from sacfolio.agents.optim import FusedAdam
from sacfolio.agents.aux import AuxReturnHeads
from sacfolio.agents.sac_kernels import (AuxHeads, Layer, SACConstants, SACTensors, policy_samples,
                                         sac_losses_and_grads, stat_keys, trained_aux_targets)

__all__ = ["SAC", "STATE_DICT_FILES"]

#: File names of the learner's state dicts in a model version directory.
STATE_DICT_FILES = ("actor.pt", "critic.pt", "critic_target.pt", "log_alpha.pt")


class SAC(ActorLearner):
    """Soft Actor-Critic with twin critics, a Polyak target and automatic temperature.

    The learner owns the networks and optimizers; acting in the environment and the
    replay buffer belong to the trainer. All randomness (initial weights, policy
    noise, and whatever the trainer draws from :attr:`generator`) comes from ``seed``.

    Parameters
    ----------
    obs_dim, act_dim, seed, n_assets
        As in :class:`~sacfolio.agents.learner.ActorLearner`.
    config : SACConfig
    modules : object, optional
        Actor and critic factory (:class:`~sacfolio.agents.learner.ActorLearner`); default the MLPs.

    Attributes
    ----------
    actor, aux_shape, aux_objective, generator, n_updates
        As in :class:`~sacfolio.agents.learner.ActorLearner`.
    critic, critic_target : TwinCritic
        The target starts as a copy of the critic and is never trained directly.
    log_alpha : Tensor, shape ()
        Log of the entropy temperature, trained towards ``target_entropy``.
    target_entropy : float
    """

    config: SACConfig
    use_fast_path = True
    """Take the hand-derived gradients where they apply (False: always autograd, the reference)."""
    steps_name = "SAC updates"
    masked_name = "non-finite critic targets were masked as well"
    advice = ("Look for NaN/inf in the observations (features) or rewards, and for exploding "
              "weights: lower the learning rate (SAC: 1e-5..3e-4) and keep grad_clip_norm=1.0.")

    def __init__(self, obs_dim: int, act_dim: int, *, config: SACConfig = SACConfig(),
                 seed: int = 0, n_assets: int | None = None, modules: Any = None) -> None:
        if modules is None and config.network == "cross_sectional":
            from sacfolio.agents.cross_sectional import CrossSectionalModules

            modules = CrossSectionalModules()
        super().__init__(obs_dim, act_dim, config=config, seed=seed, n_assets=n_assets, modules=modules)
        if modules is None:
            self.critic = TwinCritic(self.obs_dim, self.act_dim, config.hidden_sizes,
                                     generator=self.generator)
        else:
            self.critic = modules.critic(self.obs_dim, self.act_dim, config=config, generator=self.generator)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = torch.tensor(config.init_alpha).log().requires_grad_(True)
        self.target_entropy = config.resolved_target_entropy(self.act_dim)

        self.actor_optimizer = FusedAdam(self.actor.parameters(), lr=config.actor_lr,
                                         weight_decay=config.weight_decay)
        self.critic_optimizer = FusedAdam(self.critic.parameters(), lr=config.critic_lr,
                                          weight_decay=config.weight_decay)
        self.alpha_optimizer = FusedAdam([self.log_alpha], lr=config.alpha_lr)
        self._online = list(self.critic.parameters())
        self._target = list(self.critic_target.parameters())
        self._actor_params = list(self.actor.parameters())
        self._trained = [*self._online, *self._actor_params, self.log_alpha]  # grads reset per update
        self._constants = SACConstants(config.gamma, config.reward_scale, self.target_entropy,
                                       config.log_std_min, config.log_std_max)

    # ------------------------------------------------------------------ update
    def losses(self, batch: ReplayBatch) -> dict[str, torch.Tensor]:
        """The SAC losses of one batch, plus statistics, in the paper's order.

        All losses are computed from the same parameters (as in the authors'
        reference implementation), so :meth:`update` needs a single backward pass;
        their graphs are disjoint, so each loss only reaches its own parameters
        (the aux losses reach their heads, and the actor's trunk only with
        ``config.aux_shared_trunk``).
        The actor's trunk runs once on ``obs`` and ``next_obs`` stacked; the
        ``next_obs`` half is detached, as the target is a constant.

        NaN safety: a transition whose soft-Q target is not finite (NaN/inf reward,
        non-finite ``next_obs``) is masked out of the critic loss and counted; the
        stacked actor input has its non-finite entries zeroed first, so such a row
        cannot poison the actor's gradient through ``0 * NaN``. Non-finite aux
        targets are masked the same way. Anything else non-finite (an observation,
        a weight) makes the total non-finite, and :meth:`update` skips the step.

        Parameters
        ----------
        batch : ReplayBatch
            B transitions; ``aux_targets`` (B, H, N) is required when aux heads are trained.

        Returns
        -------
        dict of str to Tensor, shape ()
            ``losses/critic``, ``losses/actor``, ``losses/alpha`` and, with trained
            aux heads, ``losses/aux`` (with graph; :meth:`update` sums every
            ``losses/`` key), ``charts/alpha``, ``charts/entropy``, ``charts/q_mean``,
            ``charts/nonfinite_targets`` (masked critic targets of this batch) and, with
            aux heads, ``charts/aux_mse_h{h}`` and ``charts/aux_masked_targets`` (without graph).
        """
        gamma, n = self.config.gamma, batch.obs.shape[0]
        alpha = self.log_alpha.exp()
        alpha_const = alpha.detach()
        features = self.actor.trunk(torch.cat((batch.obs, batch.next_obs)).nan_to_num_(0.0, 0.0, 0.0))
        actions_pi, log_probs = self.actor.sample_features(features, self.generator)[:2]

        # 1. Soft Q loss (eq. 5): regress Q1, Q2 on r + gamma (min Q_target - alpha log pi) (eq. 2-3),
        #    over the transitions whose target is finite.
        with torch.no_grad():
            next_action, next_log_prob = actions_pi[n:].detach(), log_probs[n:].detach()
            next_q = self.critic_target(batch.next_obs, next_action).amin(0)
            reward = batch.rewards * self.config.reward_scale
            target = reward + gamma * (1.0 - batch.dones) * (next_q - alpha_const * next_log_prob)
            weight = (target - target).eq_(0.0)   # 1.0 where finite (inf - inf and NaN are NaN), 2 kernels
            n_finite = weight.sum()
            weight /= n_finite.clamp(min=1.0)
            target = target.nan_to_num_(0.0, 0.0, 0.0)
        q = self.critic(batch.obs, batch.actions)                       # (2, B)
        critic_loss = 0.5 * ((q - target).square() * weight).sum()

        # 2. Policy loss (eq. 7 with the reparameterized action, eq. 11); critic weights held fixed.
        action, log_prob = actions_pi[:n], log_probs[:n]
        q_pi = self.critic(batch.obs, action, detach_params=True).amin(0)
        actor_loss = (alpha_const * log_prob - q_pi).mean()

        # 3. Temperature loss (eq. 18): raise alpha when entropy is below its target.
        log_prob_const = log_prob.detach()
        alpha_loss = -(alpha * (log_prob_const + self.target_entropy)).mean()

        out = {
            "losses/critic": critic_loss,
            "losses/actor": actor_loss,
            "losses/alpha": alpha_loss,
            "charts/alpha": alpha_const,
            "charts/entropy": -log_prob_const.mean(),
            "charts/q_mean": q.detach().mean(),
            "charts/nonfinite_targets": n - n_finite,
        }
        # 4. Auxiliary return heads: masked MSE on the realized future returns (labels only).
        if self.aux_objective:
            out.update(self.aux_objective.losses(
                self.actor.aux, features[:n], batch.aux_targets,  # type: ignore[arg-type]
                missing="aux heads are trained but the batch has no aux_targets; build the "
                        "ReplayBuffer with aux_shape=learner.aux_shape."))
        return out

    def update(self, batch: ReplayBatch) -> dict[str, torch.Tensor]:
        """One gradient step on every loss, then the Polyak update of the target critic.

        When the total loss or a gradient norm is not finite the optimizer steps are
        skipped inside the fused Adam kernel (no host sync) and counted; the target
        critic still moves towards the unchanged online critic. The trainer calls
        :meth:`check_nonfinite` now and then to stop a run that keeps skipping.

        Parameters
        ----------
        batch : ReplayBatch

        Returns
        -------
        dict of str to Tensor, shape ()
            Detached 0-d tensors (convert with ``float`` only when logging): the
            entries of :meth:`losses` (zeroed on a skipped update, so callbacks see
            only what reached the weights), ``charts/actor_grad_norm`` and
            ``charts/critic_grad_norm`` (before clipping) when clipping is on, and the
            running totals ``charts/skipped_updates`` and ``charts/nonfinite_targets``.
        """
        if self.fast_path:   # the same losses, gradients derived by hand (sac_kernels)
            out, trained, grads = self._losses_and_grads(batch)
        else:
            out, trained, grads = self.losses(batch), self._trained, None
        self.gradient_step(out, trained, self.config.grad_clip_norm,
                           (("charts/critic_grad_norm", self._online), ("charts/actor_grad_norm", self._actor_params)),
                           (self.critic_optimizer, self.actor_optimizer, self.alpha_optimizer), grads=grads)
        # 5. Target critic: theta_target <- (1 - tau) theta_target + tau theta (one fused call).
        with torch.no_grad():
            torch._foreach_lerp_(self._target, self._online, self.config.tau)
        self._nonfinite_targets = self._nonfinite_targets + out["charts/nonfinite_targets"]
        metrics = self.step_metrics(out)
        metrics["charts/nonfinite_targets"] = self._nonfinite_targets
        return metrics

    @property
    def fast_path(self) -> bool:
        """Whether :meth:`update` takes the hand-derived gradients of
        :mod:`~sacfolio.agents.sac_kernels`: for the standard actor (with or without its
        aux return heads) and twin critic (anything else goes through autograd)."""
        return (self.use_fast_path and type(self.actor) is GaussianActor and type(self.critic) is TwinCritic
                and type(self.critic_target) is TwinCritic
                and (not self.aux_objective or type(self.actor.aux) is AuxReturnHeads))

    @torch.no_grad()
    def _losses_and_grads(self, batch: ReplayBatch
                          ) -> tuple[dict[str, torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        """:meth:`losses` (values only), the parameters they reach and their gradients."""
        tensors, trained, grads = self._workspace()
        aux_targets = None
        if tensors.aux is not None:
            aux_targets = trained_aux_targets(self.aux_objective, batch.aux_targets).unsqueeze(0)
        noise = torch.randn((2 * batch.obs.shape[0], self.act_dim), generator=self.generator)
        stats = sac_losses_and_grads(
            tensors, batch.obs.unsqueeze(0), batch.actions.unsqueeze(0), batch.rewards.unsqueeze(0),
            batch.next_obs.unsqueeze(0), batch.dones.unsqueeze(0), noise.unsqueeze(0), self._constants,
            aux_targets)
        return dict(zip(stat_keys(self.aux_objective.horizons), stats.view(-1).unbind())), trained, grads

    @torch.no_grad()
    def explore(self, obs: torch.Tensor) -> torch.Tensor:
        """A sampled action ``tanh(mean + std * noise)`` for acting in the env, without gradient.

        The same as ``actor.act(obs, deterministic=False, generator=self.generator)`` (and
        the same noise draw), in a few kernels on the fast path.

        Parameters
        ----------
        obs : Tensor, shape (B, obs_dim)

        Returns
        -------
        Tensor, shape (B, act_dim), in (-1, 1)
        """
        if not self.fast_path:
            return self.actor.act(obs, deterministic=False, generator=self.generator)
        noise = torch.randn((obs.shape[0], self.act_dim), generator=self.generator)
        return policy_samples(self._workspace()[0], obs.unsqueeze(0), noise.unsqueeze(0), self._constants)[0]

    def _workspace(self) -> tuple[SACTensors, list[torch.Tensor], list[torch.Tensor]]:
        """The kernel's views of the weights and the gradient buffers (built once per set of
        parameter storages), the trained parameters and their gradients, in ``_trained`` order."""
        key = tuple(map(torch.Tensor.data_ptr, (*self._actor_params, *self._online, *self._target, self.log_alpha)))
        if getattr(self, "_workspace_key", None) == key:
            return self._workspace_cache
        policy = self.actor.linears()
        heads = [self.actor.aux.heads[h] for h in self.aux_objective.heads] if self.aux_objective else []
        params = [p for m in (*policy, *heads) for p in (m.weight, m.bias)]
        trained = [*self._online, *params, self.log_alpha]
        grads = [torch.zeros_like(p) for p in trained]
        grad_of = {id(p): g for p, g in zip(trained, grads)}

        def linear(m: nn.Linear) -> Layer:
            return Layer(m.weight.t().unsqueeze(0), m.weight.unsqueeze(0), m.bias,
                         grad_of[id(m.weight)].unsqueeze(0), grad_of[id(m.bias)].view(1, 1, -1), out_in=True)

        def critic(module: TwinCritic, trained: bool) -> list[Layer]:
            return [Layer(w, w.transpose(1, 2), b, *((grad_of[id(w)], grad_of[id(b)]) if trained else ()))
                    for w, b in module.layer_params()]

        objective = self.aux_objective
        aux = AuxHeads([linear(m) for m in heads], objective.coefs.tolist(), objective.clip,
                       objective.shared_trunk) if heads else None
        tensors = SACTensors([linear(m) for m in policy[:-2]], linear(policy[-2]), linear(policy[-1]),
                             critic(self.critic, True), critic(self.critic_target, False),
                             self.log_alpha.view(1), grad_of[id(self.log_alpha)].view(1), aux)
        self._workspace_key, self._workspace_cache = key, (tensors, trained, grads)
        return self._workspace_cache

    # --------------------------------------------------------------- interfaces
    def modules(self) -> Mapping[str, nn.Module]:
        """Modules by name (:class:`~sacfolio.agents.learner.Learner` protocol)."""
        return {"actor": self.actor, "critic": self.critic, "critic_target": self.critic_target}

    def optimizers(self) -> Mapping[str, torch.optim.Optimizer]:
        """Optimizers by name (:class:`~sacfolio.agents.learner.Learner` protocol)."""
        return {"actor": self.actor_optimizer, "critic": self.critic_optimizer,
                "alpha": self.alpha_optimizer}

    @property
    def alpha(self) -> float:
        """Current entropy temperature."""
        return float(self.log_alpha.detach().exp())

    def state_dicts(self) -> dict[str, dict[str, torch.Tensor]]:
        """State dicts by artifact file name (see :data:`STATE_DICT_FILES`); tensors only."""
        return {
            "actor.pt": self.actor.state_dict(),
            "critic.pt": self.critic.state_dict(),
            "critic_target.pt": self.critic_target.state_dict(),
            "log_alpha.pt": {"log_alpha": self.log_alpha.detach().clone()},
        }

    def load_state_dicts(self, state: Mapping[str, Mapping[str, torch.Tensor]]) -> None:
        """Restore weights written by :meth:`state_dicts` (load files with ``weights_only=True``).

        Raises
        ------
        ConfigError
            If a file is missing or its tensors do not fit this learner's shapes.
        """
        self.load_modules(
            {"actor.pt": self.actor, "critic.pt": self.critic, "critic_target.pt": self.critic_target},
            state, STATE_DICT_FILES)
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha.pt"]["log_alpha"])
