"""Promotion gate: first, better, worse, equal, unhealthy, forced, min-confidence, same window."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from _registry_models import evaluate_on, make_artifacts, market

from sacfolio.evaluate.metrics import cagr
from sacfolio.exceptions import ConfigError, CorruptArtifactError, EvaluationWindowError, RegistryError
from sacfolio.registry import (
    GateEvaluation,
    GateWindow,
    ModelArtifacts,
    PromotionGate,
    Registry,
    decide_promotion,
    gate_cagr_by_version,
)

WINDOW = GateWindow(start="2021-01-01", end="2022-12-30")
BEST, WORST = 0, 3  # market(): asset 0 drifts up 1.2 %/week, asset 3 down 0.6 %/week


@pytest.fixture
def evaluate():
    return evaluate_on(*market())


def _decide(registry: Registry, version: str, evaluate, **kw):
    return decide_promotion("m", version, evaluate=evaluate, registry=registry, window=WINDOW, **kw)


def test_first_model_is_promoted_and_recorded(registry: Registry, evaluate) -> None:
    v1 = registry.save("m", make_artifacts(1, favour=WORST))
    decision = _decide(registry, v1, evaluate)
    assert decision.promoted and decision.reason == "first model of m" and decision.current is None
    assert registry.current("m") == v1
    [entry] = registry.history("m")
    assert entry["action"] == "gate" and entry["promoted"] and entry["version"] == v1
    assert entry["candidate_cagr"] == pytest.approx(evaluate(registry.load("m", v1)).cagr, abs=0)
    assert entry["window"] == {"start": "2021-01-01", "end": "2022-12-30",
                               "description": "last 2 years, expanding-window walk-forward"}


def test_better_candidate_is_promoted_with_scores_and_interval(registry: Registry, evaluate) -> None:
    v1 = registry.save("m", make_artifacts(1, favour=WORST))
    _decide(registry, v1, evaluate)
    v2 = registry.save("m", make_artifacts(2, favour=BEST))
    decision = _decide(registry, v2, evaluate)

    assert decision.promoted and registry.current("m") == v2
    cand, cur = evaluate(registry.load("m", v2)).cagr, evaluate(registry.load("m", v1)).cagr
    assert decision.candidate_cagr == cand and decision.current_cagr == cur and cand > cur
    assert decision.interval["low"] > 0.0 and decision.interval["verdict"] == "edge beyond noise"
    assert decision.interval["low"] <= decision.cagr_diff <= decision.interval["high"]
    assert decision.p_better > 0.99 and decision.within_noise is False
    entry = registry.history("m")[-1]
    assert (entry["version"], entry["previous"], entry["promoted"]) == (v2, v1, True)
    assert entry["candidate_cagr"] == cand and entry["current_cagr"] == cur
    assert entry["interval"]["level"] == 0.9 and entry["interval"]["block"] == 4
    assert gate_cagr_by_version(registry.history("m")) == {v1: cur, v2: cand}


def test_worse_candidate_is_not_promoted_and_current_stays(registry: Registry, evaluate) -> None:
    v1 = registry.save("m", make_artifacts(1, favour=BEST))
    _decide(registry, v1, evaluate)
    v2 = registry.save("m", make_artifacts(2, favour=WORST))
    decision = _decide(registry, v2, evaluate)
    assert not decision.promoted and "is not higher than current" in decision.reason
    assert decision.interval["high"] < 0.0
    assert registry.current("m") == v1
    entry = registry.history("m")[-1]
    assert entry["promoted"] is False and entry["version"] == v2 and entry["current_cagr"] > entry["candidate_cagr"]


def test_equal_candidate_is_not_promoted_and_is_within_noise(registry: Registry, evaluate) -> None:
    v1 = registry.save("m", make_artifacts(5))
    _decide(registry, v1, evaluate)
    v2 = registry.save("m", make_artifacts(5))  # the same weights, another version
    decision = _decide(registry, v2, evaluate)
    assert decision.cagr_diff == 0.0 and not decision.promoted
    assert decision.within_noise and decision.interval["low"] == decision.interval["high"] == 0.0
    assert decision.p_better == 0.0 and registry.current("m") == v1


def _exploding(artifacts: ModelArtifacts) -> list[str]:
    """A health check: weights beyond +-50 mean training blew up."""
    return [f"{fname}:{key} has |w| > 50" for fname, state in artifacts.tensors.items()
            for key, t in state.items() if t.is_floating_point() and t.abs().max() > 50]


def test_unhealthy_candidate_is_refused_even_with_a_higher_cagr(registry: Registry, evaluate) -> None:
    v1 = registry.save("m", make_artifacts(1, favour=WORST))
    _decide(registry, v1, evaluate, health=_exploding)
    v2 = registry.save("m", make_artifacts(2, favour=BEST, tilt=80.0))
    decision = _decide(registry, v2, evaluate, health=_exploding)
    assert decision.candidate_cagr > decision.current_cagr
    assert not decision.promoted and decision.reason == "health checks failed: actor.pt:body.2.bias has |w| > 50"
    assert registry.current("m") == v1
    assert registry.history("m")[-1]["health_problems"] == ["actor.pt:body.2.bias has |w| > 50"]


def test_forced_promotion_records_its_reason(registry: Registry, evaluate) -> None:
    v1 = registry.save("m", make_artifacts(1, favour=BEST))
    _decide(registry, v1, evaluate)
    v2 = registry.save("m", make_artifacts(2, favour=WORST))
    with pytest.raises(RegistryError, match="needs a reason"):
        _decide(registry, v2, evaluate, force_reason="  ")
    decision = _decide(registry, v2, evaluate, force_reason="regime change, see ticket 12")
    assert decision.promoted and decision.forced and decision.candidate_cagr < decision.current_cagr
    assert registry.current("m") == v2
    entry = registry.history("m")[-1]
    assert entry["reason"] == "forced: regime change, see ticket 12" and entry["forced"] is True


def test_min_confidence_blocks_an_edge_within_noise() -> None:
    features, returns = market(seed=12, drift=(0.002, 0.002, 0.002, 0.002), noise=0.03)
    evaluate = evaluate_on(features, returns)
    a, b = make_artifacts(1, favour=1, tilt=2.0), make_artifacts(2, favour=2, tilt=2.0)
    if evaluate(a).cagr < evaluate(b).cagr:
        a, b = b, a  # a: the candidate with the higher point CAGR
    interval, p_better = PromotionGate().compare(evaluate(a), evaluate(b))
    assert evaluate(a).cagr > evaluate(b).cagr and interval["low"] < 0.0 < interval["high"]
    assert p_better < 0.9  # the premise: the edge is within noise

    registry = Registry(f"memory://min-confidence-{id(evaluate)}")
    cur = registry.save("m", b)
    _decide(registry, cur, evaluate)
    cand = registry.save("m", a)
    strict = _decide(registry, cand, evaluate, min_confidence=0.9)
    assert not strict.promoted and f"P(better) {p_better:.2f} < min_confidence 0.90" in strict.reason
    assert strict.p_better == p_better and registry.current("m") == cur
    lenient = _decide(registry, cand, evaluate)
    assert lenient.promoted and lenient.reason.endswith("(within noise)")
    assert registry.current("m") == cand


def test_evaluations_on_different_windows_are_refused(registry: Registry) -> None:
    features, returns = market()

    def evaluate(artifacts: ModelArtifacts) -> GateEvaluation:
        n = 104 if artifacts.metadata["seed"] == 1 else 100
        return evaluate_on(features[:n], returns[:n])(artifacts)

    _decide(registry, registry.save("m", make_artifacts(1)), evaluate)
    v2 = registry.save("m", make_artifacts(2))
    with pytest.raises(EvaluationWindowError, match="candidate has 100 weekly returns and current has 104.*not evaluated on the same window"):
        _decide(registry, v2, evaluate)
    assert len(registry.history("m")) == 1


def test_current_moved_during_the_decision_is_refused(registry: Registry, evaluate) -> None:
    v1 = registry.save("m", make_artifacts(1, favour=WORST))
    _decide(registry, v1, evaluate)
    v2 = registry.save("m", make_artifacts(2, favour=BEST))
    v3 = registry.save("m", make_artifacts(3, favour=BEST))

    def evaluate_while_someone_promotes(artifacts: ModelArtifacts) -> GateEvaluation:
        if registry.current("m") == v1:
            registry.promote("m", v3, reason="another process")
        return evaluate(artifacts)

    with pytest.raises(RegistryError, match=f"changed from {v1} to {v3}"):
        _decide(registry, v2, evaluate_while_someone_promotes)
    assert registry.current("m") == v3


def test_dangling_current_blocks_the_gate_until_forced(registry: Registry, evaluate) -> None:
    v1 = registry.save("m", make_artifacts(1))
    _decide(registry, v1, evaluate)
    v2 = registry.save("m", make_artifacts(2))
    shutil.rmtree(Path(registry.root) / "m" / v1)
    with pytest.raises(CorruptArtifactError, match="points to version"):
        _decide(registry, v2, evaluate)
    decision = _decide(registry, v2, evaluate, force_reason="current was deleted")
    assert decision.promoted and "current was unreadable" in decision.reason
    assert registry.load("m").version == v2


def test_gate_evaluation_and_settings_validate_themselves() -> None:
    r = np.array([0.01, -0.02, 0.03, 0.0])
    assert GateEvaluation(weekly_returns=r).cagr == cagr(r)
    with pytest.raises(EvaluationWindowError, match="week 1"):
        GateEvaluation(weekly_returns=[0.01, np.nan, 0.0])
    with pytest.raises(EvaluationWindowError, match="before its end"):
        GateWindow(start="2022-01-01", end="2021-01-01")
    with pytest.raises(ConfigError, match="min_confidence"):
        PromotionGate(min_confidence=1.0)
    short = GateEvaluation(weekly_returns=r)
    with pytest.raises(EvaluationWindowError, match="at least 8"):
        PromotionGate().compare(short, short)


def test_bootstrap_is_paired_and_seeded() -> None:
    features, returns = market(seed=3)
    base = GateEvaluation(weekly_returns=returns[:, 1])
    shifted = GateEvaluation(weekly_returns=returns[:, 1] + 0.001)
    gate = PromotionGate(seed=5)
    interval, p = gate.compare(shifted, base)
    # Pairing: the same weeks are drawn for both, so a constant weekly edge is never reversed.
    assert interval["low"] > 0.0 and p == 1.0
    assert gate.compare(shifted, base) == (interval, p)
    assert PromotionGate(seed=6).compare(shifted, base)[0]["low"] != interval["low"]
