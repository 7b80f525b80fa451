"""Thresholds, the rules that turn tensor statistics into findings, and the report.

Three failures of earlier systems went unnoticed for weeks: biases that had all
gone to exactly zero after training with a learning rate of 5e-3, auxiliary heads
whose loss was disabled so they kept their initial weights, and non-finite losses.
:class:`HealthConfig` holds the limits that catch them: a tensor with more than
10 % exact zeros is a warning, more than 30 % is critical, more than 50 % is dead;
a gradient norm above 10 is an alert. :func:`tensor_findings` applies them to one
tensor's :class:`~sacfolio.diagnostics.stats.LayerStat`; a :class:`HealthReport`
collects the findings of one check in a JSON-able form.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Mapping

from sacfolio.diagnostics.stats import LayerStat
from sacfolio.exceptions import ConfigError

__all__ = [
    "Finding",
    "HealthConfig",
    "HealthReport",
    "Policy",
    "STATUS_RANK",
    "Severity",
    "json_safe_float",
    "tensor_findings",
]

Severity = Literal["warn", "critical"]
Policy = Literal["warn", "stop", "repair"]
#: Order of the statuses, ``"ok"`` best; also the value the monitor logs to TensorBoard.
STATUS_RANK = {"ok": 0, "warn": 1, "critical": 2}


# --------------------------------------------------------------------------- config
@dataclass(frozen=True, kw_only=True)
class HealthConfig:
    """Thresholds and policy of the training health guard.

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
        that weights are about to explode.
    param_abs_max : float
        Largest absolute parameter value considered sane; beyond it the tensor
        is critical (``EXPLODING``).
    never_changed_after : int
        After this many updates, a trainable tensor still bit-identical to its
        initial value is critical: its loss never reaches it (a disabled or detached loss).
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
        return {**asdict(self), "value": json_safe_float(self.value)}

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


def json_safe_float(x: float) -> float | str:
    """``x`` itself when finite, else ``"nan"`` / ``"inf"`` / ``"-inf"`` (strict JSON has no NaN)."""
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
            "grad_norms": {k: json_safe_float(v) for k, v in self.grad_norms.items()},
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

