"""Training health guard: a callback that watches weights, gradients and losses.

:class:`HealthMonitor` looks for dead, zeroed, exploding or never-trained weights
and non-finite losses every ``HealthConfig.every`` updates (and at once when a loss
is non-finite), records a JSON-able :class:`~sacfolio.diagnostics.findings.HealthReport`,
and then warns, stops (writing a diagnostic checkpoint) or repairs. The analysis
itself lives in :mod:`sacfolio.diagnostics`; this module decides when to run it and
what to do with the findings.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import torch

from sacfolio.diagnostics.findings import (STATUS_RANK, Finding, HealthConfig, HealthReport,
                                           tensor_findings)
from sacfolio.diagnostics.repair import REPAIRABLE_KINDS, repair_parameters
from sacfolio.diagnostics.stats import layer_stats
from sacfolio.exceptions import TrainingHealthError
from sacfolio.agents.learner import Learner
from sacfolio.train.callbacks import Callback

if TYPE_CHECKING:  # pragma: no cover
    from torch.utils.tensorboard import SummaryWriter

__all__ = ["HealthMonitor"]

logger = logging.getLogger(__name__)


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
        worst = max((r.status for r in self.reports), key=STATUS_RANK.__getitem__, default="ok")
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
        result = repair_parameters(learner.modules(), learner.optimizers(), tensors,
                                   self._generator)
        self._references.update(result.fresh)
        for a in result.actions:
            logger.warning(a)
        return result.actions

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
        self.writer.add_scalar("health/status", STATUS_RANK[report.status], step)
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
