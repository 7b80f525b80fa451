"""What a learner is: the protocol trainers and callbacks see, and what SAC and PPO share.

:class:`Learner` is the interface (modules and optimizers by name) that callbacks
such as the health monitor read. :class:`ActorLearner` is the common base of
:class:`~sacfolio.agents.sac.SAC` and :class:`~sacfolio.agents.ppo.PPO`: the squashed
Gaussian actor with its optional aux heads, the seeded generator, the gradient step
that skips non-finite updates inside the optimizer kernel, the count of skipped
steps, and state-dict loading with errors a user can act on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np
import torch
from torch import nn

from sacfolio.agents.aux import AuxObjective, aux_shape_of
from sacfolio.agents.networks import GaussianActor, load_module_states
from sacfolio.agents.optim import fused_adam_steps
from sacfolio.exceptions import ConfigError, TrainingHealthError

if TYPE_CHECKING:  # pragma: no cover
    from sacfolio.agents.config import PPOConfig, SACConfig

__all__ = ["ALGORITHMS", "ActorLearner", "Learner", "build_actor", "clip_grad_norm_"]

ALGORITHMS = ("sac", "ppo")
"""The learners sacfolio trains: SAC, and PPO as the on-policy baseline on the same state."""


def build_actor(config: "SACConfig | PPOConfig", obs_dim: int, act_dim: int, *,
                generator: torch.Generator | None = None, n_assets: int | None = None) -> GaussianActor:
    """The squashed Gaussian actor a learner with ``config`` acts through, with the aux
    return heads when ``config.aux`` (one builder for training and for loading a model)."""
    if getattr(config, "network", "mlp") == "cross_sectional":
        from sacfolio.agents.cross_sectional import CrossSectionalModules

        return CrossSectionalModules().actor(obs_dim, act_dim, config=config, generator=generator)
    return GaussianActor(obs_dim, act_dim, config.hidden_sizes,
                         log_std_min=config.log_std_min, log_std_max=config.log_std_max,
                         generator=generator, aux_shape=aux_shape_of(config, act_dim, n_assets),
                         aux_clip=config.aux_clip)


def clip_grad_norm_(params: Sequence[torch.Tensor], max_norm: float) -> torch.Tensor:
    """``nn.utils.clip_grad_norm_(params, max_norm, foreach=True)``, the same kernels without its
    per-call regrouping by device and dtype (the learners' parameters share one of each).

    Returns the total norm before clipping (shape ()); parameters without gradient are skipped.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2.0)), 2.0)
    torch._foreach_mul_(grads, torch.clamp(max_norm / (total + 1e-6), max=1.0))
    return total


@runtime_checkable
class Learner(Protocol):
    """What a callback may look at: the learner's modules and optimizers by name."""

    def modules(self) -> Mapping[str, nn.Module]:
        """Trainable modules by name, e.g. ``{"actor": ..., "critic": ...}``."""
        ...

    def optimizers(self) -> Mapping[str, torch.optim.Optimizer]:
        """Optimizers by name, e.g. ``{"actor": ..., "critic": ..., "alpha": ...}``."""
        ...


