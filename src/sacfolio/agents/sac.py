"""The Soft Actor-Critic learner: losses, optimizers, target critic and temperature.

Equation numbers refer to Haarnoja et al., "Soft Actor-Critic Algorithms and
Applications" (2018), arXiv:1812.05905.
"""

from __future__ import annotations

import copy
from typing import Mapping

import numpy as np
import torch
from torch import nn

from sacfolio.agents.aux import aux_losses
from sacfolio.agents.buffer import ReplayBatch
from sacfolio.agents.config import SACConfig
from sacfolio.agents.networks import GaussianActor, TwinCritic, load_module_states
from sacfolio.exceptions import ConfigError, TrainingHealthError

__all__ = ["SAC", "STATE_DICT_FILES", "FusedAdam", "aux_shape_of"]

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
    def step(self, closure=None, *, found_inf: torch.Tensor | None = None):  # type: ignore[override]
        """One Adam step; skipped, without a host sync, where ``found_inf`` is 1.

        Parameters
        ----------
        closure : callable, optional
            As in ``torch.optim.Adam`` (takes the standard path).
        found_inf : Tensor, shape () float32, optional
            1.0 skips the step inside the fused kernel: parameters, moments and step
            counters stay as they were (the mechanism ``torch.amp.GradScaler`` uses).
        """
        if closure is not None or not hasattr(torch, "_fused_adam_"):
            return self._standard_step(closure, found_inf)
        groups = []
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                states = [self.state[p] for p in params]
                if any("step" not in st for st in states):
                    return self._standard_step(None, found_inf)  # let Adam build its state
                groups.append((group, params, states))
        for group, params, states in groups:
            steps = [st["step"] for st in states]
            beta1, beta2 = group["betas"]
            torch._foreach_add_(steps, 1)
            torch._fused_adam_(params, [p.grad for p in params], [st["exp_avg"] for st in states],
                               [st["exp_avg_sq"] for st in states], [], steps, lr=group["lr"],
                               beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"],
                               eps=group["eps"], amsgrad=False, maximize=False, found_inf=found_inf)
            if found_inf is not None:
                torch._foreach_sub_(steps, [found_inf] * len(steps))
        return None

    def _standard_step(self, closure, found_inf: torch.Tensor | None):
        """``torch.optim.Adam.step``, given ``found_inf`` through its GradScaler attribute."""
        if found_inf is None:
            return super().step(closure)
        self.found_inf = found_inf
        try:
            return super().step(closure)
        finally:
            del self.found_inf


