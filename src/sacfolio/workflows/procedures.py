"""Out-of-sample evidence for the promotion gate: a version's training procedure rerun on
the data before the gate window, then backtested on it.

A model trained on all data is scored honestly only by its procedure: the same settings
(variant, SAC and env configs, feature sources, steps, seed; for a finetune, its parent's
procedure and then the finetune) applied to the rows before each fold of the window, as
an expanding-window walk-forward. Every version's procedure is read from its own
``config.json`` and ``metadata.json["training"]``, so the candidate and the current
version are scored the same way on the same window.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from sacfolio.data.panel import MarketPanel
from sacfolio.evaluate.results import Fold
from sacfolio.evaluate.walkforward import backtest_model
from sacfolio.exceptions import EvaluationWindowError, SacfolioError
from sacfolio.registry.artifacts import ModelArtifacts
from sacfolio.registry.decision import GateEvaluation
from sacfolio.registry.registry import Registry
from sacfolio.train.portfolio import TrainedModel, train_model
from sacfolio.workflows.artifacts import bundle_from_artifacts, trained_from_artifacts

__all__ = ["NoProcedureError", "WalkForwardEvidence", "finetune_model", "gate_folds", "in_sample_weeks"]


class NoProcedureError(SacfolioError):
    """A version's metadata does not say how to train it again."""


def in_sample_weeks(train_end: str, panel: MarketPanel, window: Fold) -> int:
    """Weeks of ``window``'s test span at or before the last date a model trained on."""
    if not train_end:
        return window.test_stop - window.test_start
    if np.datetime64(train_end, "D") < panel.dates[0]:
        return 0
    trained_until = panel.index_of(train_end)
    return max(0, int(min(window.test_stop, trained_until) - window.test_start))


def gate_folds(window: Fold, folds: int) -> list[Fold]:
    """``folds`` consecutive test spans covering ``window``, each trained on all rows before it."""
    weeks = window.test_stop - window.test_start
    if folds < 1 or weeks // folds < 8:
        raise EvaluationWindowError(f"a gate window of {weeks} weeks cannot be split into {folds} "
                                    "folds of at least 8 weeks")
    edges = np.linspace(window.test_start, window.test_stop, folds + 1).round().astype(int)
    return [Fold(label=f"gate-{k}", train_start=0, train_stop=int(a), test_start=int(a), test_stop=int(b))
            for k, (a, b) in enumerate(zip(edges[:-1], edges[1:]))]


def finetune_model(base: TrainedModel, panel: MarketPanel, *, stop: int, weeks: int, lr: float | None,
                   description: str, **train: Any) -> TrainedModel:
    """Continue ``base`` on the ``weeks`` rows before row ``stop`` (its scaler and settings kept)."""
    if base.bundle.symbols != panel.symbols:
        raise NoProcedureError(f"the base model trades {list(base.bundle.symbols)}, the data has "
                               f"{list(panel.symbols)}")
    if weeks < 4 or stop - weeks < 0:
        raise EvaluationWindowError(f"finetune window of {weeks} weeks before {panel.dates[stop]} "
                                    "does not fit in the data; use at least 4 weeks")
    cfg = base.sac_config
    if lr is not None:
        cfg = dataclasses.replace(cfg, actor_lr=lr, critic_lr=lr, alpha_lr=lr)
    env = base.bundle.env_config
    model = train_model(panel, train_start=stop - weeks, train_stop=stop, variant=base.bundle.variant,
                        env_config=dataclasses.replace(env, episode_length=min(env.episode_length, weeks)),
                        sac_config=cfg, init=base, scaler=base.bundle.scaler, sources=base.bundle.sources,
                        description=description, **train)
    return model.with_env_config(env)


class WalkForwardEvidence:
    """Scores versions of ``name`` on ``window`` out of sample, refitting each on the rows
    before each of ``folds`` folds (fold models are cached, so a finetune's parent is
    trained once per fold for the candidate and the current version together)."""

    def __init__(self, registry: Registry, name: str, panel: MarketPanel, window: Fold, *,
                 folds: int = 1, max_depth: int = 4) -> None:
        self.registry, self.name, self.panel, self.window = registry, name, panel, window
        self.folds = gate_folds(window, folds)
        self.max_depth = max_depth
        self._models: dict[tuple[str, int], TrainedModel] = {}

    def evaluate(self, artifacts: ModelArtifacts) -> GateEvaluation:
        """Out-of-sample returns on the window; a version whose procedure cannot be rerun is
        scored by its own backtest, marked with the weeks it trained on."""
        bundle = bundle_from_artifacts(artifacts)
        seen = in_sample_weeks(bundle.train_window[1], self.panel, self.window)
        if seen == 0:  # trained before the window: its own backtest is out of sample
            return GateEvaluation(weekly_returns=backtest_model(bundle, self.panel, self.window).returns)
        try:
            returns = [backtest_model(self._refit(artifacts, f.test_start).bundle, self.panel, f).returns
                       for f in self.folds]
        except NoProcedureError:
            return GateEvaluation(weekly_returns=backtest_model(bundle, self.panel, self.window).returns,
                                  in_sample_weeks=seen)
        return GateEvaluation(weekly_returns=np.concatenate(returns))

    def _refit(self, artifacts: ModelArtifacts, stop: int, depth: int = 0) -> TrainedModel:
        key = (str(artifacts.version), stop)
        if key not in self._models:
            self._models[key] = self._train(artifacts, stop, depth)
        return self._models[key]

    def _train(self, artifacts: ModelArtifacts, stop: int, depth: int) -> TrainedModel:
        meta = artifacts.metadata
        training = meta.get("training") or {}
        mode, steps, seed = training.get("mode"), training.get("steps"), training.get("seed")
        if mode not in ("full", "finetune") or not isinstance(steps, int) or not isinstance(seed, int):
            raise NoProcedureError(f"version {artifacts.version} records no training procedure")
        if depth > self.max_depth:
            raise NoProcedureError(f"version {artifacts.version} is more than {self.max_depth} finetunes deep")
        trained = trained_from_artifacts(artifacts)
        if trained.members:
            raise NoProcedureError(f"version {artifacts.version} is a seed ensemble")
        label = f"{self.name} gate refit of {artifacts.version} before {self.panel.dates[stop]}"
        if mode == "full":
            b = trained.bundle
            return train_model(self.panel, train_stop=stop, variant=b.variant, env_config=b.env_config,
                               sac_config=trained.sac_config, sources=b.sources, steps=steps, seed=seed,
                               progress=False, description=label)
        parent = meta.get("parent")
        if not parent:
            raise NoProcedureError(f"finetuned version {artifacts.version} names no parent")
        base = self._refit(self.registry.load(self.name, parent), stop, depth + 1)
        return finetune_model(base, self.panel, stop=stop, weeks=int(training.get("finetune_weeks") or 26),
                              lr=training.get("finetune_lr"), description=label, steps=steps, seed=seed,
                              progress=False)
