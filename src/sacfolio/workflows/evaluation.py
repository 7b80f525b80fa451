"""The walk-forward evaluation behind ``sacfolio evaluate`` and ``sacfolio demo``:
load the data (or generate a factor market), run the plan, score the forecasts,
write the report, and (for the demo) register the last fold's model.

Printing is the caller's: the steps report through ``say`` (rich markup) and
``on_fold``, so the CLI and any other front end show the same thing.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sacfolio.data.panel import MarketPanel
from sacfolio.env.config import EnvConfig
from sacfolio.evaluate.folds import parse_years
from sacfolio.evaluate.metrics import summarize
from sacfolio.evaluate.report import ReportPaths, write_report
from sacfolio.evaluate.results import WalkForwardResult
from sacfolio.evaluate.walkforward import AGENT, WalkForwardConfig
from sacfolio.exceptions import ConfigError
from sacfolio.features.variants import (DEFAULT_MAX_SYMBOLS, FORECAST_VARIANTS, UNIVERSAL_VARIANT, VARIANTS,
                                       FeatureSources, check_variant, default_cache_dir)
from sacfolio.registry.decision import PromotionDecision
from sacfolio.registry.registry import Registry
from sacfolio.strategies import STRATEGIES
from sacfolio.strategies.catalog import resolve_baselines
from sacfolio.train.portfolio import PORTFOLIO_SAC, TrainedModel
from sacfolio.workflows.registration import register_model
from sacfolio.workflows.task_cache import open_task_cache
from sacfolio.workflows.walkforward import OnFold, run_walk_forward

__all__ = ["EvaluationRequest", "Evaluation", "load_panel", "run_evaluation", "register_last_fold",
           "SYNTHETIC_SUFFIX"]

SYNTHETIC_SUFFIX = "_synthetic"
"""Models trained on the generated factor market are registered as ``<variant>_synthetic``:
another universe is another model, never a candidate for the real one."""


@dataclass(frozen=True, kw_only=True)
class EvaluationRequest:
    """What to evaluate: data, test years, training budget, state variant and agent settings.

    ``eval_years`` None means 2015-2022 on real data and the last two years on the
    synthetic market. ``seeds`` is the seed-ensemble size K per fold, combined by
    ``ensemble_mix`` (:data:`~sacfolio.model.bundle.ENSEMBLE_MIXES`). ``market`` names a
    known-answer market (:data:`~sacfolio.data.known_markets.KNOWN_MARKETS`, planted
    ``strength``) run instead of the data, with its known-model policy beside the
    baselines. ``trials`` counts the configurations tried when these settings were chosen
    (the deflated Sharpe ratio). ``executor``, ``workers`` and ``ray_address`` say where the
    training tasks run (:mod:`sacfolio.workflows.executors`); with ``resume`` the tasks an
    earlier run of the same settings finished (``out/task_cache``) are not run again. Without
    ``warm_start`` every fold trains ``steps`` from scratch. ``sac_options`` override fields
    of the portfolio SAC settings
    (e.g. ``aux``, ``aux_coef_short``, ``allow_unsafe_lr``); ``env_options`` override the
    env settings in :meth:`EnvConfig.from_dict` form (e.g. ``{"action_mode": "residual",
    "execution": {"rebalance_rate": 0.25}}``), the defaults for whatever they leave out.
    """

    out: Path
    data: Path | None = None
    start: str | None = None
    end: str | None = None
    eval_years: str | None = None
    steps: int = 10_000
    fold_steps: int = 5_000
    seed: int = 0
    baselines: tuple[str, ...] | None = None
    variant: str = "sac_lstm"
    news: Path | None = None
    fundamentals: Path | None = None
    synthetic: bool = False
    agents: tuple[str, ...] = (AGENT,)
    seeds: int = 1
    ensemble_mix: str = "weights"
    market: str | None = None
    strength: float | None = None
    trials: int = 1
    executor: str = "local"
    workers: int | None = None
    ray_address: str | None = None
    resume: bool = True
    warm_start: bool = True
    sac_options: dict[str, Any] = field(default_factory=dict)
    env_options: dict[str, Any] = field(default_factory=dict)
    title: str = "sacfolio walk-forward evaluation"
    progress: bool = True

    @property
    def env_config(self) -> EnvConfig:
        """The env settings of this run: the defaults overridden by ``env_options``."""
        return EnvConfig.from_dict(self.env_options)

    @property
    def model_name(self) -> str:
        """The registry name a model of this run is saved under."""
        base = f"{self.variant}_s{DEFAULT_MAX_SYMBOLS}" if self.variant == UNIVERSAL_VARIANT else self.variant
        if self.market is not None:
            return f"{base}_{self.market}"
        return base + (SYNTHETIC_SUFFIX if self.synthetic else "")


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    """A finished evaluation: results, the last fold's SAC model, the data and the report files."""

    request: EvaluationRequest
    result: WalkForwardResult
    model: TrainedModel
    panel: MarketPanel
    paths: ReportPaths
    years: tuple[int, ...]
    forecast_quality: str | None = None


