"""What a walk-forward run of the universal model records beyond the usual backtests.

* the advisor mixture of every out-of-sample decision (which advisors the agent
  trusted, week by week), from the same backtests the report scores;
* the universe-change check: the last fold's model, never retrained, trading a
  15-stock subset and a universe with a symbol it never saw, beside 1/N on the same
  stocks.

:func:`universal_record` returns both as JSON-able entries of the run's ``info``
(``advisor_mixture``, ``universe_change``), which the report draws
(:mod:`sacfolio.evaluate.report.advisors`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from sacfolio.data.panel import MarketPanel
from sacfolio.evaluate.backtest import backtest_strategy, run_backtest
from sacfolio.evaluate.metrics import summarize
from sacfolio.evaluate.results import BacktestResult, Fold
from sacfolio.features.blocks import FeatureSet
from sacfolio.model.universal import UniversalBundle
from sacfolio.strategies import make_strategies

__all__ = ["UNSEEN_SYMBOL", "changed_universes", "mixture_backtest", "universal_record"]

UNSEEN_SYMBOL = "UNSEEN"
"""The name the universe-change check gives the symbol it renames (never in a vocabulary)."""


def mixture_backtest(bundle: UniversalBundle, panel: MarketPanel, fold: Fold, *, name: str = "sac",
                     features: FeatureSet | None = None) -> tuple[BacktestResult, np.ndarray]:
    """:func:`~sacfolio.evaluate.walkforward.backtest_model` of a universal bundle, with the
    advisor mixture of each decision, shape (S, K) (empty K = 0 without advisors)."""
    core = bundle.core(panel, features)
    residual = bundle.env_config.action_mode == "residual"
    mixtures: list[np.ndarray] = []

    def decide(t: int, obs: np.ndarray, drifted: np.ndarray) -> np.ndarray:
        target, mixture = bundle.decisions(obs[None, :], panel.available[t],
                                           core.benchmark[t] if residual else None)
        mixtures.append(np.zeros(0) if mixture is None else mixture[0])
        return target[0]

    result = run_backtest(core, decide, start=fold.test_start, stop=fold.test_stop,
                          dates=panel.dates[fold.test_start:fold.test_stop + 1], symbols=panel.symbols, name=name)
    return result, np.stack(mixtures)


def changed_universes(panel: MarketPanel, n_subset: int = 15) -> dict[str, MarketPanel]:
    """The universe-change check's markets: the first ``n_subset`` symbols, and the same with
    the last of them renamed :data:`UNSEEN_SYMBOL` (a stock the model never saw)."""
    n = min(n_subset, panel.n_symbols)
    keep = slice(0, n)
    subset = MarketPanel(dates=panel.dates, symbols=panel.symbols[keep], close=panel.close[:, keep],
                         available=panel.available[:, keep], source=panel.source)
    renamed = MarketPanel(dates=panel.dates, symbols=panel.symbols[:n - 1] + (UNSEEN_SYMBOL,),
                          close=panel.close[:, keep], available=panel.available[:, keep], source=panel.source)
    unseen = f"{n - 1} known + 1 unseen ({panel.symbols[n - 1]} as {UNSEEN_SYMBOL})"
    return {f"{n}-stock subset": subset, unseen: renamed}


def _metrics(result: BacktestResult) -> dict[str, float]:
    m = summarize(result)
    return {"cagr": round(float(m.cagr), 5), "sharpe": round(float(m.sharpe), 4),
            "max_drawdown": round(float(m.max_drawdown), 5)}


def universal_record(models: Sequence[Any], panel: MarketPanel, folds: Sequence[Fold],
                     features: FeatureSet) -> dict[str, Any]:
    """``advisor_mixture`` over the folds and ``universe_change`` of the last fold's model.

    Parameters
    ----------
    models : sequence of TrainedModel
        The agent's model of each fold (universal bundles).
    """
    bundles = [m.bundle for m in models]
    if not bundles or not isinstance(bundles[-1], UniversalBundle):
        return {}
    dates: list[str] = []
    weights: list[np.ndarray] = []
    for bundle, fold in zip(bundles, folds):
        result, mixture = mixture_backtest(bundle, panel, fold, features=features)
        dates += [str(d) for d in result.dates[:-1]]
        weights.append(mixture)
    record: dict[str, Any] = {}
    if bundles[-1].spec.n_advisors:
        record["advisor_mixture"] = {"advisors": list(bundles[-1].spec.advisors), "dates": dates,
                                     "weights": np.round(np.concatenate(weights), 4).tolist()}
    last, fold = bundles[-1], folds[-1]
    changes = []
    for label, market in changed_universes(panel).items():
        model = _trading_as_before(last, market, panel)
        rules = model.env_config.rules
        agent, _ = mixture_backtest(model, market, fold)
        equal = backtest_strategy(market, make_strategies(market, ("equal_weight",), rules=rules)["equal_weight"],
                                  fold, rules)
        changes.append({"universe": label, "symbols": list(market.symbols), "fold": fold.label,
                        "agent": _metrics(agent), "equal_weight": _metrics(equal),
                        "feasible_every_step": bool(_feasible(agent, market, fold, last))})
    record["universe_change"] = changes
    return record


def _trading_as_before(bundle: UniversalBundle, market: MarketPanel, panel: MarketPanel) -> UniversalBundle:
    """``bundle`` trading ``market`` (the first symbols of ``panel``, one perhaps renamed): through
    a broker a renamed stock still trades as the instrument it is (:attr:`BrokerVenue.aliases`)."""
    rules = bundle.env_config.rules
    renamed = {m: p for m, p in zip(market.symbols, panel.symbols) if m != p}
    if rules.broker is None or not renamed:
        return bundle
    venue = rules.broker.with_aliases(renamed)
    return dataclasses.replace(bundle, env_config=dataclasses.replace(
        bundle.env_config, rules=dataclasses.replace(rules, broker=venue)))


def _feasible(result: BacktestResult, panel: MarketPanel, fold: Fold, bundle: UniversalBundle) -> bool:
    from sacfolio.broker.projection import feasible_rows, weight_bounds

    available = panel.available[fold.test_start:fold.test_stop]
    lo, hi = weight_bounds(available, bundle.env_config.rules)
    return bool(feasible_rows(result.weights, lo, hi).all() and (result.weights[:, :-1][~available] == 0).all())
