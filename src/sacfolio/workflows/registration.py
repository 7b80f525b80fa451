"""Train, register, gate: the one flow behind ``sacfolio train``, the demo and the API's jobs.

``full`` trains from scratch on everything up to the cutoff. ``finetune`` loads the
current version and continues on the most recent weeks, producing a child version
whose metadata names its parent. Either way the new version goes through the
promotion gate: it is evaluated beside the current version on the same window and
promoted only if its CAGR is higher and its weights are healthy.

The scores are out of sample: each version's training procedure is refit on the
weeks before the gate window and backtested on it
(:class:`~sacfolio.workflows.procedures.WalkForwardEvidence`); a first version must
also beat the static fallback (constrained 1/N) there.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping, Sequence

from sacfolio.agents.config import SACConfig
from sacfolio.agents.learner import Learner
from sacfolio.data.panel import MarketPanel
from sacfolio.env.config import EnvConfig
from sacfolio.evaluate.results import Fold
from sacfolio.exceptions import ConfigError, LayoutMismatchError, ModelNotFoundError
from sacfolio.features.variants import VARIANTS, FeatureSources, variant_of_model
from sacfolio.registry.artifacts import environment_metadata
from sacfolio.registry.decision import GateWindow, PromotionDecision
from sacfolio.registry.gate import PromotionGate
from sacfolio.registry.registry import Registry
from sacfolio.train.callbacks import Callback
from sacfolio.train.portfolio import PORTFOLIO_SAC, TrainedModel, train_model, training_rows_until
from sacfolio.workflows.artifacts import to_artifacts, trained_from_artifacts
from sacfolio.workflows.executors import run_call
from sacfolio.workflows.gate import gate_health, gate_window, static_fallback_evaluation
from sacfolio.workflows.procedures import WalkForwardEvidence, finetune_model, in_sample_weeks

__all__ = ["TrainOutcome", "variant_of", "check_comparable", "train_and_register", "register_model"]

Mode = Literal["full", "finetune"]


@dataclass(frozen=True, kw_only=True)
class TrainOutcome:
    """A registered version and the gate's decision about it."""

    version: str
    decision: PromotionDecision
    model: TrainedModel


def variant_of(name: str) -> str:
    """The state variant of model ``name``; unknown names are a ModelNotFoundError."""
    variant = variant_of_model(name)
    if variant is None:
        raise ModelNotFoundError(f"unknown model {name!r}; a model's name is its variant ({', '.join(VARIANTS)}) "
                                 f"or <variant>_<tag>, e.g. sac_lstm_synthetic")
    return variant


def check_comparable(registry: Registry, name: str, model: TrainedModel) -> None:
    """Refuse to add ``model`` to ``name`` when the current version trades another universe
    or reads another state: such a candidate is not comparable and needs its own name."""
    current = registry.current(name)
    if current is None:
        return
    meta = registry.metadata(name, current)
    universe = list(meta.get("universe") or [])
    if universe and universe != list(model.bundle.symbols):
        raise LayoutMismatchError(
            f"model {name!r} version {current} trades {universe}, this model {list(model.bundle.symbols)}: "
            f"a model of another universe is not a candidate for the same name; register it under "
            f"another name (e.g. {name}_<tag>) or another --home")


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
    gate_folds: int = 1,
) -> tuple[str, PromotionDecision]:
    """Save ``model`` as a new version of ``name`` and run the promotion gate on ``window``.

    Candidate and current version are scored by :class:`WalkForwardEvidence` (their
    procedures refit before each of ``gate_folds`` folds of the window); a version whose
    metadata records no procedure (``metadata["training"]``) is scored in-sample and so
    never promoted unless forced.
    """
    check_comparable(registry, name, model)
    window_dates = (str(panel.dates[window.test_start]), str(panel.dates[window.test_stop]))
    overlap = in_sample_weeks(model.bundle.train_window[1], panel, window)
    meta = {
        **environment_metadata(),
        **metadata,
        "data": {"source": panel.source, "start": str(panel.dates[0]), "end": str(panel.dates[-1])},
        "gate_window": list(window_dates),
        "gate_window_weeks_seen_in_training": overlap,
        "health": model.train_result.health if model.train_result else metadata.get("health", {}),
    }
    version = registry.save(name, to_artifacts(model, metadata=meta), parent=parent)
    evidence = WalkForwardEvidence(registry, name, panel, window, folds=gate_folds)
    description = (f"{window.test_stop - window.test_start} weeks, walk-forward over {gate_folds} fold(s): "
                   "each version's training procedure refit on the weeks before each fold, "
                   "deterministic policy backtest")
    decision = gate.decide(
        registry, name, version, evaluate=evidence.evaluate,
        window=GateWindow(start=window_dates[0], end=window_dates[1], description=description),
        health=gate_health(panel, window), force_reason=force_reason,
        baseline=static_fallback_evaluation(panel, window, model.bundle.env_config.rules),
    )
    return version, decision