def load_panel(data: Path | None, start: str | None, end: str | None) -> MarketPanel:
    """Prices from ``data`` (CSV/Parquet) or the embedded S&P 500 sample."""
    from sacfolio.data import load_prices, load_sp500_sample

    if data is None:
        return load_sp500_sample(start=start, end=end)
    return load_prices(data, start=start, end=end)


def _inputs(request: EvaluationRequest, say: Callable[[str], None]) -> tuple[MarketPanel, FeatureSources, str]:
    """The panel, feature sources and test-year spec of ``request``."""
    if not request.synthetic:
        return (load_panel(request.data, request.start, request.end),
                FeatureSources.of(request.news, request.fundamentals), request.eval_years or "2015-2022")
    from sacfolio.data.synthetic import FactorMarketConfig, factor_market

    market = factor_market(FactorMarketConfig(seed=request.seed), out_dir=Path(request.out) / "synthetic_market")
    say(f"[bold]synthetic market[/bold] planted sentiment IC {market.config.ic_sentiment}, "
        f"fundamental IC {market.config.ic_fundamental}; news and Alpha Vantage files in "
        f"{Path(request.out) / 'synthetic_market'}")
    last = int(str(market.panel.dates[-1])[:4])
    return (market.panel, FeatureSources.of(market.news_path, market.fundamentals_dir),
            request.eval_years or f"{last - 1}-{last}")


def _known_inputs(request: EvaluationRequest, say: Callable[[str], None]):
    """Panel, sources, test years and the known-model policy of a known-answer market."""
    from sacfolio.data.known_markets import KNOWN_MARKETS, known_market
    from sacfolio.strategies.known import KnownModel

    market = known_market(request.market, strength=request.strength, seed=request.seed,
                          out_dir=Path(request.out) / "synthetic_market")
    cfg = market.config
    say(f"[bold]known-answer market[/bold] {request.market}: {KNOWN_MARKETS[request.market]} "
        f"(autocorr {cfg.autocorr:g}, sentiment IC {cfg.ic_sentiment:g}, fundamental IC {cfg.ic_fundamental:g}); "
        "the known-model policy trades on the true conditional mean")
    last = int(str(market.panel.dates[-1])[:4])
    sources = FeatureSources.of(market.news_path, market.fundamentals_dir)
    return (market.panel, sources, request.eval_years or f"{last - 3}-{last}",
            {"known_model": KnownModel(market.panel, market.expected_returns())})


