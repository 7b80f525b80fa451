"""Training health guard: dead, zeroed, exploding or never-trained weights and NaN losses.

Three failures of earlier systems went unnoticed for weeks: biases that had all gone
to exactly zero after training with a learning rate of 5e-3 (seed 004), auxiliary
heads whose loss was disabled so they kept their initial weights (seed 003), and
non-finite losses. :class:`HealthMonitor` is a trainer callback that looks for all
of them every ``HealthConfig.every`` updates (and at once when a loss is non-finite),
records a JSON-able :class:`HealthReport`, and then warns, stops or repairs.

Thresholds follow seed 004: a layer with more than 10 % exact zeros is a warning,
more than 30 % is critical, more than 50 % is dead; a gradient norm above 10 is an
alert. Parameters that are legitimately zero at initialization (normalization-layer
biases, attention projection biases, ``padding_idx`` rows of embeddings) are found by
module type and never counted as zeros.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping, NamedTuple

import torch
from torch import nn

from sacfolio.exceptions import ConfigError, TrainingHealthError
from sacfolio.train.callbacks import Callback, Learner

if TYPE_CHECKING:  # pragma: no cover
    from torch.utils.tensorboard import SummaryWriter

__all__ = [
    "Finding",
    "HealthConfig",
    "HealthMonitor",
    "HealthReport",
    "InitRule",
    "LayerStat",
    "init_values",
    "layer_stats",
    "module_init_rule",
    "tensor_findings",
    "tensor_stat",
    "zero_at_init_masks",
]

logger = logging.getLogger(__name__)

Severity = Literal["warn", "critical"]
Policy = Literal["warn", "stop", "repair"]
_STATUS_RANK = {"ok": 0, "warn": 1, "critical": 2}
#: Finding kinds that re-initializing the tensor can cure.
REPAIRABLE_KINDS = frozenset({"nonfinite", "dead", "zeros", "exploding"})
#: Normalization layers whose bias is zero (and weight one) at initialization.
_NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._NormBase,
)
_RNN_TYPES: tuple[type[nn.Module], ...] = (nn.RNNBase, nn.RNNCellBase)
_LAYER_TYPES: tuple[type[nn.Module], ...] = (
    nn.Linear, nn.Bilinear, nn.modules.conv._ConvNd, *_RNN_TYPES, *_NORM_TYPES,
    nn.Embedding, nn.EmbeddingBag, nn.MultiheadAttention,
)


# --------------------------------------------------------------------------- config
@dataclass(frozen=True, kw_only=True)
class HealthConfig:
    """Thresholds and policy of the training health guard (defaults from seed 004).

    Attributes
    ----------
    every : int
        Check every this many gradient updates. Non-finite losses are checked at
        every update regardless.
    zero_warn : float
        Fraction of exact zeros in a tensor above which it is a warning.
    zero_critical : float
        Fraction of exact zeros above which it is critical.
    zero_stop : float
        Fraction of exact zeros above which the tensor is reported as dead
        (``inspect`` flags it ``DEAD``).
    grad_alert : float
        Gradient L2 norm of a module above which a warning is raised; a sign
        that weights are about to explode (seed 004).
    param_abs_max : float
        Largest absolute parameter value considered sane; beyond it the tensor
        is critical (``EXPLODING``).
    never_changed_after : int
        After this many updates, a trainable tensor still bit-identical to its
        initial value is critical: its loss never reaches it (seed 003).
    policy : {"warn", "stop", "repair"}
        ``"warn"`` records and logs only; ``"stop"`` (default) saves a diagnostic
        checkpoint and raises :class:`TrainingHealthError` on a critical finding
        and warns otherwise; ``"repair"`` re-initializes the tensors of critical
        findings that re-initialization can cure, resets their optimizer state,
        and stops like ``"stop"`` on the others (non-finite losses or gradients,
        never-changed tensors).
    seed : int
        Seed of the values drawn by ``"repair"``.
    """

    every: int = 1000
    zero_warn: float = 0.10
    zero_critical: float = 0.30
    zero_stop: float = 0.50
    grad_alert: float = 10.0
    param_abs_max: float = 100.0
    never_changed_after: int = 1000
    policy: Policy = "stop"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ConfigError(f"HealthConfig.every must be >= 1, got {self.every}.")
        if not 0.0 <= self.zero_warn <= self.zero_critical <= self.zero_stop <= 1.0:
            raise ConfigError(
                "HealthConfig needs 0 <= zero_warn <= zero_critical <= zero_stop <= 1, got "
                f"{self.zero_warn}, {self.zero_critical}, {self.zero_stop}."
            )
        for name in ("grad_alert", "param_abs_max"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ConfigError(f"HealthConfig.{name} must be a positive number, got {value}.")
        if self.never_changed_after < 1:
            raise ConfigError(
                f"HealthConfig.never_changed_after must be >= 1, got {self.never_changed_after}."
            )
        if self.policy not in ("warn", "stop", "repair"):
            raise ConfigError(
                f"HealthConfig.policy must be 'warn', 'stop' or 'repair', got {self.policy!r}."
            )


# ---------------------------------------------------------------------- statistics
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


# ------------------------------------------------------------------------ findings
@dataclass(frozen=True, kw_only=True)
class Finding:
    """One problem found in one tensor, module or metric.

    Attributes
    ----------
    tensor : str
        Parameter name, module name (``grad_norm``) or metric key (``nonfinite_loss``).
    kind : str
        ``nonfinite``, ``dead``, ``zeros``, ``exploding``, ``nonfinite_grad``,
        ``grad_norm``, ``never_changed`` or ``nonfinite_loss``.
    severity : {"warn", "critical"}
    value : float
        The measured value (a fraction, a norm, a count, or the update count).
    threshold : float
        The limit it crossed.
    """

    tensor: str
    kind: str
    severity: Severity
    value: float
    threshold: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (a non-finite ``value`` becomes ``"nan"`` / ``"inf"``)."""
        return {**asdict(self), "value": _json_float(self.value)}

    def describe(self) -> str:
        """One line for logs and progress displays."""
        return (f"{self.severity.upper()} {self.kind} in {self.tensor}: "
                f"{_fmt(self.value)} (limit {_fmt(self.threshold)})")


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def tensor_findings(stat: LayerStat, config: HealthConfig) -> list[Finding]:
    """Findings that follow from one tensor's statistics alone (no history).

    Non-finite values, dead / zero-heavy tensors, exploding values and non-finite
    gradients. ``inspect`` uses the same rules on saved checkpoints.
    """
    out: list[Finding] = []
    if stat.nonfinite:
        out.append(Finding(tensor=stat.name, kind="nonfinite", severity="critical",
                           value=float(stat.nonfinite), threshold=0.0))
    z = stat.zero_fraction
    if z > config.zero_stop:
        out.append(Finding(tensor=stat.name, kind="dead", severity="critical",
                           value=z, threshold=config.zero_stop))
    elif z > config.zero_critical:
        out.append(Finding(tensor=stat.name, kind="zeros", severity="critical",
                           value=z, threshold=config.zero_critical))
    elif z > config.zero_warn:
        out.append(Finding(tensor=stat.name, kind="zeros", severity="warn",
                           value=z, threshold=config.zero_warn))
    if math.isfinite(stat.abs_max) and stat.abs_max > config.param_abs_max:
        out.append(Finding(tensor=stat.name, kind="exploding", severity="critical",
                           value=stat.abs_max, threshold=config.param_abs_max))
    if stat.grad_nonfinite:
        out.append(Finding(tensor=stat.name, kind="nonfinite_grad", severity="critical",
                           value=float(stat.grad_nonfinite), threshold=0.0))
    return out


