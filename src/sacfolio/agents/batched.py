"""K SAC agents trained as one model: stacked weights, batched matmuls, per-agent everything else.

A seed ensemble of K agents (or K walk-forward folds that train cold) repeats the
same small update K times; its fixed cost (dispatch, Python, optimizer bookkeeping)
is paid once when the K agents' weights are stacked along a leading axis and every
layer is one ``bmm`` (:mod:`sacfolio.agents.sac_kernels`, the code of
:class:`~sacfolio.agents.sac.SAC`'s fast path). Each agent keeps its own generator
(noise, replay indices), temperature, Adam moments and step count, gradient-norm
clip and skip of non-finite steps, so agent k follows the trajectory of a separate
:class:`SAC` built with its seed (an equality test holds it to 1e-5; every kernel
here computes agent k's numbers as :class:`SAC`'s fast path computes them -- batched
matmuls over the same per-agent layouts, per-agent norms, the elementwise Adam -- so
on the CPU kernels measured the bits are the same). Trained aux return heads are
stacked like the actor's layers and sit in the actor's optimizer group (clipped with
it), as in :class:`SAC`.
"""

from __future__ import annotations

from typing import Sequence

import torch

from sacfolio.agents.buffers import ReplayBatch
from sacfolio.agents.config import SACConfig
from sacfolio.agents.sac import SAC
from sacfolio.agents.sac_kernels import (AuxHeads, Layer, SACTensors, policy_samples, sac_losses_and_grads,
                                         stat_keys, trained_aux_targets)
from sacfolio.exceptions import ConfigError

__all__ = ["BatchedSAC"]


def _cat_like(tensors: list[torch.Tensor]) -> torch.Tensor:
    """``torch.cat(tensors)`` with the strides of ``tensors[0]`` (contiguous ones that differ only
    in a size-1 dimension, e.g. the critic's (2, hidden, 1) output weight): the BLAS kernel a
    matmul takes depends on them, and the same kernel gives each agent the bits of its own SAC."""
    out = torch.cat(tensors)
    return out.as_strided(out.shape, tensors[0].stride())