def run_evaluation(request: EvaluationRequest, *, say: Callable[[str], None] = lambda _: None,
                   on_fold: OnFold | None = None) -> Evaluation:
    """Walk-forward run + report of ``request``; progress goes to ``say`` and ``on_fold``."""
    t0 = time.perf_counter()
    check_variant(request.variant)
    if request.market is not None and (request.synthetic or request.data is not None):
        raise ConfigError("--market generates its own data: leave out --synthetic and --data")
    if request.market is not None:
        panel, sources, year_spec, extra = _known_inputs(request, say)
    else:
        (panel, sources, year_spec), extra = _inputs(request, say), {}
    years = tuple(parse_years(year_spec))
    names = tuple(STRATEGIES) if request.baselines is None else resolve_baselines(request.baselines)
    wf_config = WalkForwardConfig(years=years, train_steps=request.steps, fold_steps=request.fold_steps,
                                  baselines=names, seed=request.seed, variant=request.variant,
                                  agents=request.agents, seeds=request.seeds, warm_start=request.warm_start,
                                  ensemble_mix=request.ensemble_mix)
    sac_config = dataclasses.replace(PORTFOLIO_SAC, **request.sac_options)
    say(f"[bold]data[/bold] {panel.source}: {panel.n_symbols} symbols, {panel.n_dates} weeks "
        f"{panel.dates[0]}..{panel.dates[-1]}")
    say(f"[bold]variant[/bold] {request.variant}: {VARIANTS[request.variant]}" + (
        "; this data has prices only, so sentiment and fundamentals are neutral (count 0, age maximal)"
        if request.variant in FORECAST_VARIANTS and sources.empty else ""))
    say(f"[bold]walk-forward[/bold] test years {years[0]}..{years[-1]} ({len(years)} folds), "
        + (f"{request.steps} steps first fold, {request.fold_steps} per later fold (warm-started)"
           if request.warm_start else f"{request.steps} steps per fold, each from scratch")
        + (f", {request.seeds} seeds per fold traded as one ({request.ensemble_mix} averaged)"
           if request.seeds > 1 else "")
        + f", baselines: {', '.join(names)}")
    env_config = request.env_config
    venue = env_config.rules.broker
    if venue is not None:  # an unknown symbol stops here, before any training
        broker = venue.broker_for(panel.symbols)
        say(f"[bold]broker[/bold] {broker.instruments.source}: {len(broker.instruments)} instruments, "
            f"leverage {venue.leverage:g}, {venue.home_currency} account")
    say(f"[bold]env[/bold] {_describe_env(env_config)}")
    result, model = run_walk_forward(panel, config=wf_config, env_config=env_config, sac_config=sac_config,
                                     progress=request.progress, log_dir=Path(request.out) / "tensorboard",
                                     on_fold=on_fold, sources=sources, extra_strategies=extra,
                                     executor=request.executor, workers=request.workers,
                                     ray_address=request.ray_address,
                                     task_cache=open_task_cache(Path(request.out) / "task_cache", resume=request.resume))
    if "known_model" in extra:  # the report reads each policy's weights against the true means as well
        result = dataclasses.replace(result, known_expected=extra["known_model"].expected)
    quality = _forecast_quality(panel, request, result) if request.variant in FORECAST_VARIANTS else None
    result.info["seconds"]["total"] = round(time.perf_counter() - t0, 1)
    paths = write_report(result, Path(request.out), agent=AGENT, title=request.title, seed=request.seed,
                         n_trials=request.trials)
    return Evaluation(request=request, result=result, model=model, panel=panel, paths=paths, years=years,
                      forecast_quality=quality)


def _describe_env(config: EnvConfig) -> str:
    """One line on how the agent trades: action mode, execution, reward, training costs."""
    mode = "softmax of the action" if config.action_mode == "softmax" else \
        f"residual tilt of equal weight (tilt {config.tilt:g} per stock)"
    ex = config.execution
    execution = "trades to each target at once" if ex.immediate else \
        f"trades {ex.rebalance_rate:g} of the way to each target, no-trade band {ex.no_trade_band:g}"
    costs = f"{config.rules.cost_bps:g} bps" + (
        "" if config.train_cost_multiplier == 1.0
        else f" ({config.rules.cost_bps * config.train_cost_multiplier:g} bps in training, "
             f"x{config.train_cost_multiplier:g})")
    return f"{mode}; {execution}; reward {config.reward}; costs {costs}"


def _forecast_quality(panel: MarketPanel, request: EvaluationRequest, result: WalkForwardResult) -> str:
    """Per-year quality of the walk-forward forecasts (read from the cache the run filled),
    recorded in ``result.info`` and returned as a printable table."""
    from sacfolio.features.forecast import ForecastConfig, forecast_quality, format_quality_table, \
        walk_forward_forecasts

    forecasts = walk_forward_forecasts(panel, ForecastConfig(model=request.variant.removeprefix("sac_")),
                                       cache_dir=default_cache_dir(), progress=request.progress)
    rows = forecast_quality(panel, forecasts)
    result.info["forecast_quality"] = [r._asdict() for r in rows]
    return format_quality_table(rows, title=f"{request.variant}: forecast quality per year "
                                "(rank IC across stocks, hit rate; momentum = trailing 52-week return)")


def register_last_fold(evaluation: Evaluation, registry: Registry) -> tuple[str, PromotionDecision]:
    """Save the last fold's model under the request's model name and gate it on the last
    test year, which is out of sample for it (it saw only data before that year)."""
    request, result = evaluation.request, evaluation.result
    last = result.folds[-1]
    metrics = {name: summarize(parts[-1]).as_dict() for name, parts in result.results.items()}
    return register_model(
        evaluation.model, name=request.model_name, registry=registry, panel=evaluation.panel, window=last,
        metadata={"training": {"mode": "walk-forward", "seed": request.seed, "steps": request.steps,
                               "fold_steps": request.fold_steps, "warm_start": request.warm_start,
                               "eval_years": request.eval_years},
                  "seed": request.seed, "metrics": metrics})
