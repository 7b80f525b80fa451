"""The gate promotes on out-of-sample evidence only, and a first version must beat the static fallback."""

from __future__ import annotations

from _registry_models import evaluate_on, make_artifacts, market

from sacfolio.registry import GateEvaluation, GateWindow, Registry, decide_promotion

WINDOW = GateWindow(start="2021-01-01", end="2022-12-30")
BEST, WORST = 0, 3


def _in_sample(evaluate, weeks: int):
    return lambda art: GateEvaluation(weekly_returns=evaluate(art).weekly_returns, in_sample_weeks=weeks)


def test_a_candidate_scored_only_in_sample_is_never_promoted(registry: Registry) -> None:
    evaluate = evaluate_on(*market())
    v1 = registry.save("m", make_artifacts(1, favour=WORST))
    decide_promotion("m", v1, evaluate=evaluate, registry=registry, window=WINDOW)
    v2 = registry.save("m", make_artifacts(2, favour=BEST))
    d = decide_promotion("m", v2, evaluate=_in_sample(evaluate, 52), registry=registry, window=WINDOW)
    assert d.candidate_cagr > d.current_cagr  # the in-sample score is higher ...
    assert not d.promoted and "no out-of-sample evidence" in d.reason  # ... and no reason to promote
    assert registry.current("m") == v1 and registry.history("m")[-1]["candidate_in_sample_weeks"] == 52
    # a first version scored in-sample is kept too; a forced promotion still goes through
    v3 = registry.save("n", make_artifacts(3, favour=BEST))
    first = decide_promotion("n", v3, evaluate=_in_sample(evaluate, 1), registry=registry, window=WINDOW)
    assert not first.promoted and registry.current("n") is None
    forced = decide_promotion("n", v3, evaluate=_in_sample(evaluate, 1), registry=registry, window=WINDOW,
                              force_reason="reviewed by hand")
    assert forced.promoted and registry.current("n") == v3


def test_a_first_version_must_beat_the_static_fallback_or_is_kept_with_the_reason(registry: Registry) -> None:
    evaluate = evaluate_on(*market())
    strong = evaluate(make_artifacts(9, favour=BEST))
    weak = registry.save("m", make_artifacts(1, favour=WORST))
    d = decide_promotion("m", weak, evaluate=evaluate, registry=registry, window=WINDOW, baseline=strong)
    assert not d.promoted and "does not beat the static fallback" in d.reason
    assert registry.current("m") is None and registry.versions("m") == [weak]
    [entry] = registry.history("m")
    assert entry["promoted"] is False and entry["baseline_cagr"] == strong.cagr and entry["reason"] == d.reason
    good = registry.save("m", make_artifacts(2, favour=BEST))
    ok = decide_promotion("m", good, evaluate=evaluate, registry=registry, window=WINDOW,
                          baseline=evaluate(make_artifacts(8, favour=WORST)))
    assert ok.promoted and "beats the static fallback" in ok.reason and registry.current("m") == good
