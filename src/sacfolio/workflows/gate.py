"""How a version is scored for the promotion gate: a backtest of its deterministic
policy over a window (marked in-sample where the model trained on it; the honest score
is :class:`~sacfolio.workflows.procedures.WalkForwardEvidence`), the static fallback's
score a first version must beat, and the health checks that keep a broken model from
serving (no training updates, layers never changed, non-finite or dead weights).

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
from sacfolio.broker.rules import PortfolioRules
from sacfolio.evaluate.backtest import backtest_strategy
from sacfolio.strategies.simple import EqualWeight
from sacfolio.workflows.artifacts import bundle_from_artifacts
from sacfolio.workflows.procedures import WalkForwardEvidence, in_sample_weeks

__all__ = ["gate_window", "gate_evaluator", "gate_health", "health_problems", "default_gate_setup",
           "panel_for", "static_fallback_evaluation"]


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
    """Backtest a version's deterministic policy over ``window`` (same code as walk-forward),
    recording how many of its weeks the version trained on (in-sample evidence)."""

    def evaluate(artifacts: ModelArtifacts) -> GateEvaluation:
        bundle = bundle_from_artifacts(artifacts)
        return GateEvaluation(weekly_returns=backtest_model(bundle, panel, window).returns,
                              in_sample_weeks=in_sample_weeks(bundle.train_window[1], panel, window))

    return evaluate


def static_fallback_evaluation(panel: MarketPanel, window: Fold, rules: PortfolioRules) -> GateEvaluation:
    """The static fallback (1/N within ``rules``, rebalanced weekly) on ``window``."""
    return GateEvaluation(weekly_returns=backtest_strategy(panel, EqualWeight(panel, rules), window, rules).returns)

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
    training = artifacts.metadata.get("training") or {}
    if training.get("updates") == 0:
        problems.append(f"training made no updates ({training.get('steps')} steps, all within the "
                        "warm-up): the weights are their initial values")
    health = artifacts.metadata.get("health") or {}
    frozen = sorted({str(f.get("tensor")) for f in health.get("findings", []) if f.get("kind") == "never_changed"})
    if frozen:
        problems.append(f"layers never changed from their initial values: {', '.join(frozen[:5])}")
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
    version's data, evaluated like :func:`~sacfolio.workflows.registration.train_and_register` does
    (a meta-controller's: :func:`~sacfolio.workflows.meta_gate.meta_gate_setup`)."""
    from sacfolio.workflows.meta_gate import is_meta_version, meta_gate_setup

    ref = registry.current(name) or registry.resolve(name, "latest")
    if is_meta_version(registry, name, ref):
        return meta_gate_setup(registry, name)
    source = (registry.metadata(name, ref).get("data") or {}).get("source", "embedded:sp500")
    panel = panel_for(source)
    window = gate_window(panel, weeks)
    rules = bundle_from_artifacts(registry.load(name, ref)).env_config.rules
    return GateSetup(
        evaluate=WalkForwardEvidence(registry, name, panel, window).evaluate,
        health=gate_health(panel, window),
        baseline=static_fallback_evaluation(panel, window, rules),
        window=GateWindow(start=str(panel.dates[window.test_start]), end=str(panel.dates[window.test_stop]),
                          description=f"last {weeks} weeks of {source}, walk-forward: each version's "
                                      "training procedure refit on the weeks before the window"),
    )
