"""What a parameter looks like at initialization, and how to draw it afresh.

Two questions about every layer kind, answered in one place:

- which values are zero by design at initialization (normalization-layer biases,
  attention projection biases, ``padding_idx`` rows of embeddings, free scalars such
  as a log-temperature), so that zero counts never flag them;
- how to re-initialize a tensor (:class:`InitRule`), decided from a live module's
  type (:func:`module_init_rule`) or, for a saved state dict, from the tensor's key
  and its siblings' shapes (:func:`infer_init_rule`).

The rules follow the post-mortem of biases that had collapsed to exactly zero
after training at a learning rate of 5e-3: recurrent forget-gate biases start at
1, other biases small and non-zero, weights at the layer's default fan-in range.
"""

from __future__ import annotations

import math
import re
from typing import Literal, Mapping, NamedTuple

import torch
from torch import nn

__all__ = [
    "InitRule",
    "infer_init_rule",
    "init_values",
    "module_init_rule",
    "zero_at_init_masks",
]

#: Normalization layers whose bias is zero (and weight one) at initialization.
_NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._NormBase,
)
_RNN_TYPES: tuple[type[nn.Module], ...] = (nn.RNNBase, nn.RNNCellBase)
_LAYER_TYPES: tuple[type[nn.Module], ...] = (
    nn.Linear, nn.Bilinear, nn.modules.conv._ConvNd, *_RNN_TYPES, *_NORM_TYPES,
    nn.Embedding, nn.EmbeddingBag, nn.MultiheadAttention,
)
#: Keys of recurrent-layer parameters: ``weight_ih_l0``, ``bias_hh_l1_reverse``, ...
_RNN_KEY = re.compile(r"^(weight|bias)_(ih|hh|hr)(_l(\d+))?(_reverse)?$")


# ------------------------------------------------------------------ zero by design
def zero_at_init_masks(module: nn.Module) -> dict[int, torch.Tensor | bool]:
    """Elements of ``module``'s parameters that are zero by design at initialization.

    Found by module type, never by name: biases of LayerNorm, GroupNorm and
    BatchNorm/InstanceNorm layers, the input and output projection biases of
    ``nn.MultiheadAttention``, and the ``padding_idx`` row of ``nn.Embedding`` /
    ``nn.EmbeddingBag``; also single-value parameters of modules that are not a
    known layer type (a free ``log_alpha`` of 0 means alpha = 1, not a dead unit).

    Returns
    -------
    dict
        ``id(parameter) -> True`` (whole tensor) or a bool mask of its shape.
    """
    masks: dict[int, torch.Tensor | bool] = {}
    for mod in module.modules():
        if isinstance(mod, _NORM_TYPES) and getattr(mod, "bias", None) is not None:
            masks[id(mod.bias)] = True
        elif isinstance(mod, nn.MultiheadAttention):
            if mod.in_proj_bias is not None:
                masks[id(mod.in_proj_bias)] = True
            if mod.out_proj.bias is not None:
                masks[id(mod.out_proj.bias)] = True
        elif isinstance(mod, (nn.Embedding, nn.EmbeddingBag)) and mod.padding_idx is not None:
            rows = torch.zeros(mod.weight.shape[0], 1, dtype=torch.bool)
            rows[mod.padding_idx] = True
            masks[id(mod.weight)] = rows
        elif not isinstance(mod, _LAYER_TYPES):
            for p in mod.parameters(recurse=False):
                if p.numel() == 1:
                    masks[id(p)] = True
    return masks


# ---------------------------------------------------------- re-initialization rules
class InitRule(NamedTuple):
    """How to draw fresh values for one tensor (the re-initialization rules).

    ``kind`` is one of:

    - ``"lstm_bias_ih"``: U(-0.01, 0.01) with the forget-gate quarter (gate order
      i, f, g, o; rows ``hidden .. 2*hidden``) set to 1;
    - ``"small_uniform"``: U(-0.01, 0.01) (GRU, RNN, LSTM hidden-hidden and Linear biases);
    - ``"zeros"`` / ``"ones"``: normalization biases / weights;
    - ``"fan_in_uniform"``: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (``nn.Linear`` and
      ``nn.Conv`` default, kaiming-uniform with a = sqrt(5); recurrent weights with
      ``fan_in`` = hidden size);
    - ``"xavier_uniform"``: attention input projections;
    - ``"normal"``: N(0, 1) embeddings with ``padding_idx`` row zeroed.
    """

    kind: Literal["lstm_bias_ih", "small_uniform", "zeros", "ones", "fan_in_uniform",
                  "xavier_uniform", "normal"]
    hidden: int = 0
    fan_in: int = 0
    padding_idx: int | None = None


