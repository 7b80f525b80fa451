"""The report's evidence: seed band, gross vs net, PSR / DSR and the known-policy share."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from skfolio.measures import probabilistic_sharpe_ratio

from sacfolio.evaluate.metrics import cagr
from sacfolio.evaluate.report import write_report
from sacfolio.evaluate.report.evidence import expected_edge_share, gather_evidence
from sacfolio.evaluate.results import BacktestResult, Fold, WalkForwardResult
from sacfolio.evaluate.significance import sharpe_confidence

SYMBOLS = ("AAA", "BBB")
DATES = np.datetime64("2020-01-03") + 7 * np.arange(105)
FOLDS = (Fold(label="2020", train_start=0, train_stop=100, test_start=100, test_stop=152),
         Fold(label="2021", train_start=0, train_stop=152, test_start=152, test_stop=204))


def _run(name: str, seed: int, drift: float, cost: float = 1e-4) -> tuple[BacktestResult, ...]:
    rng = np.random.default_rng(seed)
    weights = np.tile([0.49, 0.49, 0.02], (52, 1))
    return tuple(BacktestResult(name=name, symbols=SYMBOLS, dates=DATES[lo:lo + 53], weights=weights,
                                returns=rng.normal(drift, 0.02, 52), turnover=np.full(52, cost / 1e-3),
                                costs=np.full(52, cost)) for lo in (0, 52))


def _result(members: bool = True, known: bool = True) -> WalkForwardResult:
    results = {"sac": _run("sac", 0, 0.003, cost=5e-4), "equal_weight": _run("equal_weight", 1, 0.002)}
    if known:
        results["known_model"] = _run("known_model", 2, 0.006)
    return WalkForwardResult(symbols=SYMBOLS, folds=FOLDS, results=results,
                             members={"sac": (_run("sac", 3, 0.002), _run("sac", 4, 0.004))} if members else {})


def test_sharpe_confidence_is_skfolios_psr_and_the_deflated_bar_rises_with_trials() -> None:
    rng = np.random.default_rng(0)
    r, b = rng.normal(0.003, 0.02, 400), rng.normal(0.002, 0.02, 400)
    one, many = sharpe_confidence(r, b), sharpe_confidence(r, b, n_trials=30)
    assert one.psr == pytest.approx(probabilistic_sharpe_ratio(r, 0.0))
    assert one.psr_vs_benchmark == pytest.approx(probabilistic_sharpe_ratio(r, b.mean() / b.std(ddof=1)))
    assert one.dsr == one.psr and one.expected_max_sharpe == 0.0
    assert many.expected_max_sharpe > 0 and many.dsr < one.dsr
    with pytest.raises(ValueError, match="n_trials"):
        sharpe_confidence(r, b, n_trials=0)


def test_the_evidence_of_a_run_with_members_and_a_known_policy() -> None:
    result = _result()
    ev = gather_evidence(result, "sac", n_trials=10)
    assert ev.members == 2 and len(ev.member_cagr) == 2
    low, high = ev.equity_band
    curves = np.stack([m.equity for m in result.combined_members("sac")])
    np.testing.assert_array_equal(low, curves.min(0))
    np.testing.assert_array_equal(high, curves.max(0))
    sac = result.combined("sac")
    g = ev.gross["sac"]
    assert g["net_cagr"] == pytest.approx(cagr(sac.returns))
    assert g["gross_cagr"] == pytest.approx(cagr((1 + sac.returns) / (1 - 5e-4) - 1))
    assert g["cost_drag"] > ev.gross["equal_weight"]["cost_drag"] > 0
    base = cagr(result.combined("equal_weight").returns)
    expected = (cagr(sac.returns) - base) / (cagr(result.combined("known_model").returns) - base)
    assert ev.known_share == pytest.approx(expected)
    assert ev.confidence.n_trials == 10
    text = "\n".join(ev.lines("sac"))
    assert "2 seeds traded as one (weights averaged)" in text and "deflated for 10" in text
    assert "known-model policy" in text
    by_actions = dataclasses.replace(result, info={"walk_forward": {"ensemble_mix": "actions"}})
    assert "2 seeds traded as one (actions averaged, then projected)" in "\n".join(
        gather_evidence(by_actions, "sac").lines("sac"))


def test_the_expected_edge_share_reads_the_weights_against_the_true_means() -> None:
    """Fold 2020: AAA is expected to earn 1% more than BBB, fold 2021: BBB 1% more. The known
    policy holds 0.98 of the better one; the agent tilts 0.2 towards it in 2020 and the wrong
    way in 2021, and pays 4 bps a week more than 1/N; 1/N pays 1 bp."""
    result = _result(members=False)
    mu = np.zeros((210, 2))
    mu[100:152] = [0.01, 0.0]
    mu[152:204] = [0.0, 0.01]
    tilt = {"2020": [0.69, 0.29, 0.02], "2021": [0.69, 0.29, 0.02]}   # 2021: towards the worse stock
    known = {"2020": [0.98, 0.0, 0.02], "2021": [0.0, 0.98, 0.02]}
    for name, weights in (("sac", tilt), ("known_model", known)):
        result.results[name] = tuple(dataclasses.replace(r, weights=np.tile(weights[f.label], (52, 1)))
                                     for r, f in zip(result.results[name], FOLDS))
    assert expected_edge_share(result, "sac") is None  # no true means on real data
    result = dataclasses.replace(result, known_expected=mu)
    # edges a week: agent +0.2% - 4 bps in 2020, -0.2% - 4 bps in 2021; known +0.49% - 0 bps both years
    assert expected_edge_share(result, "sac", [0]) == pytest.approx((0.002 - 4e-4) / 0.0049)
    assert expected_edge_share(result, "sac", [1]) == pytest.approx((-0.002 - 4e-4) / 0.0049)
    assert expected_edge_share(result, "sac") == pytest.approx(-4e-4 / 0.0049)
    assert expected_edge_share(result, "known_model") == pytest.approx(1.0)
    ev = gather_evidence(result, "sac")
    assert ev.known_expected_share == pytest.approx(-4e-4 / 0.0049)
    assert "of its expected edge under the true model" in "\n".join(ev.lines("sac"))
    assert ev.as_dict()["known_policy_expected_share"] == ev.known_expected_share


def test_a_single_seed_run_without_a_known_policy_has_no_band_and_no_share() -> None:
    ev = gather_evidence(_result(members=False, known=False), "sac")
    assert ev.members == 1 and ev.equity_band is None and ev.known_share is None
    assert not any(line.startswith("seed band") for line in ev.lines("sac"))


def test_the_report_carries_the_evidence(tmp_path) -> None:
    paths = write_report(_result(), tmp_path, title="t", n_trials=4)
    doc = json.loads(paths.metrics_json.read_text())
    assert doc["evidence"]["members"] == 2 and doc["evidence"]["sharpe_confidence"]["n_trials"] == 4
    assert doc["evidence"]["known_policy_share"] is not None
    page = paths.html.read_text()
    assert 'class="evidence"' in page and "range of single seeds" in page and "gross vs net" in page
