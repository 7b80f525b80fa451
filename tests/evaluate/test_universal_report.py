"""The report's universal-model section: the advisor mixture over time and the universe-change table."""

from __future__ import annotations

from sacfolio.evaluate.report.advisors import advisors_html


def test_the_section_draws_the_mixture_and_the_universe_changes_and_is_empty_otherwise() -> None:
    info = {"advisor_mixture": {"advisors": ["momentum", "risk_parity"], "dates": ["2022-01-07", "2022-01-14"],
                                "weights": [[0.75, 0.25], [0.25, 0.75]]},
            "universe_change": [{"universe": "15-stock subset", "fold": "2022", "feasible_every_step": True,
                                 "agent": {"cagr": 0.05, "sharpe": 0.4, "max_drawdown": -0.1},
                                 "equal_weight": {"cagr": -0.02, "sharpe": -0.1, "max_drawdown": -0.2}}]}
    page = advisors_html(info)
    assert 'id="advisor-mixture"' in page and "risk_parity" in page
    assert "<td>0.500</td>" in page                       # mean weight of each advisor
    assert "15-stock subset (fold 2022)" in page and "+5.00%" in page and "-2.00%" in page
    assert advisors_html({"variant": "sac_lstm"}) == ""