def init_values(rule: InitRule, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Fresh float32 CPU values of ``shape`` drawn by ``rule`` from ``generator``."""
    out = torch.empty(shape, dtype=torch.float32)
    if rule.kind == "zeros":
        return out.zero_()
    if rule.kind == "ones":
        return out.fill_(1.0)
    if rule.kind in ("small_uniform", "lstm_bias_ih"):
        out.uniform_(-0.01, 0.01, generator=generator)
        if rule.kind == "lstm_bias_ih":
            h = rule.hidden
            out[..., h:2 * h] = 1.0
        return out
    if rule.kind == "fan_in_uniform":
        bound = 1.0 / math.sqrt(max(rule.fan_in, 1))
        return out.uniform_(-bound, bound, generator=generator)
    if rule.kind == "xavier_uniform":
        fan_out, fan_in = shape[0], int(math.prod(shape[1:]))
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        return out.uniform_(-bound, bound, generator=generator)
    if rule.kind == "normal":
        out.normal_(0.0, 1.0, generator=generator)
        if rule.padding_idx is not None:
            out[rule.padding_idx] = 0.0
        return out
    raise ValueError(f"unknown init rule {rule.kind!r}")  # internal invariant


def _fallback_rule(shape: tuple[int, ...]) -> InitRule:
    """Rule for a tensor whose module type is unknown: small biases, fan-in weights."""
    if len(shape) <= 1:
        return InitRule("small_uniform")
    return InitRule("fan_in_uniform", fan_in=shape[-1])


def module_init_rule(module: nn.Module, local_name: str, shape: tuple[int, ...]) -> InitRule:
    """The re-initialization rule of parameter ``local_name`` owned directly by ``module``.

    Decided by the module's type: LSTM (forget-gate bias 1), GRU/RNN, LayerNorm /
    GroupNorm / BatchNorm, Embedding, MultiheadAttention, Linear / Conv; any other
    module gets small uniform biases (1-D and scalars) and fan-in uniform weights.
    """
    is_bias = len(shape) <= 1
    if isinstance(module, _RNN_TYPES):
        hidden = int(module.hidden_size)
        if not is_bias:
            return InitRule("fan_in_uniform", fan_in=hidden)
        lstm = isinstance(module, (nn.LSTM, nn.LSTMCell))
        if lstm and local_name.startswith("bias_ih"):
            return InitRule("lstm_bias_ih", hidden=hidden)
        return InitRule("small_uniform")
    if isinstance(module, _NORM_TYPES):
        return InitRule("zeros" if local_name == "bias" else "ones")
    if isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
        return InitRule("normal", padding_idx=module.padding_idx)
    if isinstance(module, nn.MultiheadAttention):
        return InitRule("zeros") if is_bias else InitRule("xavier_uniform")
    if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)):
        if is_bias:
            return InitRule("small_uniform")
        return InitRule("fan_in_uniform", fan_in=int(math.prod(shape[1:])))
    return _fallback_rule(shape)


# ------------------------------------------------------- rules of saved state dicts
def _split(key: str) -> tuple[str, str]:
    prefix, _, last = key.rpartition(".")
    return prefix, last


def infer_init_rule(key: str, tensors: Mapping[str, torch.Tensor]
                    ) -> tuple[InitRule | None, bool]:
    """Layer kind of a raw state-dict tensor, from its name and its siblings' shapes.

    Parameters
    ----------
    key : str
        Dotted key, e.g. ``"encoder.lstm.bias_ih_l0"``.
    tensors : mapping of str to Tensor
        The whole (flattened) state dict of the same file.

    Returns
    -------
    rule : InitRule or None
        How to re-initialize it; None when the kind is unknown
        (scalars, free parameters such as ``log_std``).
    zero_by_design : bool
        True for tensors that are zero at initialization (normalization biases and
        running means, attention projection biases, single values of unknown kind
        such as a log-temperature).

    Notes
    -----
    - ``weight_hh_l{k}`` of shape (G*H, H) gives the gate count G: 4 is an LSTM,
      whose ``bias_ih`` gets forget-gate quarter 1; 3 a GRU; 1 a plain RNN.
    - A prefix with ``running_mean`` (BatchNorm) or with exactly a 1-D ``weight`` and
      ``bias`` of equal shape (LayerNorm, GroupNorm) is a normalization layer.
    - ``in_proj_bias`` and the ``out_proj.bias`` next to an ``in_proj_weight`` belong
      to multi-head attention.
    """
    t = tensors[key]
    shape = tuple(t.shape)
    prefix, last = _split(key)
    sib = {k.rpartition(".")[2]: v for k, v in tensors.items() if _split(k)[0] == prefix}
    m = _RNN_KEY.match(last)
    if m:
        suffix = (m.group(3) or "") + (m.group(5) or "")
        hh = sib.get(f"weight_hh{suffix}")
        hr = sib.get(f"weight_hr{suffix}")
        if hh is None or hh.ndim != 2:
            return _generic(shape, last), False
        hidden = int(hr.shape[1]) if hr is not None else int(hh.shape[1])
        gates = int(hh.shape[0]) // max(hidden, 1)
        if m.group(1) == "weight":
            return InitRule("fan_in_uniform", fan_in=hidden), False
        if gates == 4 and m.group(2) == "ih":
            return InitRule("lstm_bias_ih", hidden=hidden), False
        return InitRule("small_uniform"), False
    if "running_mean" in sib or (set(sib) <= {"weight", "bias"} and len(sib) == 2
                                 and sib["weight"].ndim == 1
                                 and sib["weight"].shape == sib["bias"].shape):
        if last in ("bias", "running_mean"):
            return InitRule("zeros"), True
        if last in ("weight", "running_var"):
            return InitRule("ones"), False
        return None, False
    if last == "in_proj_bias":
        return InitRule("zeros"), True
    if last == "in_proj_weight":
        return InitRule("xavier_uniform"), False
    parent_prefix, parent_last = _split(prefix)
    if (parent_last == "out_proj" and last == "bias"
            and (f"{parent_prefix}.in_proj_weight" if parent_prefix else "in_proj_weight")
            in tensors):
        return InitRule("zeros"), True
    rule = _generic(shape, last)
    # a lone value of unknown kind (SB3's log_ent_coef, log_alpha) is zero by design at init
    return rule, rule is None and t.numel() == 1


def _generic(shape: tuple[int, ...], last: str) -> InitRule | None:
    if len(shape) == 1 and last.startswith("bias"):
        return InitRule("small_uniform")
    if len(shape) >= 2 and last.startswith("weight"):
        return InitRule("fan_in_uniform", fan_in=math.prod(shape[1:]))
    return None