def _finetune(name: str, registry: Registry, panel: MarketPanel, *, stop: int, weeks: int,
              lr: float | None, place: dict, **train: Any) -> tuple[TrainedModel, str]:
    """Continue the current version of ``name`` on the ``weeks`` before row ``stop``."""
    parent = registry.current(name)
    if parent is None:
        raise ModelNotFoundError(f"model {name!r} has no current version to finetune; "
                                 f"train it with mode 'full' first")
    base = trained_from_artifacts(registry.load(name, parent))
    if base.bundle.symbols != panel.symbols:
        raise LayoutMismatchError(f"version {parent} was trained on {list(base.bundle.symbols)}, the data "
                                  f"has {list(panel.symbols)}")
    return run_call(functools.partial(finetune_model, base, panel, stop=stop, weeks=weeks, lr=lr,
                                      description=f"{name} finetune", **train), **place), parent


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
    gate_folds: int = 1,
    min_confidence: float = 0.0,
    force_reason: str | None = None,
    sources: FeatureSources = FeatureSources(),
    env_config: EnvConfig = EnvConfig(),
    sac_config: SACConfig = PORTFOLIO_SAC,
    progress: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    callbacks: Sequence[Callback] = (),
    executor: str = "local",
    ray_address: str | None = None,
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
    gate_folds : int
        Walk-forward folds of the gate window (each version's procedure is refit once per fold).
    on_progress : callable, optional
        ``on_progress(updates_done, total_updates)`` every 100 updates (API jobs).
    executor, ray_address : str
        Where the training runs (:func:`~sacfolio.workflows.executors.run_call`; e.g. ``"ray"``
        sends it to a Ray cluster). Callbacks and ``on_progress`` run with ``"local"`` only.
    """
    variant = variant_of(name)
    stop = training_rows_until(panel, until)
    cbs = [*callbacks, *([_ProgressCallback(on_progress)] if on_progress is not None else [])]
    local = executor == "local"
    train = dict(steps=steps, seed=seed, callbacks=cbs if local else (), progress=progress and local)
    place = dict(executor=executor, ray_address=ray_address)
    parent: str | None = None
    if mode == "full":
        model = run_call(functools.partial(
            train_model, panel, train_stop=stop, variant=variant, env_config=env_config, sac_config=sac_config,
            sources=sources, description=f"{name} full", **train), **place)
    elif mode == "finetune":
        model, parent = _finetune(name, registry, panel, stop=stop, weeks=int(finetune_weeks),
                                  lr=finetune_lr, place=place, **train)
    else:
        raise ConfigError(f"mode must be 'full' or 'finetune', got {mode!r}")
    tr = model.train_result
    metadata = {
        "training": {"mode": mode, "steps": steps, "seed": seed, "until": str(panel.dates[stop]),
                     "finetune_weeks": finetune_weeks if mode == "finetune" else None,
                     "finetune_lr": finetune_lr if mode == "finetune" else None,
                     "updates": tr.n_updates if tr else 0,
                     "seconds": round(tr.wall_seconds, 1) if tr else 0.0},
        "seed": seed,
    }
    version, decision = register_model(
        model, name=name, registry=registry, panel=panel, window=gate_window(panel, gate_weeks),
        metadata=metadata, parent=parent, gate=PromotionGate(min_confidence=min_confidence, seed=seed),
        force_reason=force_reason, gate_folds=gate_folds)
    return TrainOutcome(version=version, decision=decision, model=model)
