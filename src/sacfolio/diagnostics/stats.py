"""Per-tensor statistics of weights and their gradients.

:func:`tensor_stat` measures one tensor: the fraction of exact zeros (leaving out
the values that are zero by design at initialization), norm and extremes,
non-finite values, the change since a reference copy and the gradient's norm.
:func:`layer_stats` does it for every parameter of a module, finding the
zero-by-design values from the module types
(:func:`~sacfolio.diagnostics.init_rules.zero_at_init_masks`). The training
health monitor and ``sacfolio inspect`` both read these numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
from torch import nn

from sacfolio.diagnostics.init_rules import zero_at_init_masks

__all__ = ["LayerStat", "layer_stats", "tensor_stat"]


@dataclass(frozen=True, kw_only=True)
class LayerStat:
    """Statistics of one parameter tensor.

    Attributes
    ----------
    name : str
        Dotted parameter name (``"actor.net.0.bias"``).
    shape : tuple of int
    numel : int
    zero_fraction : float
        Fraction of exact zeros among the elements that are not legitimately zero
        at initialization (0.0 when all of them are).
    zero_at_init : int
        Number of elements excluded from ``zero_fraction`` (normalization biases,
        padding rows).
    norm, abs_max, min, max : float
        L2 norm and extremes of the values (``nan``/``inf`` propagate).
    nonfinite : int
        Number of NaN or infinite values.
    rel_change : float or None
        ``||p - p0|| / ||p0||`` against the reference copy; None without one.
    unchanged : bool or None
        True when the tensor is bit-identical to the reference copy.
    grad_norm : float or None
        L2 norm of ``.grad``; None when the gradient is None.
    grad_nonfinite : int
        Number of NaN or infinite gradient values.
    trainable : bool
        ``requires_grad`` of the parameter (False for plain state-dict tensors).
    """

    name: str
    shape: tuple[int, ...]
    numel: int
    zero_fraction: float
    zero_at_init: int
    norm: float
    abs_max: float
    min: float
    max: float
    nonfinite: int
    rel_change: float | None = None
    unchanged: bool | None = None
    grad_norm: float | None = None
    grad_nonfinite: int = 0
    trainable: bool = False


def tensor_stat(
    name: str,
    tensor: torch.Tensor,
    *,
    zero_ok: torch.Tensor | bool = False,
    reference: torch.Tensor | None = None,
    grad: torch.Tensor | None = None,
    trainable: bool = False,
) -> LayerStat:
    """Compute the :class:`LayerStat` of one tensor.

    Parameters
    ----------
    name : str
    tensor : Tensor
        Any shape; integer tensors are converted to float.
    zero_ok : bool or bool Tensor broadcastable to ``tensor.shape``
        Elements that are legitimately zero at initialization (True: all of them).
    reference : Tensor, optional
        Initial copy for ``rel_change`` and ``unchanged``.
    grad : Tensor, optional
        Gradient of the tensor.
    trainable : bool
    """
    t = tensor.detach()
    numel = t.numel()
    values = t.double() if t.is_floating_point() else t.to(torch.float64)
    if isinstance(zero_ok, bool):
        mask = torch.full(t.shape, zero_ok, dtype=torch.bool, device=t.device)
    else:
        mask = zero_ok.to(device=t.device, dtype=torch.bool).expand(t.shape)
    counted = numel - int(mask.sum())
    zeros = int(((values == 0) & ~mask).sum())
    finite = torch.isfinite(values)
    rel_change: float | None = None
    unchanged: bool | None = None
    if reference is not None:
        ref = reference.detach().to(device=t.device)
        unchanged = bool(torch.equal(t, ref))
        ref_norm = float(ref.double().norm())
        rel_change = float((values - ref.double()).norm()) / max(ref_norm, 1e-12)
    grad_norm: float | None = None
    grad_nonfinite = 0
    if grad is not None:
        g = grad.detach().double()
        grad_norm = float(g.norm())
        grad_nonfinite = int((~torch.isfinite(g)).sum())
    return LayerStat(
        name=name,
        shape=tuple(t.shape),
        numel=numel,
        zero_fraction=zeros / counted if counted else 0.0,
        zero_at_init=numel - counted,
        norm=float(values.norm()) if numel else 0.0,
        abs_max=float(values.abs().max()) if numel else 0.0,
        min=float(values.min()) if numel else 0.0,
        max=float(values.max()) if numel else 0.0,
        nonfinite=int(numel - int(finite.sum())),
        rel_change=rel_change,
        unchanged=unchanged,
        grad_norm=grad_norm,
        grad_nonfinite=grad_nonfinite,
        trainable=trainable,
    )


def layer_stats(
    module: nn.Module,
    *,
    prefix: str = "",
    references: Mapping[str, torch.Tensor] | None = None,
) -> list[LayerStat]:
    """Per-parameter statistics of a module.

    Parameters
    ----------
    module : nn.Module
    prefix : str
        Prepended to parameter names (``"actor."``).
    references : mapping, optional
        Reference copies by full (prefixed) name for ``rel_change`` / ``unchanged``.

    Returns
    -------
    list of LayerStat
        One per parameter tensor, in ``named_parameters`` order.
    """
    masks = zero_at_init_masks(module)
    refs = references or {}
    out = []
    for name, p in module.named_parameters():
        full = prefix + name
        out.append(tensor_stat(
            full, p, zero_ok=masks.get(id(p), False), reference=refs.get(full),
            grad=p.grad, trainable=p.requires_grad,
        ))
    return out

