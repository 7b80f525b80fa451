"""Registering the meta-controller and promoting it through the same gate as every model.

The candidate trains on every bar before the gate window (the last ``test_sessions``
sessions); the gate replays the candidate and the current version on the window's bars
(daily returns of the book, costs included) and promotes only out-of-sample gains; a first
version must beat the static weights on the same window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from sacfolio.agents.sac import SAC
from sacfolio.env.allocation_run import AllocationConfig, AllocationInputs, BookRun, run_book
from sacfolio.exceptions import DataError, LayoutMismatchError
from sacfolio.registry.artifacts import ModelArtifacts
from sacfolio.registry.decision import GateEvaluation, GateWindow, PromotionDecision
from sacfolio.registry.gate import GateSetup, PromotionGate
from sacfolio.registry.registry import Registry
from sacfolio.strategies.expert import StaticWeights, load_static_weights
from sacfolio.workflows.gate import health_problems
from sacfolio.workflows.meta import MetaSettings, session_starts, train_meta
from sacfolio.workflows.meta_model import META_CONFIG_FILE, meta_artifacts, meta_policy_of

__all__ = ["MetaRegistration", "daily_returns", "is_meta_version", "meta_gate_setup", "register_meta"]


@dataclass(frozen=True)
class MetaRegistration:
    version: str
    decision: PromotionDecision
    learner: SAC


def daily_returns(run: BookRun) -> np.ndarray:
    """The book's net return per trading session of ``run``."""
    starts = session_starts(run.times)
    growth = 1.0 + run.returns
    return np.array([np.prod(growth[a:b]) - 1.0 for a, b in zip(starts[:-1], starts[1:])])


def _day(t: np.datetime64) -> str:
    return str(np.datetime64(t, "D"))


def _sessions_seen(times: np.ndarray, last_bar: str | None) -> int:
    """Sessions of ``times`` with a bar at or before ``last_bar`` (the last bar a version trained on)."""
    if last_bar is None:
        return 0
    starts = session_starts(times)
    return int((times[starts[:-1]] <= np.datetime64(last_bar, "ns")).sum())


def _evaluator(inputs: AllocationInputs, config: AllocationConfig, lo: int, hi: int
               ) -> Callable[[ModelArtifacts], GateEvaluation]:
    def evaluate(artifacts: ModelArtifacts) -> GateEvaluation:
        meta = meta_policy_of(artifacts)
        if meta.strategies != inputs.strategies or meta.config != config:
            raise LayoutMismatchError(f"version {meta.version} allocates {list(meta.strategies)} under other "
                                      "settings; register it under another name")
        run = run_book(inputs, meta.allocator(), config, start=lo, stop=hi)
        seen = _sessions_seen(inputs.times[lo:hi], (artifacts.metadata.get("training") or {}).get("last_bar"))
        return GateEvaluation(weekly_returns=daily_returns(run), in_sample_weeks=seen)

    return evaluate


def register_meta(inputs: AllocationInputs, config: AllocationConfig, settings: MetaSettings, registry: Registry,
                  *, name: str = "meta_sac", data: dict[str, Any] | None = None, force_reason: str | None = None,
                  progress: bool = False) -> MetaRegistration:
    """Train on the bars before the gate window, save a version of ``name``, run the gate."""
    starts = session_starts(inputs.times)
    lo, hi = int(starts[-1 - settings.test_sessions]), len(inputs.times)
    result = train_meta(inputs, config, settings, stop=lo, steps=settings.steps, seed=settings.seed,
                        progress=progress)
    metadata = {"training": {"mode": "full", "steps": settings.steps, "seed": settings.seed,
                             "updates": result.n_updates, "seconds": round(result.wall_seconds, 1),
                             "last_bar": str(inputs.times[lo - 1])},
                "data": data or {}, "seed": settings.seed, "health": result.health,
                "universe": list(inputs.symbols)}
    version = registry.save(name, meta_artifacts(result.learner, sac_config=settings.sac, config=config,
                                                 strategies=inputs.strategies, metadata=metadata))
    static = StaticWeights(load_static_weights(settings.static_weights, inputs.strategies))
    baseline = GateEvaluation(weekly_returns=daily_returns(run_book(inputs, static, config, start=lo, stop=hi)))
    window = GateWindow(start=_day(inputs.times[lo]), end=_day(inputs.times[hi - 1]),
                        description=f"last {settings.test_sessions} sessions of the bars, daily book returns after "
                                    "spread and commission; trained only on the bars before")
    decision = PromotionGate(block=1, seed=settings.seed).decide(
        registry, name, version, evaluate=_evaluator(inputs, config, lo, hi), window=window,
        health=health_problems, force_reason=force_reason, baseline=baseline)
    return MetaRegistration(version, decision, result.learner)  # type: ignore[arg-type]


