"""Train, register, gate: the one flow behind ``sacfolio train``, the demo and the API's jobs.

``full`` trains from scratch on everything up to the cutoff. ``finetune`` loads the
current version and continues on the most recent weeks, producing a child version
whose metadata names its parent. Either way the new version goes through the
promotion gate: it is evaluated beside the current version on the same window and
promoted only if its CAGR is higher and its weights are healthy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np

from sacfolio.agents.aux import validate_aux
from sacfolio.agents.config import SACConfig
from sacfolio.data.panel import MarketPanel
from sacfolio.env.config import EnvConfig
from sacfolio.evaluate.results import Fold
from sacfolio.evaluate.walkforward import backtest_model
from sacfolio.exceptions import EvaluationWindowError, ModelNotFoundError
from sacfolio.inspect import inspect_state_dicts
from sacfolio.registry.artifacts import ModelArtifacts, environment_metadata
from sacfolio.registry.gate import GateEvaluation, GateWindow, PromotionDecision, PromotionGate
from sacfolio.registry.registry import Registry
from sacfolio.registry.sac_model import from_artifacts, to_artifacts
from sacfolio.train.callbacks import Callback, Learner
from sacfolio.train.pipeline import PORTFOLIO_SAC, FeatureSources, TrainedModel, train_model, training_rows_until

__all__ = ["MODEL_VARIANTS", "TrainOutcome", "gate_window", "gate_evaluator", "health_problems",
           "train_and_register", "register_model"]

MODEL_VARIANTS: dict[str, str] = {"sac_lstm": "sac_lstm", "sac_patchtst": "sac_patchtst",
                                   "sac_price": "sac_price"}
"""Registry model name -> state variant it trains (seed 001's names)."""

Mode = Literal["full", "finetune"]


@dataclass(frozen=True, kw_only=True)
class TrainOutcome:
    """A registered version and the gate's decision about it."""

    version: str
    decision: PromotionDecision
    model: TrainedModel


def variant_of(name: str) -> str:
    """The state variant of model ``name``; unknown names are a ModelNotFoundError."""
    if name not in MODEL_VARIANTS:
        raise ModelNotFoundError(f"unknown model {name!r}; available: {sorted(MODEL_VARIANTS)}")
    return MODEL_VARIANTS[name]


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
        model = from_artifacts(artifacts)
        return GateEvaluation(weekly_returns=backtest_model(model, panel, window).returns)

    return evaluate


def gate_health(panel: MarketPanel, window: Fold) -> Callable[[ModelArtifacts], list[str]]:
    """:func:`health_problems` plus, for models with aux heads, seed 003's validation of
    their predictions on the gate window's states (non-zero, finite, within +-1, varying)."""

    def check(artifacts: ModelArtifacts) -> list[str]:
        problems = health_problems(artifacts)
        model = from_artifacts(artifacts)
        if model.sac_config.aux:
            core = model.core(panel)
            n = len(model.symbols)
            weights = np.full(n + 1, (1.0 - model.env_config.cash_floor) / n)
            weights[-1] = model.env_config.cash_floor
            obs = np.stack([core.observation_at(t, weights) for t in range(window.test_start, window.test_stop)])
            problems += [f"aux heads: {p}" for p in validate_aux(model.learner.predict_aux, obs)]
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


class _ProgressCallback(Callback):
    """Reports (updates done, total updates) every ``every`` updates."""

    def __init__(self, report: Callable[[int, int], None], every: int = 100) -> None:
        self.report, self.every, self.total = report, every, 0

    def on_training_start(self, learner: Learner, total_updates: int) -> None:
        self.total = total_updates
        self.report(0, total_updates)

    def on_update(self, learner: Learner, update: int, metrics: Mapping[str, float]) -> bool:
        if update % self.every == 0:
            self.report(update, self.total)
        return True


def register_model(
    model: TrainedModel,
    *,
    name: str,
    registry: Registry,
    panel: MarketPanel,
    window: Fold,
    metadata: Mapping[str, Any],
    parent: str | None = None,
    gate: PromotionGate = PromotionGate(),
    force_reason: str | None = None,
) -> tuple[str, PromotionDecision]:
    """Save ``model`` as a new version of ``name`` and run the promotion gate on ``window``."""
    window_dates = (str(panel.dates[window.test_start]), str(panel.dates[window.test_stop]))
    overlap = max(0, int(min(window.test_stop, panel.index_of(model.train_window[1])) - window.test_start))
    meta = {
        **environment_metadata(),
        **metadata,
        "data": {"source": panel.source, "start": str(panel.dates[0]), "end": str(panel.dates[-1])},
        "gate_window": list(window_dates),
        "gate_window_weeks_seen_in_training": overlap,
        "health": model.train_result.health if model.train_result else metadata.get("health", {}),
    }
    version = registry.save(name, to_artifacts(model, metadata=meta), parent=parent)
    description = f"{window.test_stop - window.test_start} weeks, deterministic policy backtest"
    if overlap:
        description += f" (candidate trained on {overlap} of these weeks: in-sample for it)"
    decision = gate.decide(
        registry, name, version,
        evaluate=gate_evaluator(panel, window),
        window=GateWindow(start=window_dates[0], end=window_dates[1], description=description),
        health=gate_health(panel, window), force_reason=force_reason,
    )
    return version, decision


def train_and_register(
    *,
    name: str,
    mode: Mode,
    panel: MarketPanel,
    registry: Registry,
    steps: int,
    seed: int,
    until: str | None = None,
    finetune_weeks: int = 26,
    finetune_lr: float | None = None,
    gate_weeks: int = 104,
    min_confidence: float = 0.0,
    force_reason: str | None = None,
    sources: FeatureSources = FeatureSources(),
    env_config: EnvConfig = EnvConfig(),
    sac_config: SACConfig = PORTFOLIO_SAC,
    progress: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    callbacks: Sequence[Callback] = (),
) -> TrainOutcome:
    """Train model ``name`` (``full`` or ``finetune``), save it as a version, run the gate.

    Parameters
    ----------
    until : str, optional
        Last date of data the training may use (default: all of ``panel``).
    finetune_weeks : int
        ``finetune``: train only on this many most recent weeks before ``until``.
    finetune_lr : float, optional
        ``finetune``: learning rate of actor, critic and alpha (default: the config's).
    gate_weeks : int
        Length of the gate window, ending at the last row of ``panel``.
    on_progress : callable, optional
        ``on_progress(updates_done, total_updates)`` every 100 updates (API jobs).
    """
    variant = variant_of(name)
    stop = training_rows_until(panel, until)
    cbs = list(callbacks)
    if on_progress is not None:
        cbs.append(_ProgressCallback(on_progress))
    parent: str | None = None
    if mode == "full":
        model = train_model(panel, train_stop=stop, variant=variant, env_config=env_config,
                            sac_config=sac_config, steps=steps, seed=seed, callbacks=cbs,
                            sources=sources, progress=progress, description=f"{name} full")
    elif mode == "finetune":
        parent = registry.current(name)
        if parent is None:
            raise ModelNotFoundError(f"model {name!r} has no current version to finetune; "
                                     f"train it with mode 'full' first")
        base = from_artifacts(registry.load(name, parent))
        if base.symbols != panel.symbols:
            from sacfolio.exceptions import LayoutMismatchError

            raise LayoutMismatchError(f"version {parent} was trained on {list(base.symbols)}, the data "
                                      f"has {list(panel.symbols)}")
        weeks = int(finetune_weeks)
        if weeks < 4 or stop - weeks < 0:
            raise EvaluationWindowError(f"finetune window of {weeks} weeks before {panel.dates[stop]} "
                                        "does not fit in the data; use at least 4 weeks")
        cfg = base.sac_config
        if finetune_lr is not None:
            cfg = dataclasses.replace(cfg, actor_lr=finetune_lr, critic_lr=finetune_lr, alpha_lr=finetune_lr)
        env_cfg = dataclasses.replace(base.env_config,
                                      episode_length=min(base.env_config.episode_length, weeks))
        model = train_model(panel, train_start=stop - weeks, train_stop=stop, variant=variant,
                            env_config=env_cfg, sac_config=cfg, steps=steps, seed=seed, init=base,
                            scaler=base.scaler, sources=base.sources, callbacks=cbs, progress=progress,
                            description=f"{name} finetune")
        model = dataclasses.replace(model, env_config=base.env_config)
    else:
        from sacfolio.exceptions import ConfigError

        raise ConfigError(f"mode must be 'full' or 'finetune', got {mode!r}")
    tr = model.train_result
    metadata = {
        "training": {"mode": mode, "steps": steps, "seed": seed, "until": str(panel.dates[stop]),
                     "finetune_weeks": finetune_weeks if mode == "finetune" else None,
                     "updates": tr.n_updates if tr else 0,
                     "seconds": round(tr.wall_seconds, 1) if tr else 0.0},
        "seed": seed,
    }
    version, decision = register_model(
        model, name=name, registry=registry, panel=panel, window=gate_window(panel, gate_weeks),
        metadata=metadata, parent=parent, gate=PromotionGate(min_confidence=min_confidence, seed=seed),
        force_reason=force_reason)
    return TrainOutcome(version=version, decision=decision, model=model)


def panel_for(source: str) -> MarketPanel:
    """Reload the data a version was trained on, from its recorded ``data.source``."""
    from sacfolio.data import load_prices, load_sp500_sample

    return load_sp500_sample() if source == "embedded:sp500" else load_prices(source)


def default_gate_setup(registry: Registry, name: str, *, weeks: int = 104):
    """The gate for ``sacfolio registry promote``: the last ``weeks`` of the current
    version's data, evaluated like :func:`train_and_register` does."""
    from sacfolio.registry.cli import GateSetup

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
