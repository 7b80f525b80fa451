"""The Soft Actor-Critic learner: losses, optimizers, target critic and temperature.

Equation numbers refer to Haarnoja et al., "Soft Actor-Critic Algorithms and
Applications" (2018), arXiv:1812.05905.
"""

from __future__ import annotations

import copy
from typing import Mapping

import torch
from torch import nn

from sacfolio.agents.buffer import ReplayBatch
from sacfolio.agents.config import SACConfig
from sacfolio.agents.networks import GaussianActor, TwinCritic
from sacfolio.exceptions import ConfigError

__all__ = ["SAC", "STATE_DICT_FILES", "FusedAdam"]

#: File names of the learner's state dicts in a model version directory (DESIGN §2).
STATE_DICT_FILES = ("actor.pt", "critic.pt", "critic_target.pt", "log_alpha.pt")


class FusedAdam(torch.optim.Adam):
    """``torch.optim.Adam(fused=True)`` with a lean ``step``: one fused kernel per group.

    ``Optimizer.step`` spends most of its time on bookkeeping that a small,
    single-device, float32 model does not need (per-step regrouping by device and
    dtype, capture checks, hooks): for SAC's 64x64 networks that overhead is larger
    than the update itself. After the first step (which lets Adam create its state
    as usual) each group is one ``_foreach_add_`` on the step counters and one
    ``_fused_adam_`` call. State, ``state_dict``, ``param_groups`` (lr, weight decay)
    and parameters without gradient behave exactly as in ``torch.optim.Adam``; the
    maths is the same kernel ``fused=True`` runs.
    """

    def __init__(self, params, *, lr: float, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr=lr, weight_decay=weight_decay, fused=True)

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        if closure is not None or not hasattr(torch, "_fused_adam_"):
            return super().step(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            states = [self.state[p] for p in params]
            if any("step" not in st for st in states):
                return super().step()  # first step: let Adam build its state
            steps = [st["step"] for st in states]
            beta1, beta2 = group["betas"]
            torch._foreach_add_(steps, 1)
            torch._fused_adam_(params, [p.grad for p in params], [st["exp_avg"] for st in states],
                               [st["exp_avg_sq"] for st in states], [], steps, lr=group["lr"],
                               beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"],
                               eps=group["eps"], amsgrad=False, maximize=False)
        return None


class SAC:
    """Soft Actor-Critic with twin critics, a Polyak target and automatic temperature.

    The learner owns the networks and optimizers; acting in the environment and the
    replay buffer belong to the trainer. All randomness (initial weights, policy
    noise, and whatever the trainer draws from :attr:`generator`) comes from ``seed``.

    Parameters
    ----------
    obs_dim, act_dim : int
        Observation and action sizes.
    config : SACConfig
    seed : int
        Seed of :attr:`generator`.

    Attributes
    ----------
    actor : GaussianActor
    critic, critic_target : TwinCritic
        The target starts as a copy of the critic and is never trained directly.
    log_alpha : Tensor, shape ()
        Log of the entropy temperature, trained towards ``target_entropy``.
    target_entropy : float
    generator : torch.Generator
    """

    def __init__(self, obs_dim: int, act_dim: int, *, config: SACConfig = SACConfig(),
                 seed: int = 0) -> None:
        if int(obs_dim) != obs_dim or obs_dim < 1 or int(act_dim) != act_dim or act_dim < 1:
            raise ConfigError(f"obs_dim and act_dim must be ints >= 1, got {obs_dim!r}, {act_dim!r}.")
        self.obs_dim, self.act_dim, self.config = int(obs_dim), int(act_dim), config
        self.generator = torch.Generator().manual_seed(int(seed))
        self.actor = GaussianActor(self.obs_dim, self.act_dim, config.hidden_sizes,
                                   log_std_min=config.log_std_min, log_std_max=config.log_std_max,
                                   generator=self.generator)
        self.critic = TwinCritic(self.obs_dim, self.act_dim, config.hidden_sizes,
                                 generator=self.generator)
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
        self.n_updates = 0

    # ------------------------------------------------------------------ update
    def losses(self, batch: ReplayBatch) -> dict[str, torch.Tensor]:
        """The three SAC losses of one batch, plus statistics, in the paper's order.

        All three are computed from the same parameters (as in the authors'
        reference implementation), so :meth:`update` needs a single backward pass;
        their graphs are disjoint, so each loss only reaches its own parameters.
        The actor runs once on ``obs`` and ``next_obs`` stacked (one forward for
        both); the ``next_obs`` half is detached, as the target is a constant.
        Keys starting with ``losses/`` are summed and minimized by :meth:`update`;
        a subclass adding an auxiliary loss adds a key here.

        Parameters
        ----------
        batch : ReplayBatch
            B transitions.

        Returns
        -------
        dict of str to Tensor, shape ()
            ``losses/critic``, ``losses/actor``, ``losses/alpha`` (with graph) and
            ``charts/alpha``, ``charts/entropy``, ``charts/q_mean`` (without).
        """
        gamma, n = self.config.gamma, batch.obs.shape[0]
        alpha = self.log_alpha.exp()
        alpha_const = alpha.detach()
        actions_pi, log_probs = self.actor.sample(torch.cat((batch.obs, batch.next_obs)), self.generator)

        # 1. Soft Q loss (eq. 5): regress Q1, Q2 on r + gamma (min Q_target - alpha log pi) (eq. 2-3)
        with torch.no_grad():
            next_action, next_log_prob = actions_pi[n:].detach(), log_probs[n:].detach()
            next_q = self.critic_target(batch.next_obs, next_action).amin(0)
            reward = batch.rewards * self.config.reward_scale
            target = reward + gamma * (1.0 - batch.dones) * (next_q - alpha_const * next_log_prob)
        q = self.critic(batch.obs, batch.actions)                       # (2, B)
        critic_loss = 0.5 * (q - target).square().mean(1).sum()

        # 2. Policy loss (eq. 7 with the reparameterized action, eq. 11); critic weights held fixed.
        action, log_prob = actions_pi[:n], log_probs[:n]
        q_pi = self.critic(batch.obs, action, detach_params=True).amin(0)
        actor_loss = (alpha_const * log_prob - q_pi).mean()

        # 3. Temperature loss (eq. 18): raise alpha when entropy is below its target.
        log_prob_const = log_prob.detach()
        alpha_loss = -(alpha * (log_prob_const + self.target_entropy)).mean()

        return {
            "losses/critic": critic_loss,
            "losses/actor": actor_loss,
            "losses/alpha": alpha_loss,
            "charts/alpha": alpha_const,
            "charts/entropy": -log_prob_const.mean(),
            "charts/q_mean": q.detach().mean(),
        }

    def update(self, batch: ReplayBatch) -> dict[str, torch.Tensor]:
        """One gradient step on every loss, then the Polyak update of the target critic.

        Parameters
        ----------
        batch : ReplayBatch

        Returns
        -------
        dict of str to Tensor, shape ()
            Detached 0-d tensors (convert with ``float`` only when logging): the
            entries of :meth:`losses`, plus ``charts/actor_grad_norm`` and
            ``charts/critic_grad_norm`` (before clipping) when clipping is on.
        """
        out = self.losses(batch)
        total = sum(v for k, v in out.items() if k.startswith("losses/"))
        for p in self._trained:
            p.grad = None
        total.backward()
        metrics = {k: v.detach() for k, v in out.items()}
        clip = self.config.grad_clip_norm
        if clip is not None:
            metrics["charts/critic_grad_norm"] = nn.utils.clip_grad_norm_(self._online, clip, foreach=True)
            metrics["charts/actor_grad_norm"] = nn.utils.clip_grad_norm_(self._actor_params, clip,
                                                                          foreach=True)
        self.critic_optimizer.step()
        self.actor_optimizer.step()
        self.alpha_optimizer.step()
        # 4. Target critic: theta_target <- (1 - tau) theta_target + tau theta (one fused call).
        with torch.no_grad():
            torch._foreach_lerp_(self._target, self._online, self.config.tau)
        self.n_updates += 1
        return metrics

    # --------------------------------------------------------------- interfaces
    def policy(self) -> GaussianActor:
        """The actor: all that acting, backtests and serving need."""
        return self.actor

    def modules(self) -> Mapping[str, nn.Module]:
        """Modules by name (``train.callbacks.Learner`` protocol)."""
        return {"actor": self.actor, "critic": self.critic, "critic_target": self.critic_target}

    def optimizers(self) -> Mapping[str, torch.optim.Optimizer]:
        """Optimizers by name (``train.callbacks.Learner`` protocol)."""
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
        missing = [name for name in STATE_DICT_FILES if name not in state]
        if missing:
            raise ConfigError(f"state dicts {missing} are missing; expected {list(STATE_DICT_FILES)}.")
        try:
            self.actor.load_state_dict(state["actor.pt"])
            self.critic.load_state_dict(state["critic.pt"])
            self.critic_target.load_state_dict(state["critic_target.pt"])
        except RuntimeError as exc:
            raise ConfigError(f"saved weights do not fit obs_dim={self.obs_dim}, act_dim="
                              f"{self.act_dim}, hidden_sizes={self.config.hidden_sizes}: {exc}") from exc
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha.pt"]["log_alpha"])