def is_meta_version(registry: Registry, name: str, version: str) -> bool:
    """Whether ``version`` of ``name`` is a strategy meta-controller (not a portfolio model)."""
    document = registry.load(name, version).documents.get(META_CONFIG_FILE) or {}
    return document.get("kind") == "meta_allocation"


_SYNTHETIC = re.compile(r"^synthetic:intraday\(seed=(-?\d+), bars=(\d+)\)$")


def _bars_of(data: dict[str, Any]):
    """The bars a version was trained on, from its recorded ``data``: the generator's again
    (same seed, count and symbols: the same bars) or the file it was read from."""
    from sacfolio.data.intraday import load_source_bars

    source, symbols = str(data.get("source", "")), data.get("symbols") or None
    synthetic = _SYNTHETIC.match(source)
    if synthetic:
        return load_source_bars(n_bars=int(synthetic.group(2)), symbols=symbols, seed=int(synthetic.group(1)))
    if not source:
        raise DataError("the version records no data source; promote it with --force --reason '...'")
    return load_source_bars(path=source, symbols=symbols)


def meta_gate_setup(registry: Registry, name: str) -> GateSetup:
    """The gate of ``sacfolio registry promote`` for a meta-controller: the bars the current
    version (else the latest) was trained on, reloaded from its recorded source; the window
    is every session after the last bar it trained on, as :func:`register_meta` gated it;
    daily book returns after spread and commission, 1-day bootstrap blocks."""
    from sacfolio.env.allocation_run import allocation_inputs
    from sacfolio.env.allocation_state import zoo_strategies

    ref = registry.current(name) or registry.resolve(name, "latest")
    meta = meta_policy_of(registry.load(name, ref))
    metadata = registry.metadata(name, ref)
    bars = _bars_of(metadata.get("data") or {})
    strategies = zoo_strategies(meta.config.rules, meta.strategies)
    inputs = allocation_inputs(bars, strategies, meta.config, exact=False)
    last = (metadata.get("training") or {}).get("last_bar")
    if last is None:
        raise DataError(f"version {ref} records no last training bar; promote it with --force --reason '...'")
    lo, hi = int(np.searchsorted(inputs.times, np.datetime64(last, "ns"), side="right")), len(inputs.times)
    if hi - lo < 2:
        raise DataError(f"version {ref} trained on all but {hi - lo} of the {hi} bars of {bars.source}: no gate window")
    static = StaticWeights(load_static_weights(None, inputs.strategies))
    return GateSetup(
        evaluate=_evaluator(inputs, meta.config, lo, hi), health=health_problems,
        baseline=GateEvaluation(weekly_returns=daily_returns(run_book(inputs, static, meta.config, start=lo, stop=hi))),
        window=GateWindow(start=_day(inputs.times[lo]), end=_day(inputs.times[hi - 1]),
                          description=f"the bars of {bars.source} after version {ref}'s training, daily book "
                                      "returns after spread and commission"),
        block=1)
