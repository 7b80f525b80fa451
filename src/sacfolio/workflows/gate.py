"""How a version is scored for the promotion gate: a backtest of its deterministic
policy over a window, plus the health checks that keep a broken model from serving.

The registry's :class:`~sacfolio.registry.gate.PromotionGate` only compares the
returns these functions produce; it knows nothing of learners or features.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from sacfolio.agents.aux import validate_aux
from sacfolio.broker.targets import equal_weights
from sacfolio.data.panel import MarketPanel
from sacfolio.diagnostics.checkpoint import inspect_state_dicts
from sacfolio.evaluate.results import Fold
from sacfolio.evaluate.walkforward import backtest_model
from sacfolio.exceptions import EvaluationWindowError
from sacfolio.registry.artifacts import ModelArtifacts
from sacfolio.registry.decision import GateEvaluation, GateWindow
from sacfolio.registry.gate import GateSetup
from sacfolio.registry.registry import Registry
from sacfolio.workflows.artifacts import bundle_from_artifacts

__all__ = ["gate_window", "gate_evaluator", "gate_health", "health_problems", "default_gate_setup",
           "panel_for"]


def gate_window(panel: MarketPanel, weeks: int = 104, *, stop: int | None = None) -> Fold:
    """The last ``weeks`` periods before row ``stop`` (default: the last row) as a test span."""
    stop = panel.n_dates - 1 if stop is None else int(stop)
    start = stop - int(weeks)
    if weeks < 8 or start < 1:
        raise EvaluationWindowError(
            f"a gate window of {weeks} weeks ending {panel.dates[stop]} does not fit in the data "
            f"({panel.dates[0]}..{panel.dates[-1]}); use at least 8 weeks and enough history")
    return Fold(label="gate", train_start=0, train_stop=start, test_start=start, test_stop=stop)


def gate_evaluator(panel: MarketPanel, window: Fold) -> Callable[[ModelArtifacts], GateEvaluation]:
    """Backtest a version's deterministic policy over ``window`` (same code as walk-forward)."""

    def evaluate(artifacts: ModelArtifacts) -> GateEvaluation:
        bundle = bundle_from_artifacts(artifacts)
        return GateEvaluation(weekly_returns=backtest_model(bundle, panel, window).returns)

    return evaluate


def gate_health(panel: MarketPanel, window: Fold) -> Callable[[ModelArtifacts], list[str]]:
    """:func:`health_problems` plus, for models with aux heads, a check of their
    predictions on the gate window's states (non-zero, finite, within +-1, varying)."""

    def check(artifacts: ModelArtifacts) -> list[str]:
        problems = health_problems(artifacts)
        bundle = bundle_from_artifacts(artifacts)
        if bundle.has_aux:
            core = bundle.core(panel)
            weights = equal_weights(np.ones(len(bundle.symbols), dtype=bool), bundle.env_config.rules)
            obs = np.stack([core.observation_at(t, weights) for t in range(window.test_start, window.test_stop)])
            problems += [f"aux heads: {p}" for p in validate_aux(bundle.predict_aux, obs)]
        return problems

    return check


def health_problems(artifacts: ModelArtifacts) -> list[str]:
    """Why a version must not serve: non-finite or dead weights, or a critical training report."""
    report = inspect_state_dicts(artifacts.tensors, label=str(artifacts.version))
    problems = [f"{row.file}:{row.name} {' '.join(row.flags)}" for row in report.rows
                if row.severity == "critical"]
    health = artifacts.metadata.get("health") or {}
    if health.get("status") == "critical":
        problems.append("training health report is critical: " + "; ".join(
            str(f.get("tensor", "")) + " " + str(f.get("kind", "")) for f in health.get("findings", [])[:5]))
    return problems


def panel_for(source: str) -> MarketPanel:
    """Reload the data a version was trained on, from its recorded ``data.source``."""
    from sacfolio.data import load_prices, load_sp500_sample

    return load_sp500_sample() if source == "embedded:sp500" else load_prices(source)


def default_gate_setup(registry: Registry, name: str, *, weeks: int = 104) -> GateSetup:
    """The gate for ``sacfolio registry promote``: the last ``weeks`` of the current
    version's data, evaluated like :func:`~sacfolio.workflows.registration.train_and_register` does."""
    ref = registry.current(name) or registry.resolve(name, "latest")
    source = (registry.metadata(name, ref).get("data") or {}).get("source", "embedded:sp500")
    panel = panel_for(source)
    window = gate_window(panel, weeks)
    return GateSetup(
        evaluate=gate_evaluator(panel, window),
        health=gate_health(panel, window),
        window=GateWindow(start=str(panel.dates[window.test_start]), end=str(panel.dates[window.test_stop]),
                          description=f"last {weeks} weeks of {source}, deterministic policy backtest"),
    )