def aux_shape_of(config: object, act_dim: int, n_assets: int | None = None) -> tuple[int, int] | None:
    """(H, N) of the aux heads a config asks for, or None without aux heads.

    ``N`` is ``n_assets`` or, by default, ``act_dim - 1`` (the env's stocks; CASH last).
    """
    if not getattr(config, "aux", False):
        return None
    n = int(act_dim) - 1 if n_assets is None else int(n_assets)
    if n < 1:
        raise ConfigError(f"aux heads need at least one asset; act_dim={act_dim}, n_assets={n_assets}.")
    return len(config.aux_horizons), n  # type: ignore[attr-defined]


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
    n_assets : int, optional
        Stocks the aux heads predict (default ``act_dim - 1``: every action but CASH);
        only used with ``config.aux``.

    Attributes
    ----------
    actor : GaussianActor
        With ``actor.aux`` heads when ``config.aux`` (saved in ``actor.pt``).
    aux_shape : tuple of int (H, N) or None
        Shape of the aux targets per transition; None without aux heads.
    critic, critic_target : TwinCritic
        The target starts as a copy of the critic and is never trained directly.
    log_alpha : Tensor, shape ()
        Log of the entropy temperature, trained towards ``target_entropy``.
    target_entropy : float
    generator : torch.Generator
    """

    def __init__(self, obs_dim: int, act_dim: int, *, config: SACConfig = SACConfig(),
                 seed: int = 0, n_assets: int | None = None) -> None:
        if int(obs_dim) != obs_dim or obs_dim < 1 or int(act_dim) != act_dim or act_dim < 1:
            raise ConfigError(f"obs_dim and act_dim must be ints >= 1, got {obs_dim!r}, {act_dim!r}.")
        self.obs_dim, self.act_dim, self.config = int(obs_dim), int(act_dim), config
        self.generator = torch.Generator().manual_seed(int(seed))
        self.aux_shape = aux_shape_of(config, self.act_dim, n_assets)
        self.actor = GaussianActor(self.obs_dim, self.act_dim, config.hidden_sizes,
                                   log_std_min=config.log_std_min, log_std_max=config.log_std_max,
                                   generator=self.generator, aux_shape=self.aux_shape,
                                   aux_clip=config.aux_clip)
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
        # aux heads with a zero coefficient get no loss at all, hence no gradient (seed 003)
        coefs = config.aux_coefs() if self.aux_shape is not None else ()
        self._aux_heads = [k for k, c in enumerate(coefs) if c > 0]
        self._aux_coefs = torch.tensor([coefs[k] for k in self._aux_heads])
        self._aux_horizons = [config.aux_horizons[k] for k in self._aux_heads]
        self._aux_index = (None if len(self._aux_heads) == len(coefs)
                           else torch.tensor(self._aux_heads, dtype=torch.long))
        self.n_updates = 0
        self._skipped = torch.zeros(())            # updates skipped for a non-finite loss/gradient
        self._nonfinite_targets = torch.zeros(())  # critic targets masked so far

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
        if self._aux_heads:
            if batch.aux_targets is None:
                raise ConfigError("aux heads are trained but the batch has no aux_targets; build the "
                                  "ReplayBuffer with aux_shape=learner.aux_shape.")
            targets = batch.aux_targets if self._aux_index is None else batch.aux_targets[:, self._aux_index]
            trunk = features[:n] if self.config.aux_shared_trunk else features[:n].detach()
            pred = self.actor.aux(trunk, self._aux_heads)
            aux, masked = aux_losses(pred, targets, self._aux_coefs, self._aux_horizons, self.config.aux_clip)
            out.update(aux)
            out["charts/aux_masked_targets"] = masked
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
        out = self.losses(batch)
        total = sum(v for k, v in out.items() if k.startswith("losses/"))
        for p in self._trained:
            p.grad = None
        total.backward()
        check = total.detach()
        clip = self.config.grad_clip_norm
        if clip is not None:
            out["charts/critic_grad_norm"] = nn.utils.clip_grad_norm_(self._online, clip, foreach=True)
            out["charts/actor_grad_norm"] = nn.utils.clip_grad_norm_(self._actor_params, clip, foreach=True)
            check = check + out["charts/critic_grad_norm"] + out["charts/actor_grad_norm"]
        skip = check.mul(0.0).ne_(0.0)            # 1.0 when the loss or a gradient norm is NaN/inf
        self.critic_optimizer.step(found_inf=skip)
        self.actor_optimizer.step(found_inf=skip)
        self.alpha_optimizer.step(found_inf=skip)
        # 5. Target critic: theta_target <- (1 - tau) theta_target + tau theta (one fused call).
        with torch.no_grad():
            torch._foreach_lerp_(self._target, self._online, self.config.tau)
        self.n_updates += 1
        self._skipped = self._skipped + skip
        self._nonfinite_targets = self._nonfinite_targets + out["charts/nonfinite_targets"]
        keys = list(out)
        values = torch.stack([v.detach() for v in out.values()]).nan_to_num_(0.0, 0.0, 0.0).unbind()
        metrics = dict(zip(keys, values))
        metrics["charts/skipped_updates"] = self._skipped
        metrics["charts/nonfinite_targets"] = self._nonfinite_targets
        return metrics

    def nonfinite_counts(self) -> dict[str, int]:
        """Updates skipped and critic targets masked so far (one host sync; call rarely)."""
        return {"skipped_updates": int(self._skipped), "nonfinite_targets": int(self._nonfinite_targets)}

    def check_nonfinite(self) -> None:
        """Raise once more than ``config.max_nonfinite_skips`` updates have been skipped.

        Raises
        ------
        TrainingHealthError
            With the counts and what to look at.
        """
        counts = self.nonfinite_counts()
        limit = self.config.max_nonfinite_skips
        if counts["skipped_updates"] > limit:
            raise TrainingHealthError(
                f"{counts['skipped_updates']} of {self.n_updates} SAC updates had a non-finite loss or "
                f"gradient and were skipped, more than max_nonfinite_skips={limit} "
                f"({counts['nonfinite_targets']} non-finite critic targets were masked as well). "
                "Look for NaN/inf in the observations (features) or rewards, and for exploding "
                "weights: lower the learning rate (SAC: 1e-5..3e-4) and keep grad_clip_norm=1.0.")

    # --------------------------------------------------------------- interfaces
    def policy(self) -> GaussianActor:
        """The actor: all that acting, backtests and serving need."""
        return self.actor

    def predict_aux(self, obs: np.ndarray | torch.Tensor) -> np.ndarray:
        """The aux heads' predicted returns (the API's ``/decision`` reports them).

        Parameters
        ----------
        obs : array_like, shape (B, obs_dim) or (obs_dim,)

        Returns
        -------
        ndarray float32, shape (B, H, N) or (H, N)
            Simple return of each stock over each horizon of ``config.aux_horizons``,
            in ``[-aux_clip, aux_clip]``.

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
        load_module_states(
            {"actor.pt": self.actor, "critic.pt": self.critic, "critic_target.pt": self.critic_target},
            state, expected=STATE_DICT_FILES,
            shapes=f"obs_dim={self.obs_dim}, act_dim={self.act_dim}, hidden_sizes={self.config.hidden_sizes}, "
                   f"aux={self.config.aux}")
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha.pt"]["log_alpha"])
