"""What the report says beyond the metric table: how stable, how costly, how credible.

- the **seed band**: the single seeds behind a seed ensemble (their CAGR and Sharpe
  range, and the equity band the charts draw);
- **gross vs net**: the agent's and 1/N's CAGR before and after transaction costs;
- **Sharpe confidence**: probabilistic and deflated Sharpe ratios
  (:mod:`sacfolio.evaluate.significance`);
- on a generated market, the **share of the known-model policy's excess CAGR**
  over 1/N the agent earns, and its share of that policy's **expected edge** under the
  market's true model (:func:`expected_edge_share`: the same weights read against the
  true means, so the share does not hang on the returns the test years drew);
- through a broker (``--broker``), the **costs split** into spread, commission and
  financing for every strategy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sacfolio.evaluate.metrics import cagr, sharpe
from sacfolio.evaluate.report.columns import BENCHMARK
from sacfolio.evaluate.results import WalkForwardResult
from sacfolio.evaluate.significance import SharpeConfidence, sharpe_confidence

__all__ = ["KNOWN_POLICY", "Evidence", "expected_edge_share", "gather_evidence"]

KNOWN_POLICY = "known_model"
"""Name of the known-model policy's results on a generated market."""


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """The report's stability, cost and credibility figures (None where they do not apply).

    Attributes
    ----------
    members : int
        Seed-ensemble size K (1: a single agent, no band).
    member_cagr, member_sharpe : list of float
        Each member's out-of-sample CAGR and Sharpe (empty for K = 1).
    equity_band : (low, high) arrays or None
        The lowest and highest member equity at each date.
    gross : dict
        ``{name: {"gross_cagr", "net_cagr", "cost_drag"}}`` for the agent and 1/N.
    confidence : SharpeConfidence or None
        None when the run has no 1/N baseline or too few weeks.
    known_share : float or None
        (CAGR(agent) - CAGR(1/N)) / (CAGR(known) - CAGR(1/N)); None without the known
        policy or when its edge is under half a point.
    known_expected_share : float or None
        :func:`expected_edge_share` of the agent; None without the known policy and the
        market's true means, or when the known policy's expected edge is under 0.01% a week.
    broker_costs : dict or None
        ``{name: {"spread", "commission", "financing"}}``: each summed over the run as a
        fraction of value (financing < 0: paid); None in the equity configuration.
    ensemble_mix : {"weights", "actions"}
        How the members were traded as one (the walk-forward's ``ensemble_mix``).
    """

    members: int
    member_cagr: list[float]
    member_sharpe: list[float]
    equity_band: tuple[np.ndarray, np.ndarray] | None
    gross: dict[str, dict[str, float]]
    confidence: SharpeConfidence | None
    known_share: float | None
    broker_costs: dict[str, dict[str, float]] | None = None
    known_expected_share: float | None = None
    ensemble_mix: str = "weights"

    def as_dict(self) -> dict[str, Any]:
        spread = (max(self.member_cagr) - min(self.member_cagr)) if self.member_cagr else None
        return {"members": self.members, "member_cagr": self.member_cagr, "member_sharpe": self.member_sharpe,
                "member_cagr_spread": spread, "gross_vs_net": self.gross,
                "sharpe_confidence": None if self.confidence is None else self.confidence.as_dict(),
                "known_policy_share": self.known_share, "known_policy_expected_share": self.known_expected_share,
                "broker_costs": self.broker_costs}

    def lines(self, agent: str) -> list[str]:
        """Plain-text lines for the terminal summary."""
        out = []
        if self.member_cagr:
            c, s = self.member_cagr, self.member_sharpe
            mixed = "weights averaged" if self.ensemble_mix == "weights" else "actions averaged, then projected"
            out.append(f"seed band: {self.members} seeds traded as one ({mixed}); single seeds' "
                       f"CAGR {100 * min(c):.1f}%..{100 * max(c):.1f}% (spread {100 * (max(c) - min(c)):.1f} pts), "
                       f"Sharpe {min(s):.2f}..{max(s):.2f}")
        for name, g in self.gross.items():
            out.append(f"gross vs net: {name} CAGR {100 * g['gross_cagr']:.1f}% before costs, "
                       f"{100 * g['net_cagr']:.1f}% after ({100 * g['cost_drag']:.1f} pts a year)")
        if self.confidence is not None:
            c = self.confidence
            out.append(f"Sharpe confidence: P(true Sharpe of {agent} > 0) = {c.psr:.2f}, > 1/N's = "
                       f"{c.psr_vs_benchmark:.2f}; deflated for {c.n_trials} configuration(s) tried "
                       f"(bar {c.expected_max_sharpe:.2f}): {c.dsr:.2f}")
        expected = (None if self.known_expected_share is None else
                    f"{100 * self.known_expected_share:.0f}% of its expected edge under the true model, net of costs")
        if self.known_share is not None:
            out.append(f"known-model policy: {agent} earns {100 * self.known_share:.0f}% of its excess CAGR "
                       f"over 1/N" + ("" if expected is None else f" and {expected}"))
        elif expected is not None:  # the test years drew too little of the known policy's edge to divide by
            out.append(f"known-model policy: {agent} earns {expected}")
        for name, c in (self.broker_costs or {}).items():
            out.append(f"broker costs: {name} paid {100 * c['spread']:.2f}% of value in spread, "
                       f"{100 * c['commission']:.2f}% in commission and {-100 * c['financing']:.2f}% in financing")
        return out


