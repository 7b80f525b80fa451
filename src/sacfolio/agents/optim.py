"""Optimizers of the learners: Adam with a lean fused step and an in-kernel skip."""

from __future__ import annotations

import torch

__all__ = ["FusedAdam"]


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
