"""Optimizers of the learners: Adam with a lean fused step and an in-kernel skip."""

from __future__ import annotations

from typing import Sequence

import torch

__all__ = ["FusedAdam", "fused_adam_steps"]


class FusedAdam(torch.optim.Adam):
    """``torch.optim.Adam(fused=True)`` with a lean ``step``: one fused kernel per group.

    ``Optimizer.step`` spends most of its time on bookkeeping that a small,
    single-device, float32 model does not need (per-step regrouping by device and
    dtype, capture checks, hooks): for SAC's 64x64 networks that overhead is larger
    than the update itself. After the first step (which lets Adam create its state
    as usual) each group is one ``_fused_adam_`` call on lists built once and reused
    while the state stays the same (rebuilt after ``load_state_dict``, a dropped
    state or a change of which parameters have gradients). Parameters of a group
    whose step counts are equal share one step tensor while the same parameters are stepped,
    so counting a step is one small kernel. State, ``state_dict``, ``param_groups`` (lr, weight decay) and
    parameters without gradient behave exactly as in ``torch.optim.Adam``; the maths
    is the same kernel ``fused=True`` runs. The lean step runs no step hooks.
    """

    def __init__(self, params, *, lr: float, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr=lr, weight_decay=weight_decay, fused=True)
        self._plan: list[tuple[dict, list, list, list, list]] | None = None
        self._plan_key: tuple | None = None

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
        fused_adam_steps((self,), found_inf)
        return None

    def plan(self) -> tuple[list[torch.Tensor], list[tuple]] | None:
        """(distinct step tensors, per-group kernel arguments) of the next lean step, or
        None when Adam must first build its state (the standard step then runs)."""
        key = (id(self.state), len(self.state), tuple(p.grad is not None for g in self.param_groups
                                                      for p in g["params"]))
        if key != self._plan_key or self._plan is None:
            self._plan = self._build_plan()
            self._plan_key = (id(self.state), len(self.state), key[2])
        if self._plan is None:
            return None
        steps = {id(s): s for g in self._plan for s in g[4]}
        return list(steps.values()), self._plan

    def _build_plan(self) -> list[tuple[dict, list, list, list, list]] | None:
        self._own_counters()
        plan = []
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            states = [self.state[p] for p in params]
            if any("step" not in st for st in states):
                return None
            if len({float(st["step"]) for st in states}) == 1:   # share one counter (host sync, once)
                shared = states[0]["step"]
                for st in states:
                    st["step"] = shared
            plan.append((group, params, [st["exp_avg"] for st in states],
                         [st["exp_avg_sq"] for st in states], [st["step"] for st in states]))
        return plan

    def state_dict(self) -> dict:
        """As ``torch.optim.Adam.state_dict``, with one step counter per parameter (never shared)."""
        out = super().state_dict()
        out["state"] = {k: {**v, "step": v["step"].clone()} if "step" in v else v for k, v in out["state"].items()}
        return out

    def _own_counters(self) -> None:
        """Give every parameter its own step counter again (Adam counts per parameter)."""
        for st in self.state.values():
            if "step" in st:
                st["step"] = st["step"].clone()

    def _standard_step(self, closure, found_inf: torch.Tensor | None):
        """``torch.optim.Adam.step``, given ``found_inf`` through its GradScaler attribute."""
        self._plan = None
        self._own_counters()
        if found_inf is None:
            return super().step(closure)
        self.found_inf = found_inf
        try:
            return super().step(closure)
        finally:
            del self.found_inf


@torch.no_grad()
def fused_adam_steps(optimizers: Sequence[FusedAdam], found_inf: torch.Tensor | None) -> None:
    """Step every optimizer with one counting kernel and one fused Adam kernel per group.

    Equivalent to ``opt.step(found_inf=found_inf)`` for each; ``found_inf`` 1.0 skips
    all of them (counters included).
    """
    steps: list[torch.Tensor] = []
    groups = []
    for opt in optimizers:
        plan = opt.plan()
        if plan is None:
            opt._standard_step(None, found_inf)
            continue
        steps += plan[0]
        groups += plan[1]
    if not groups:
        return
    torch._foreach_add_(steps, 1.0 if found_inf is None else 1.0 - found_inf)
    for group, params, exp_avgs, exp_avg_sqs, state_steps in groups:
        beta1, beta2 = group["betas"]
        torch._fused_adam_(params, [p.grad for p in params], exp_avgs, exp_avg_sqs, [], state_steps,
                           lr=group["lr"], beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"],
                           eps=group["eps"], amsgrad=False, maximize=False, found_inf=found_inf)