def gather_evidence(result: WalkForwardResult, agent: str, *, n_trials: int = 1) -> Evidence:
    """The :class:`Evidence` of ``result`` for ``agent`` (``n_trials``: configurations tried)."""
    combined = result.combined(agent)
    members = result.combined_members(agent)
    band = None
    if members:
        curves = np.stack([m.equity for m in members])
        band = (curves.min(axis=0), curves.max(axis=0))
    gross = {}
    for name in (agent, BENCHMARK):
        if name in result.results:
            r = result.combined(name)
            net, before = float(cagr(r.returns)), float(cagr((1 + r.returns) / (1 - r.costs) - 1))
            gross[name] = {"gross_cagr": before, "net_cagr": net, "cost_drag": before - net}
    confidence = None
    if BENCHMARK in result.results and len(combined.returns) >= 3:
        confidence = sharpe_confidence(combined.returns, result.combined(BENCHMARK).returns, n_trials=n_trials)
    return Evidence(members=max(1, len(members)), member_cagr=[float(cagr(m.returns)) for m in members],
                    member_sharpe=[float(sharpe(m.returns)) for m in members], equity_band=band, gross=gross,
                    confidence=confidence, known_share=_known_share(result, agent),
                    broker_costs=_broker_costs(result), known_expected_share=expected_edge_share(result, agent),
                    ensemble_mix=str((result.info.get("walk_forward") or {}).get("ensemble_mix", "weights")))


def _broker_costs(result: WalkForwardResult) -> dict[str, dict[str, float]] | None:
    runs = {name: result.combined(name) for name in result.results}
    if not runs or not all(r.through_broker for r in runs.values()):
        return None
    return {name: {k: float(np.sum(getattr(r, k))) for k in ("spread", "commission", "financing")}
            for name, r in runs.items()}


def _known_share(result: WalkForwardResult, agent: str) -> float | None:
    if KNOWN_POLICY not in result.results or BENCHMARK not in result.results:
        return None
    base = float(cagr(result.combined(BENCHMARK).returns))
    known = float(cagr(result.combined(KNOWN_POLICY).returns)) - base
    return None if known < 0.005 else (float(cagr(result.combined(agent).returns)) - base) / known


def expected_edge_share(result: WalkForwardResult, agent: str, folds: slice | list[int] | None = None) -> float | None:
    """The agent's expected weekly edge over 1/N, net of costs, as a share of the known policy's.

    A policy's expected edge in week t is ``(w_t - w_1/N,t) . mu_t`` over the stocks,
    ``mu_t`` the market's true mean of the next week's returns
    (:attr:`WalkForwardResult.known_expected`), less its extra transaction cost that
    week. It depends on the weights the policies chose, not on the returns the test
    weeks happened to draw, so it tells a weak learner from an unlucky draw: the CAGR
    share of a good policy swings by tens of points over four test years. CASH earns 0
    and a broker's financing is not counted (the known-answer markets trade as equities).

    Parameters
    ----------
    result : WalkForwardResult
    agent : str
    folds : slice or list of int, optional
        The folds to read (default all).

    Returns
    -------
    float or None
        None without the known policy, 1/N or the true means, with no folds picked, or
        when the known policy's expected edge is under 0.01% a week.
    """
    if result.known_expected is None or not {KNOWN_POLICY, BENCHMARK, agent} <= set(result.results):
        return None
    index = range(len(result.folds))
    picked = list(index[folds]) if isinstance(folds, slice) else list(index) if folds is None else list(folds)
    if not picked:
        return None
    edges = {name: [] for name in (agent, KNOWN_POLICY)}
    for i in picked:
        fold, base = result.folds[i], result.results[BENCHMARK][i]
        mu = result.known_expected[fold.test_start:fold.test_stop]
        for name in edges:
            r = result.results[name][i]
            edges[name].append(((r.weights - base.weights)[:, :-1] * mu).sum(axis=1) - (r.costs - base.costs))
    agent_edge, known = (float(np.concatenate(edges[n]).mean()) for n in (agent, KNOWN_POLICY))
    return None if known < 1e-4 else agent_edge / known