def _json_float(x: float) -> float | str:
    return x if math.isfinite(x) else str(x)


@dataclass(frozen=True, kw_only=True)
class HealthReport:
    """Result of one health check.

    Attributes
    ----------
    update : int
        Gradient update the check ran after.
    status : {"ok", "warn", "critical"}
        Worst severity among the findings.
    findings : tuple of Finding
    grad_norms : mapping of str to float
        Gradient L2 norm per module and ``"global"`` (modules without gradients
        are left out).
    max_zero_fraction : float
        Largest ``zero_fraction`` of any tensor.
    actions : tuple of str
        What the policy did (tensors repaired, checkpoint written).
    """

    update: int
    status: Literal["ok", "warn", "critical"]
    findings: tuple[Finding, ...] = ()
    grad_norms: Mapping[str, float] = field(default_factory=dict)
    max_zero_fraction: float = 0.0
    actions: tuple[str, ...] = ()

    @staticmethod
    def status_of(findings: tuple[Finding, ...] | list[Finding]
                  ) -> Literal["ok", "warn", "critical"]:
        """Worst severity of ``findings`` (``"ok"`` when empty)."""
        if any(f.severity == "critical" for f in findings):
            return "critical"
        return "warn" if findings else "ok"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (non-finite floats become the strings ``"nan"``/``"inf"``)."""
        return {
            "update": self.update,
            "status": self.status,
            "findings": [f.to_dict() for f in self.findings],
            "grad_norms": {k: _json_float(v) for k, v in self.grad_norms.items()},
            "max_zero_fraction": self.max_zero_fraction,
            "actions": list(self.actions),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "HealthReport":
        """Inverse of :meth:`to_dict` (e.g. read back from ``metadata.json``)."""
        return cls(
            update=int(data["update"]),
            status=data["status"],
            findings=tuple(
                Finding(**{**f, "value": float(f["value"])}) for f in data.get("findings", [])
            ),
            grad_norms={k: float(v) for k, v in data.get("grad_norms", {}).items()},
            max_zero_fraction=float(data.get("max_zero_fraction", 0.0)),
            actions=tuple(data.get("actions", ())),
        )

    def summary_line(self) -> str:
        """Short text for the progress display."""
        if not self.findings:
            return f"health ok at update {self.update}"
        worst = sorted(self.findings, key=lambda f: f.severity != "critical")[:3]
        more = len(self.findings) - len(worst)
        text = "; ".join(f.describe() for f in worst)
        return f"health {self.status} at update {self.update}: {text}" + (
            f" (+{more} more)" if more > 0 else "")


# ------------------------------------------------------------------------- repair
class InitRule(NamedTuple):
    """How to draw fresh values for one tensor (seed 004's re-initialization rules).

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


# ------------------------------------------------------------------------ monitor
class HealthMonitor(Callback):
    """Trainer callback that checks weights, gradients and losses and applies a policy.

    Parameters
    ----------
    config : HealthConfig
    diagnostic_dir : Path, optional
        Where the ``"stop"`` policy writes the diagnostic checkpoint
        (``<dir>/health-stop-update-<n>/<module>.pt`` state dicts and
        ``health_report.json``). None: no checkpoint is written.
    writer : SummaryWriter, optional
        TensorBoard writer; scalars go under ``health/``.

    Attributes
    ----------
    reports : list of HealthReport
        Every check, in order; ``summary()`` condenses them for ``metadata.json``.
    last_report : HealthReport or None
    diagnostic_checkpoint : Path or None
        Set when the stop policy wrote one.

    Examples
    --------
    >>> monitor = HealthMonitor(HealthConfig(every=500, policy="repair"))  # doctest: +SKIP
    >>> trainer.fit(callbacks=[monitor]); metadata["health"] = monitor.summary()  # doctest: +SKIP
    """

    def __init__(
        self,
        config: HealthConfig | None = None,
        *,
        diagnostic_dir: Path | str | None = None,
        writer: "SummaryWriter | None" = None,
    ) -> None:
        self.config = config or HealthConfig()
        self.diagnostic_dir = Path(diagnostic_dir) if diagnostic_dir is not None else None
        self.writer = writer
        self.reports: list[HealthReport] = []
        self.diagnostic_checkpoint: Path | None = None
        self._references: dict[str, torch.Tensor] = {}
        self._generator = torch.Generator().manual_seed(self.config.seed)
        self._last_update = 0
        self._last_checked = -1

    @property
    def last_report(self) -> HealthReport | None:
        """The most recent report, or None before the first check."""
        return self.reports[-1] if self.reports else None

    # ------------------------------------------------------------------ hooks
    def on_training_start(self, learner: Learner, total_updates: int) -> None:
        """Take the reference copy of every parameter (the initialization)."""
        self._references = {
            f"{mname}.{pname}": p.detach().clone()
            for mname, module in learner.modules().items()
            for pname, p in module.named_parameters()
        }

    def on_update(self, learner: Learner, update: int, metrics: Mapping[str, Any]) -> bool:
        """Check every ``config.every`` updates, or now when a metric is non-finite."""
        self._last_update = update
        bad = _nonfinite_metrics(metrics)
        if bad or update % self.config.every == 0:
            report = self.check(learner, update, metrics)
            self._apply_policy(learner, report)
        return True

    def on_training_end(self, learner: Learner) -> None:
        """Record a final report (no policy action) if the last update was not checked."""
        if self._last_update > 0 and self._last_checked != self._last_update:
            self.check(learner, self._last_update, {})

    # ------------------------------------------------------------------ checks
    def check(self, learner: Learner, update: int, metrics: Mapping[str, Any] | None = None
              ) -> HealthReport:
        """Run all checks now, record and return the report; applies no policy."""
        cfg = self.config
        findings: list[Finding] = [  # losses first: the most readable symptom
            Finding(tensor=key, kind="nonfinite_loss", severity="critical", value=value,
                    threshold=0.0)
            for key, value in _nonfinite_metrics(metrics or {})
        ]
        grad_sq: dict[str, float] = {}
        max_zero = 0.0
        for mname, module in learner.modules().items():
            for stat in layer_stats(module, prefix=f"{mname}.", references=self._references):
                findings.extend(tensor_findings(stat, cfg))
                max_zero = max(max_zero, stat.zero_fraction)
                if stat.grad_norm is not None:
                    grad_sq[mname] = grad_sq.get(mname, 0.0) + stat.grad_norm ** 2
                if (stat.trainable and stat.unchanged and update >= cfg.never_changed_after):
                    findings.append(Finding(
                        tensor=stat.name, kind="never_changed", severity="critical",
                        value=float(update), threshold=float(cfg.never_changed_after)))
        grad_norms = {m: math.sqrt(s) for m, s in grad_sq.items()}
        if grad_sq:
            grad_norms["global"] = math.sqrt(sum(grad_sq.values()))
        for mname, norm in grad_norms.items():
            if mname != "global" and not norm <= cfg.grad_alert:
                findings.append(Finding(tensor=mname, kind="grad_norm", severity="warn",
                                        value=norm, threshold=cfg.grad_alert))
        report = HealthReport(update=update, status=HealthReport.status_of(findings),
                              findings=tuple(findings), grad_norms=grad_norms,
                              max_zero_fraction=max_zero)
        self._record(report)
        self._last_checked = update
        return report

    def summary(self) -> dict[str, Any]:
        """JSON-able digest for ``metadata.json``: worst status, distinct findings, actions."""
        worst = max((r.status for r in self.reports), key=_STATUS_RANK.__getitem__, default="ok")
        distinct: dict[tuple[str, str], Finding] = {}
        for r in self.reports:
            for f in r.findings:
                distinct.setdefault((f.tensor, f.kind), f)
        return {
            "status": worst,
            "checks": len(self.reports),
            "findings": [f.to_dict() for f in distinct.values()],
            "actions": [a for r in self.reports for a in r.actions],
            "last": self.last_report.to_dict() if self.last_report else None,
            "diagnostic_checkpoint": str(self.diagnostic_checkpoint)
            if self.diagnostic_checkpoint else None,
        }

    # ------------------------------------------------------------------ policy
    def _apply_policy(self, learner: Learner, report: HealthReport) -> None:
        cfg = self.config
        for f in report.findings:
            logger.log(logging.ERROR if f.severity == "critical" else logging.WARNING,
                       "update %d: %s", report.update, f.describe())
        critical = [f for f in report.findings if f.severity == "critical"]
        if not critical or cfg.policy == "warn":
            return
        if cfg.policy == "repair":
            repairable = [f for f in critical if f.kind in REPAIRABLE_KINDS]
            rest = [f for f in critical if f.kind not in REPAIRABLE_KINDS]
            if repairable:
                actions = self.repair(learner, sorted({f.tensor for f in repairable}))
                report = self._replace_last(report, actions)
            if not rest:
                return
            critical = rest
        self._stop(learner, report, critical)

    def repair(self, learner: Learner, tensors: list[str]) -> list[str]:
        """Re-initialize the named parameters and reset their optimizer state.

        Parameters
        ----------
        learner : Learner
        tensors : list of str
            Full names (``"actor.net.0.bias"``).

        Returns
        -------
        list of str
            One line per repaired tensor, also logged.
        """
        wanted = set(tensors)
        repaired: dict[int, str] = {}
        actions: list[str] = []
        for mname, module in learner.modules().items():
            for sub_name, sub in module.named_modules():
                for local, p in sub.named_parameters(recurse=False):
                    full = ".".join(x for x in (mname, sub_name, local) if x)
                    if full not in wanted:
                        continue
                    rule = module_init_rule(sub, local, tuple(p.shape))
                    with torch.no_grad():
                        p.copy_(init_values(rule, tuple(p.shape), self._generator))
                    self._references[full] = p.detach().clone()
                    repaired[id(p)] = full
                    actions.append(f"repaired {full} ({type(sub).__name__}, {rule.kind})")
        for oname, opt in learner.optimizers().items():
            for p in [p for p in list(opt.state) if id(p) in repaired]:
                del opt.state[p]
                actions.append(f"reset {oname} optimizer state of {repaired[id(p)]}")
        for a in actions:
            logger.warning(a)
        return actions

    def _stop(self, learner: Learner, report: HealthReport, critical: list[Finding]) -> None:
        where = ""
        if self.diagnostic_dir is not None:
            path = self._save_diagnostic(learner, report)
            self.diagnostic_checkpoint = path
            report = self._replace_last(report, [f"diagnostic checkpoint written to {path}"])
            where = f" Diagnostic checkpoint: {path} (run `sacfolio inspect {path}`)."
        worst = "; ".join(f.describe() for f in critical[:5])
        more = f" (+{len(critical) - 5} more)" if len(critical) > 5 else ""
        raise TrainingHealthError(
            f"Training stopped at update {report.update}: {worst}{more}.{where} "
            "Fix: lower the learning rate (SAC: 1e-5..3e-4), keep gradient-norm clipping at "
            "1.0, or rerun with the 'repair' health policy; a never-changed tensor means its "
            "loss is disabled or detached."
        )

    def _save_diagnostic(self, learner: Learner, report: HealthReport) -> Path:
        assert self.diagnostic_dir is not None
        self.diagnostic_dir.mkdir(parents=True, exist_ok=True)
        final = self.diagnostic_dir / f"health-stop-update-{report.update:08d}"
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-health-", dir=self.diagnostic_dir))
        try:
            for mname, module in learner.modules().items():
                state = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
                torch.save(state, tmp / f"{mname}.pt")
            (tmp / "health_report.json").write_text(json.dumps(report.to_dict(), indent=2))
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def _record(self, report: HealthReport) -> None:
        self.reports.append(report)
        if self.writer is None:
            return
        step = report.update
        self.writer.add_scalar("health/status", _STATUS_RANK[report.status], step)
        self.writer.add_scalar("health/findings", len(report.findings), step)
        self.writer.add_scalar("health/max_zero_fraction", report.max_zero_fraction, step)
        for name, norm in report.grad_norms.items():
            self.writer.add_scalar(f"health/grad_norm/{name}", norm, step)

    def _replace_last(self, report: HealthReport, actions: list[str]) -> HealthReport:
        new = HealthReport(update=report.update, status=report.status, findings=report.findings,
                           grad_norms=report.grad_norms,
                           max_zero_fraction=report.max_zero_fraction,
                           actions=report.actions + tuple(actions))
        if self.reports and self.reports[-1] is report:
            self.reports[-1] = new
        return new


def _nonfinite_metrics(metrics: Mapping[str, Any]) -> list[tuple[str, float]]:
    """``(key, value)`` of every scalar metric that is NaN or infinite."""
    out = []
    for key, value in metrics.items():
        try:
            x = float(value)
        except (TypeError, ValueError, RuntimeError):  # non-scalar metrics are not checked
            continue
        if not math.isfinite(x):
            out.append((key, x))
    return out
