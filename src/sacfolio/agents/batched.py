"""K SAC agents trained as one model: stacked weights, batched matmuls, per-agent everything else.

A seed ensemble of K agents (or K walk-forward folds that train cold) repeats the
same small update K times; its fixed cost (dispatch, Python, optimizer bookkeeping)
is paid once when the K agents' weights are stacked along a leading axis and every
layer is one ``bmm`` (:mod:`sacfolio.agents.sac_kernels`, the code of
:class:`~sacfolio.agents.sac.SAC`'s fast path). Each agent keeps its own generator
(noise, replay indices), temperature, Adam moments and step count, gradient-norm
clip and skip of non-finite steps, so agent k follows the trajectory of a separate
:class:`SAC` built with its seed (an equality test holds it to 1e-5).
"""

from __future__ import annotations

from typing import Sequence

import torch

from sacfolio.agents.buffers import ReplayBatch
from sacfolio.agents.config import SACConfig
from sacfolio.agents.sac import SAC
from sacfolio.agents.sac_kernels import STAT_KEYS, Layer, SACConstants, SACTensors, sac_losses_and_grads
from sacfolio.exceptions import ConfigError

__all__ = ["BatchedSAC"]


class BatchedSAC:
    """K SAC learners with stacked weights, updated together.

    Parameters
    ----------
    obs_dim, act_dim : int
    seeds : sequence of int
        One agent per seed; agent k starts from the weights of ``SAC(..., seed=seeds[k])``.
    config : SACConfig
        Shared by every agent (aux heads are not supported here).

    Attributes
    ----------
    generators : list of torch.Generator
        Agent k's source of noise and replay indices, as ``SAC.generator``.
    n_updates : int
    """

    def __init__(self, obs_dim: int, act_dim: int, *, seeds: Sequence[int], config: SACConfig = SACConfig()) -> None:
        if config.aux or not seeds:
            raise ConfigError("BatchedSAC trains >= 1 agents without aux heads; use SAC for aux=True.")
        agents = [SAC(obs_dim, act_dim, config=config, seed=s) for s in seeds]
        self.config, self.k, self.obs_dim, self.act_dim = config, len(agents), int(obs_dim), int(act_dim)
        self.generators = [a.generator for a in agents]
        self.constants = agents[0]._constants
        linears = [a.actor.linears() for a in agents]
        self.actor = [(torch.stack([ls[i].weight.detach() for ls in linears]).contiguous(),
                       torch.stack([ls[i].bias.detach() for ls in linears]).unsqueeze(1).contiguous())
                      for i in range(len(linears[0]))]
        def stacked_critic(name: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
            layers = [getattr(a, name).layer_params() for a in agents]
            return [(torch.cat([ls[i][0].detach() for ls in layers]), torch.cat([ls[i][1].detach() for ls in layers]))
                    for i in range(len(layers[0]))]

        self.critic, self.target = stacked_critic("critic"), stacked_critic("critic_target")
        self.log_alpha = torch.stack([a.log_alpha.detach() for a in agents]).clone()
        self.params = [t for layer in (*self.actor, *self.critic) for t in layer] + [self.log_alpha]
        self.grads = [torch.zeros_like(p) for p in self.params]
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.steps = torch.zeros(self.k)                  # Adam's step count of each agent
        self.skipped = torch.zeros(self.k)
        self.n_updates = 0
        n_actor = 2 * len(self.actor)
        self._groups = ((slice(0, n_actor), config.actor_lr, config.weight_decay),
                        (slice(n_actor, len(self.params) - 1), config.critic_lr, config.weight_decay),
                        (slice(len(self.params) - 1, None), config.alpha_lr, 0.0))
        self._tensors = self._views()
        defaults = agents[0].critic_optimizer.defaults
        self._betas, self._eps = defaults["betas"], defaults["eps"]
        self._hyper = [(lr, wd) for _, lr, wd in self._groups]
        self._adam_lists: dict[tuple[int, ...], list] = {}
        self.nonfinite_targets = torch.zeros(self.k)

    def _views(self) -> SACTensors:
        g = iter(self.grads)
        actor = [Layer(w.transpose(1, 2), w, b, next(g), next(g), out_in=True) for w, b in self.actor]
        critic = [Layer(w, w.transpose(1, 2), b, next(g), next(g)) for w, b in self.critic]
        target = [Layer(w, w.transpose(1, 2), b) for w, b in self.target]
        return SACTensors(actor[:-2], actor[-2], actor[-1], critic, target, self.log_alpha, next(g))

    # ------------------------------------------------------------------ update
    @torch.no_grad()
    def update(self, batch: ReplayBatch) -> dict[str, torch.Tensor]:
        """One SAC update of every agent on its own batch (fields with a leading K axis).

        Returns the statistics of :meth:`SAC.update` per agent, each of shape (K,)
        (``charts/*_grad_norm`` with clipping); ``charts/skipped_updates`` counts each
        agent's skipped non-finite steps.
        """
        b = batch.obs.shape[1]
        noise = torch.stack([torch.randn((2 * b, self.act_dim), generator=g) for g in self.generators])
        stats = sac_losses_and_grads(self._tensors, batch.obs, batch.actions, batch.rewards, batch.next_obs,
                                     batch.dones, noise, self.constants)
        out = dict(zip(STAT_KEYS, stats.unbind()))
        check = stats[:3].sum(0)
        clip = self.config.grad_clip_norm
        if clip is not None:
            for key, group in (("charts/critic_grad_norm", self._groups[1][0]),
                               ("charts/actor_grad_norm", self._groups[0][0])):
                out[key] = self._clip(self.grads[group], clip)
                check = check + out[key]
        skip = check.mul(0.0).ne_(0.0)
        self._adam(skip)
        torch._foreach_lerp_([t for layer in self.target for t in layer],
                             [t for layer in self.critic for t in layer], self.config.tau)
        self.skipped += skip
        self.n_updates += 1
        self.nonfinite_targets += out["charts/nonfinite_targets"]
        out = {k: v.nan_to_num(0.0, 0.0, 0.0) for k, v in out.items()}
        out["charts/skipped_updates"] = self.skipped.clone()
        out["charts/nonfinite_targets"] = self.nonfinite_targets.clone()
        return out

    def _clip(self, grads: list[torch.Tensor], max_norm: float) -> torch.Tensor:
        """Scale each agent's gradients to a norm <= ``max_norm`` (``clip_grad_norm_`` per agent)."""
        k = self.k
        norms = torch.stack([g.view(k, -1).norm(dim=1) for g in grads]).norm(dim=0)       # (K,)
        coef = (max_norm / (norms + 1e-6)).clamp_(max=1.0).unsqueeze(1)
        for g in grads:
            g.view(k, -1).mul_(coef)
        return norms

    def _adam(self, skip: torch.Tensor) -> None:
        """Adam (the fused kernel SAC's optimizers run) on every agent that does not skip.

        Agent k's slices of the stacked tensors are the kernel's tensors, with agent
        k's step count, so each agent steps exactly as its own optimizer would.
        """
        flags = skip.tolist()
        keep = tuple(k for k, s in enumerate(flags) if not s)
        if not keep:
            return
        self.steps.add_(1.0 - skip)
        lists = self._adam_lists.get(keep)
        if lists is None:
            lists = self._adam_lists[keep] = self._kernel_lists(keep)
        beta1, beta2 = self._betas
        for (lr, weight_decay), (params, grads, exp_avg, exp_avg_sq, steps) in zip(self._hyper, lists):
            torch._fused_adam_(params, grads, exp_avg, exp_avg_sq, [], steps, lr=lr, beta1=beta1, beta2=beta2,
                               weight_decay=weight_decay, eps=self._eps, amsgrad=False, maximize=False)

    def _kernel_lists(self, keep: tuple[int, ...]) -> list[tuple[list[torch.Tensor], ...]]:
        """Per optimizer group: agent slices of params, grads, moments and step counts (agent-minor)."""
        out = []
        for group, _, _ in self._groups:
            idx = range(len(self.params))[group]
            out.append(tuple([t[i].view(self.k, -1)[k] for i in idx for k in keep]   # agent k's elements
                             for t in (self.params, self.grads, self.exp_avg, self.exp_avg_sq))
                       + ([self.steps[k] for _ in idx for k in keep],))
        return out

    # --------------------------------------------------------------- interfaces
    def agent(self, k: int) -> SAC:
        """Agent k as a plain :class:`SAC` (a copy of its weights, temperature and generator state)."""
        sac = SAC(self.obs_dim, self.act_dim, config=self.config, seed=0)
        with torch.no_grad():
            for layer, (w, b) in zip(sac.actor.linears(), self.actor):
                layer.weight.copy_(w[k])
                layer.bias.copy_(b[k, 0])
            for module, stacked in ((sac.critic, self.critic), (sac.critic_target, self.target)):
                for (w, b), (sw, sb) in zip(module.layer_params(), stacked):
                    w.copy_(sw[2 * k: 2 * k + 2])
                    b.copy_(sb[2 * k: 2 * k + 2])
            sac.log_alpha.copy_(self.log_alpha[k])
        sac.generator.set_state(self.generators[k].get_state())
        sac.n_updates = self.n_updates
        return sac