class ActorLearner:
    """Base of the learners that act through a :class:`GaussianActor`.

    Subclasses build their critics and optimizers after calling ``__init__`` (so the
    actor's weights are drawn first from ``seed``), implement :meth:`modules`,
    :meth:`optimizers` and ``update``, and name their steps in the messages below.

    Parameters
    ----------
    obs_dim, act_dim : int
    config : SACConfig or PPOConfig
    seed : int
        Seed of :attr:`generator`.
    n_assets : int, optional
        Stocks the aux heads predict (default ``act_dim - 1``: every action but CASH);
        only used with ``config.aux``.
    modules : object, optional
        A factory with ``actor(obs_dim, act_dim, *, config, generator)`` (and, for SAC,
        ``critic(...)``) building other networks; default the MLP actor and critic.

    Attributes
    ----------
    actor : GaussianActor
        With ``actor.aux`` heads when ``config.aux`` (saved in ``actor.pt``).
    aux_shape : tuple of int (H, N) or None
        Shape of the aux targets per transition; None without aux heads.
    aux_objective : AuxObjective
        The aux heads trained (coefficient > 0) and their loss.
    generator : torch.Generator
    n_updates : int
        Gradient steps made (skipped ones included).
    """

    steps_name: ClassVar[str] = "updates"
    """What a gradient step is called in the non-finite error, e.g. "SAC updates"."""
    masked_name: ClassVar[str] = "non-finite targets were masked"
    """What the masked count counts, in the same message."""
    advice: ClassVar[str] = ""
    """The last sentence of the message: what to look at."""

    def __init__(self, obs_dim: int, act_dim: int, *, config: "SACConfig | PPOConfig", seed: int,
                 n_assets: int | None, modules: Any = None) -> None:
        if int(obs_dim) != obs_dim or obs_dim < 1 or int(act_dim) != act_dim or act_dim < 1:
            raise ConfigError(f"obs_dim and act_dim must be ints >= 1, got {obs_dim!r}, {act_dim!r}.")
        self.obs_dim, self.act_dim, self.config = int(obs_dim), int(act_dim), config
        self.generator = torch.Generator().manual_seed(int(seed))
        self.aux_shape = aux_shape_of(config, self.act_dim, n_assets)
        if modules is None:
            self.actor = build_actor(config, self.obs_dim, self.act_dim, generator=self.generator, n_assets=n_assets)
        else:  # another architecture under the same learner (e.g. agents.universal_critic.UniversalModules)
            self.actor = modules.actor(self.obs_dim, self.act_dim, config=config, generator=self.generator)
        self.aux_objective = AuxObjective(config, self.aux_shape)
        self.n_updates = 0
        self._skipped = torch.zeros(())            # steps skipped for a non-finite loss/gradient
        self._nonfinite_targets = torch.zeros(())  # targets masked so far

    # ------------------------------------------------------------------ update
    def gradient_step(self, out: dict[str, torch.Tensor], trained: Iterable[torch.Tensor],
                      clip: float | None, clip_groups: Sequence[tuple[str, list[torch.Tensor]]],
                      optimizers: Sequence[torch.optim.Optimizer], *,
                      grads: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """Backward through the sum of every ``losses/`` entry of ``out``, clip, step each optimizer.

        When the total loss or a gradient norm is not finite, every optimizer step is
        skipped inside the fused Adam kernel (no host sync) and counted.

        Parameters
        ----------
        out : dict of str to Tensor
            The losses (with graph) and statistics of one batch; the gradient norms
            before clipping are added under the keys of ``clip_groups``.
        trained : iterable of Tensor
            Every parameter a loss reaches (their gradients are reset first).
        clip : float or None
            Max gradient norm of each group; None: no clipping.
        clip_groups : sequence of (metric key, parameters)
            Clipped one after the other, each on its own norm.
        optimizers : sequence of FusedAdam
        grads : sequence of Tensor, optional
            The gradients of ``trained`` (in order), already computed by a hand-derived
            backward; then no autograd backward runs.

        Returns
        -------
        Tensor, shape ()
            1.0 when the step was skipped, else 0.0.
        """
        total = sum(v for k, v in out.items() if k.startswith("losses/"))
        if grads is None:
            for p in trained:
                p.grad = None
            total.backward()
        else:
            for p, g in zip(trained, grads, strict=True):
                p.grad = g
        check = total.detach()
        if clip is not None:
            for key, params in clip_groups:
                out[key] = clip_grad_norm_(params, clip)
                check = check + out[key]
        skip = check.mul(0.0).ne_(0.0)            # 1.0 when the loss or a gradient norm is NaN/inf
        fused_adam_steps(optimizers, skip)  # type: ignore[arg-type]
        self.n_updates += 1
        self._skipped = self._skipped + skip
        return skip

    def step_metrics(self, out: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``out`` detached, with NaN/inf zeroed (one kernel), and the running ``charts/skipped_updates``."""
        keys = list(out)
        values = torch.stack([v.detach() for v in out.values()]).nan_to_num_(0.0, 0.0, 0.0).unbind()
        metrics = dict(zip(keys, values))
        metrics["charts/skipped_updates"] = self._skipped
        return metrics

    def nonfinite_counts(self) -> dict[str, int]:
        """Steps skipped and targets masked so far (one host sync; call rarely)."""
        return {"skipped_updates": int(self._skipped), "nonfinite_targets": int(self._nonfinite_targets)}

    def check_nonfinite(self) -> None:
        """Raise once more than ``config.max_nonfinite_skips`` steps have been skipped.

        Raises
        ------
        TrainingHealthError
            With the counts and what to look at.
        """
        counts = self.nonfinite_counts()
        limit = self.config.max_nonfinite_skips
        if counts["skipped_updates"] > limit:
            raise TrainingHealthError(
                f"{counts['skipped_updates']} of {self.n_updates} {self.steps_name} had a non-finite loss or "
                f"gradient and were skipped, more than max_nonfinite_skips={limit} "
                f"({counts['nonfinite_targets']} {self.masked_name}). {self.advice}")

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

    def load_modules(self, modules: Mapping[str, nn.Module], state: Mapping[str, Mapping[str, torch.Tensor]],
                     expected: Sequence[str]) -> None:
        """Load each module's file of ``state`` (:func:`~sacfolio.agents.networks.load_module_states`).

        ``expected`` lists every file the learner saves; a missing one, or tensors that
        do not fit, is a :class:`ConfigError` naming this learner's sizes.
        """
        load_module_states(modules, state, expected=expected,
                           shapes=f"obs_dim={self.obs_dim}, act_dim={self.act_dim}, "
                                  f"hidden_sizes={self.config.hidden_sizes}, aux={self.config.aux}")