class BatchedSAC:
    """K SAC learners with stacked weights, updated together.

    Parameters
    ----------
    obs_dim, act_dim : int
    seeds : sequence of int
        One agent per seed; agent k starts from the weights of ``SAC(..., seed=seeds[k])``.
    config : SACConfig
        Shared by every agent.
    n_assets : int, optional
        Stocks the aux heads predict (default ``act_dim - 1``), as in :class:`SAC`.

    Attributes
    ----------
    generators : list of torch.Generator
        Agent k's source of noise and replay indices, as ``SAC.generator``.
    n_updates : int
    """

    def __init__(self, obs_dim: int, act_dim: int, *, seeds: Sequence[int], config: SACConfig = SACConfig(),
                 n_assets: int | None = None) -> None:
        if not seeds:
            raise ConfigError("BatchedSAC trains >= 1 agents; got no seeds.")
        self._stack([SAC(obs_dim, act_dim, config=config, seed=s, n_assets=n_assets) for s in seeds])

    @classmethod
    def of(cls, learners: Sequence[SAC]) -> "BatchedSAC":
        """The K ``learners`` (fresh optimizers, e.g. just built, or loaded for a warm start) as one
        batched model; agent k continues from learner k's weights and generator state.

        Raises
        ------
        ConfigError
            No learners, learners of other configs or sizes, a learner off the fast path
            (another architecture) or one whose optimizers have already stepped.
        """
        if not learners:
            raise ConfigError("BatchedSAC trains >= 1 agents; got no learners.")
        first = learners[0]
        for sac in learners:
            if not sac.fast_path or (sac.config, sac.obs_dim, sac.act_dim, sac.aux_shape) != (
                    first.config, first.obs_dim, first.act_dim, first.aux_shape):
                raise ConfigError("BatchedSAC stacks SAC learners of one config and size on the fast path "
                                  "(the MLP actor and twin critic)")
            if any(opt.state for opt in sac.optimizers().values()):
                raise ConfigError("BatchedSAC starts every agent's Adam afresh; got a learner that has stepped")
        out = cls.__new__(cls)
        out._stack(learners)
        return out

    def _stack(self, agents: Sequence[SAC]) -> None:
        """Stack the agents' weights, temperatures and generators; fresh Adam moments."""
        config = agents[0].config
        self.config, self.k, self.obs_dim, self.act_dim = config, len(agents), agents[0].obs_dim, agents[0].act_dim
        self.aux_shape, self.objective = agents[0].aux_shape, agents[0].aux_objective
        self.generators = [a.generator for a in agents]
        self.constants = agents[0]._constants

        def stacked_linears(layers: list[list[torch.nn.Linear]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
            return [(torch.stack([ls[i].weight.detach() for ls in layers]).contiguous(),
                     torch.stack([ls[i].bias.detach() for ls in layers]).unsqueeze(1).contiguous())
                    for i in range(len(layers[0]))]

        def stacked_critic(name: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
            layers = [getattr(a, name).layer_params() for a in agents]
            return [tuple(_cat_like([ls[i][j].detach() for ls in layers]) for j in (0, 1))  # type: ignore[misc]
                    for i in range(len(layers[0]))]

        self.actor = stacked_linears([a.actor.linears() for a in agents])
        self.aux_heads = [] if agents[0].actor.aux is None else stacked_linears(
            [list(a.actor.aux.heads) for a in agents])                       # every head, trained or not
        trained_aux = [self.aux_heads[h] for h in self.objective.heads] if self.objective else []
        self.critic, self.target = stacked_critic("critic"), stacked_critic("critic_target")
        self.log_alpha = torch.stack([a.log_alpha.detach() for a in agents]).clone()
        self.params = [t for layer in (*self.actor, *trained_aux, *self.critic) for t in layer] + [self.log_alpha]
        self.grads = [torch.zeros_like(p) for p in self.params]
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.steps = torch.zeros(self.k)                  # Adam's step count of each agent
        self.skipped = torch.zeros(self.k)
        self._skip_counts = [0.0] * self.k
        self.n_updates = 0
        n_actor = 2 * (len(self.actor) + len(trained_aux))
        self._groups = ((slice(0, n_actor), config.actor_lr, config.weight_decay),
                        (slice(n_actor, len(self.params) - 1), config.critic_lr, config.weight_decay),
                        (slice(len(self.params) - 1, None), config.alpha_lr, 0.0))
        self._tensors = self._views(len(trained_aux))
        defaults = agents[0].critic_optimizer.defaults
        self._betas, self._eps = defaults["betas"], defaults["eps"]
        self._hyper = [(lr, wd) for _, lr, wd in self._groups]
        self._adam_lists: dict[tuple[int, ...], list] = {}
        self.nonfinite_targets = torch.zeros(self.k)

    def _views(self, n_aux: int) -> SACTensors:
        g = iter(self.grads)
        n_actor = len(self.actor) + n_aux
        pairs = zip(self.params[0: 2 * n_actor: 2], self.params[1: 2 * n_actor: 2])
        actor = [Layer(w.transpose(1, 2), w, b, next(g), next(g), out_in=True) for w, b in pairs]
        critic = [Layer(w, w.transpose(1, 2), b, next(g), next(g)) for w, b in self.critic]
        target = [Layer(w, w.transpose(1, 2), b) for w, b in self.target]
        policy, heads = actor[:len(self.actor)], actor[len(self.actor):]
        aux = None if not heads else AuxHeads(heads, self.objective.coefs.tolist(), self.objective.clip,
                                              self.objective.shared_trunk)
        return SACTensors(policy[:-2], policy[-2], policy[-1], critic, target, self.log_alpha, next(g), aux)

    # ------------------------------------------------------------------ update
    @torch.no_grad()
    def update(self, batch: ReplayBatch) -> dict[str, torch.Tensor]:
        """One SAC update of every agent on its own batch (fields with a leading K axis).

        Returns the statistics of :meth:`SAC.update` per agent, each of shape (K,)
        (``charts/*_grad_norm`` with clipping); ``charts/skipped_updates`` counts each
        agent's skipped non-finite steps. ``batch.aux_targets`` (K, B, H, N) is required
        with trained aux heads.
        """
        b = batch.obs.shape[1]
        aux = self._tensors.aux
        targets = None if aux is None else trained_aux_targets(self.objective, batch.aux_targets)
        noise = torch.stack([torch.randn((2 * b, self.act_dim), generator=g) for g in self.generators])
        stats = sac_losses_and_grads(self._tensors, batch.obs, batch.actions, batch.rewards, batch.next_obs,
                                     batch.dones, noise, self.constants, targets)
        out = dict(zip(stat_keys(self.objective.horizons), stats.unbind()))
        check = stats[:3].sum(0) if aux is None else stats[:3].sum(0) + stats[7]
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
        """Scale each agent's gradients to a norm <= ``max_norm`` (:func:`~sacfolio.agents.learner.clip_grad_norm_`
        per agent): each tensor's norm per agent, then each agent's norm of those (the same bits
        as the per-tensor norms of agent k's own tensors)."""
        k = self.k
        per_tensor = torch.stack([torch.linalg.vector_norm(g.view(k, -1), 2.0, dim=1) for g in grads])  # (n, K)
        total = torch.linalg.vector_norm(per_tensor.t().contiguous(), 2.0, dim=1)                      # (K,)
        coef = (max_norm / (total + 1e-6)).clamp_(max=1.0).unsqueeze(1)
        for g in grads:
            g.view(k, -1).mul_(coef)
        return total

    def _adam(self, skip: torch.Tensor) -> None:
        """Adam (the fused kernel SAC's optimizers run) on every agent that does not skip.

        Agent k's slices of the stacked tensors are the kernel's tensors, with agent
        k's step count, so each agent steps exactly as its own optimizer would. While
        every agent has taken every step, a tensor whose agent slices are whole multiples
        of the kernel's vector width goes in whole (the kernel is elementwise, so the same
        bits, at a fraction of the per-tensor cost).
        """
        flags = skip.tolist()
        keep = tuple(k for k, s in enumerate(flags) if not s)
        self._skip_counts = [c + f for c, f in zip(self._skip_counts, flags)]
        if not keep:
            return
        self.steps.add_(1.0 - skip)
        key = ("whole",) if len(keep) == self.k and len(set(self._skip_counts)) == 1 else keep
        lists = self._adam_lists.get(key)
        if lists is None:
            lists = self._adam_lists[key] = self._kernel_lists(keep, whole=key == ("whole",))
        beta1, beta2 = self._betas
        for (lr, weight_decay), (params, grads, exp_avg, exp_avg_sq, steps) in zip(self._hyper, lists):
            torch._fused_adam_(params, grads, exp_avg, exp_avg_sq, [], steps, lr=lr, beta1=beta1, beta2=beta2,
                               weight_decay=weight_decay, eps=self._eps, amsgrad=False, maximize=False)

    def _kernel_lists(self, keep: tuple[int, ...], whole: bool) -> list[tuple[list[torch.Tensor], ...]]:
        """Per optimizer group: the params, grads, moments and step counts of the kernel, as agent
        slices (agent-minor) or, with ``whole`` (every agent, equal step counts), whole tensors
        where an agent's slice is a multiple of 64 elements."""
        out = []
        for group, _, _ in self._groups:
            lists: tuple[list[torch.Tensor], ...] = ([], [], [], [], [])
            for i in range(len(self.params))[group]:
                if whole and self.params[i][0].numel() % 64 == 0:
                    entries = [tuple(t[i] for t in (self.params, self.grads, self.exp_avg, self.exp_avg_sq))]
                    steps = [self.steps[0]]
                else:
                    entries = [tuple(t[i].view(self.k, -1)[k] for t in (self.params, self.grads, self.exp_avg,
                                                                         self.exp_avg_sq)) for k in keep]
                    steps = [self.steps[k] for k in keep]
                for entry, step in zip(entries, steps):
                    for target, tensor in zip(lists, (*entry, step)):
                        target.append(tensor)
            out.append(lists)
        return out

    @torch.no_grad()
    def explore(self, obs: torch.Tensor) -> torch.Tensor:
        """Each agent's sampled action for its observation, as :meth:`SAC.explore` (same noise draw).

        Parameters
        ----------
        obs : Tensor, shape (K, obs_dim)

        Returns
        -------
        Tensor, shape (K, act_dim), in (-1, 1)
        """
        noise = torch.stack([torch.randn((1, self.act_dim), generator=g) for g in self.generators])
        return policy_samples(self._tensors, obs.unsqueeze(1), noise, self.constants)[:, 0]

    # --------------------------------------------------------------- interfaces
    def agent(self, k: int, *, grads: bool = False) -> SAC:
        """Agent k as a plain :class:`SAC`: a copy of its weights (aux heads included), temperature,
        generator state and counts of updates, skipped steps and masked targets (its optimizers are
        fresh: Adam's moments stay here). ``grads``: with the last update's (clipped) gradients as
        ``.grad``, as :meth:`SAC.update` leaves them (what a health check reads)."""
        n_assets = None if self.aux_shape is None else self.aux_shape[1]
        sac = SAC(self.obs_dim, self.act_dim, config=self.config, seed=0, n_assets=n_assets)
        heads = [] if sac.actor.aux is None else list(sac.actor.aux.heads)
        trained_heads = [heads[h] for h in self.objective.heads] if self.objective else []
        actor_params = [p for m in (*sac.actor.linears(), *trained_heads) for p in (m.weight, m.bias)]
        with torch.no_grad():
            for layer, (w, b) in zip([*sac.actor.linears(), *heads], [*self.actor, *self.aux_heads]):
                layer.weight.copy_(w[k])
                layer.bias.copy_(b[k, 0])
            for module, stacked in ((sac.critic, self.critic), (sac.critic_target, self.target)):
                for (w, b), (sw, sb) in zip(module.layer_params(), stacked):
                    w.copy_(sw[2 * k: 2 * k + 2])
                    b.copy_(sb[2 * k: 2 * k + 2])
            sac.log_alpha.copy_(self.log_alpha[k])
        if grads and self.n_updates:
            critic_params = [p for pair in sac.critic.layer_params() for p in pair]
            rows = [k] * len(actor_params) + [slice(2 * k, 2 * k + 2)] * len(critic_params) + [k]
            for p, g, r in zip([*actor_params, *critic_params, sac.log_alpha], self.grads, rows, strict=True):
                p.grad = g[r].reshape(p.shape).clone()
        sac.generator.set_state(self.generators[k].get_state())
        sac.n_updates = self.n_updates
        sac._skipped = self.skipped[k].clone()
        sac._nonfinite_targets = self.nonfinite_targets[k].clone()
        return sac
