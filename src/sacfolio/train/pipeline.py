"""From a market panel to a trained policy: features, a scaler fitted on the training
span only, the environment over that span, and SAC.

Walk-forward folds, ``sacfolio train`` and the API's training jobs all go through
:func:`train_model`, so they cannot drift apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from sacfolio.agents.config import SACConfig
from sacfolio.agents.policy import NumpyPolicy
from sacfolio.agents.ppo import PPO, PPOConfig
from sacfolio.agents.sac import SAC
from sacfolio.data.panel import MarketPanel
from sacfolio.env.config import EnvConfig
from sacfolio.env.core import PortfolioCore
from sacfolio.env.gym_env import PortfolioEnv
from sacfolio.exceptions import EvaluationWindowError
from sacfolio.features.blocks import FeatureSet
from sacfolio.features.price import price_features
from sacfolio.features.scaler import FeatureScaler
from sacfolio.train.callbacks import Callback
from sacfolio.train.ppo_trainer import train_ppo
from sacfolio.train.trainer import TrainResult, train_sac

__all__ = ["ALGORITHMS", "PORTFOLIO_PPO", "PORTFOLIO_SAC", "VARIANTS", "FeatureSources", "TrainedModel", "build_features", "train_model", "state_layout"]

PORTFOLIO_SAC = SACConfig(reward_scale=100.0, aux=True)
"""SAC settings for portfolio training: seed 001's table, a reward scale of 100 and the
auxiliary return heads (1 and 4 weeks, MSE x 0.01 each; seed 003) switched on.

Weekly log returns are ~1e-2, so unscaled rewards are small beside the entropy
bonus (alpha 0.2 over 21 action dimensions) and weight decay; scaled by 100 they
are O(1), as in the SAC paper's reward-scale setting. Measured on the 2019-2020
folds (6,000 + 3,000 steps): CAGR 19.9% with scale 100 vs 15.5% with 1 (1/N: 26.0%);
the synthetic drift market is learned only with the scale.
"""

VARIANTS = ("sac_lstm", "sac_patchtst", "sac_price")
"""State variants: seed 001's (7 signal features + a walk-forward LSTM or PatchTST
forecast per stock) and the price-only one (trailing returns and volatility)."""


PORTFOLIO_PPO = PPOConfig(reward_scale=100.0)
"""PPO baseline settings: its defaults with the same reward scale as SAC."""

ALGORITHMS = ("sac", "ppo")


def default_cache_dir() -> Path:
    """Forecast cache: ``$SACFOLIO_CACHE`` or ``./.sacfolio-cache``."""
    return Path(os.environ.get("SACFOLIO_CACHE", ".sacfolio-cache"))


@dataclass(frozen=True, kw_only=True)
class FeatureSources:
    """Where a variant's non-price inputs come from; recorded in the model's config.json.

    Attributes
    ----------
    news : str, optional
        News items (JSONL/JSON/Parquet) or a ``daily_sentiment.parquet``; None: no news.
    fundamentals : str, optional
        Folder of cached Alpha Vantage responses; None: no fundamentals.
    """

    news: str | None = None
    fundamentals: str | None = None

    def to_dict(self) -> dict:
        return {"news": self.news, "fundamentals": self.fundamentals}


def build_features(panel: MarketPanel, variant: str = "sac_price", *,
                   sources: FeatureSources = FeatureSources(), cache_dir: str | Path | None = None,
                   progress: bool = False) -> FeatureSet:
    """The unscaled per-stock feature block of ``variant``; row t uses data up to t only.

    ``sac_lstm`` / ``sac_patchtst`` run (or read from ``cache_dir``) the walk-forward
    forecasts: the forecast for year Y comes from a model trained before Y.
    """
    if variant not in VARIANTS:
        from sacfolio.exceptions import ConfigError

        raise ConfigError(f"unknown model variant {variant!r}; choose from {list(VARIANTS)}")
    if variant == "sac_price":
        return price_features(panel)
    from sacfolio.features.signals import seed001_features

    return seed001_features(panel, forecaster=variant.removeprefix("sac_"), news=sources.news,
                            fundamentals=sources.fundamentals,
                            cache_dir=default_cache_dir() if cache_dir is None else cache_dir,
                            progress=progress)


def state_layout(features: FeatureSet) -> dict:
    """The observation layout written to ``config.json``: what each slot of the state means."""
    n, f = len(features.symbols), features.n_features
    return {
        "blocks": [
            {"name": "features", "shape": [n, f], "order": "symbol-major", "features": list(features.names)},
            {"name": "weights", "shape": [n + 1], "order": [*features.symbols, "CASH"]},
        ],
        "obs_dim": n * f + n + 1,
        "act_dim": n + 1,
    }


@dataclass(kw_only=True)
class TrainedModel:
    """A trained learner with everything needed to apply it to new data.

    Attributes
    ----------
    learner : SAC or PPO
        ``algo`` says which; both act through the same squashed Gaussian actor.
    scaler : FeatureScaler
        Fitted on rows ``< train_stop`` of the training panel only.
    variant : str
    symbols : tuple of str
        The order of the state's symbol slots.
    feature_names : tuple of str
    env_config, sac_config
    train_window : tuple of str
        First and last date whose prices the training used (ISO).
    train_result : TrainResult or None
        None for a model loaded from storage.
    """

    learner: SAC | PPO
    scaler: FeatureScaler
    variant: str
    symbols: tuple[str, ...]
    feature_names: tuple[str, ...]
    env_config: EnvConfig
    sac_config: SACConfig
    train_window: tuple[str, str]
    sources: FeatureSources = field(default_factory=FeatureSources)
    train_result: TrainResult | None = None
    algo: str = "sac"
    ppo_config: PPOConfig | None = None

    def policy(self) -> NumpyPolicy:
        """A numpy copy of the deterministic actor (fast backtests and serving)."""
        return NumpyPolicy.from_actor(self.learner.actor)

    def core(self, panel: MarketPanel, features: FeatureSet | None = None) -> PortfolioCore:
        """A simulator over ``panel`` with this model's scaled features.

        ``features`` are the unscaled :func:`build_features` of ``panel`` when the caller
        already has them (walk-forward reuses one set for every fold).
        """
        if tuple(panel.symbols) != self.symbols:
            from sacfolio.exceptions import LayoutMismatchError

            raise LayoutMismatchError(
                f"the model was trained on symbols {list(self.symbols)} but the data has "
                f"{list(panel.symbols)}; the state would be misaligned")
        raw = features if features is not None else build_features(panel, self.variant, sources=self.sources)
        feats = self.scaler.transform(raw)
        return PortfolioCore(panel.simple_returns(), feats.values, panel.available, self.env_config)

    def target_weights(self, core: PortfolioCore, t: int, weights: np.ndarray | None = None,
                       policy: NumpyPolicy | None = None) -> np.ndarray:
        """The policy's target weights (N + 1, CASH last) at row ``t`` of ``core``.

        ``weights`` are the portfolio's current weights (default 100% cash); the
        result satisfies the constraints (cash floor, position cap, unavailable = 0).
        """
        from sacfolio.env.projection import action_to_weights

        n = len(self.symbols)
        current = np.zeros(n + 1) if weights is None else np.asarray(weights, dtype=np.float64)
        if weights is None:
            current[-1] = 1.0
        obs = core.observation_at(t, current)[None, :]
        action = (policy or self.policy())(obs)
        return action_to_weights(action, self.env_config, core.available[t])[0]


def train_model(
    panel: MarketPanel,
    *,
    train_stop: int,
    train_start: int = 0,
    variant: str = "sac_price",
    env_config: EnvConfig = EnvConfig(),
    sac_config: SACConfig = PORTFOLIO_SAC,
    steps: int,
    seed: int,
    init: TrainedModel | None = None,
    scaler: FeatureScaler | None = None,
    features: FeatureSet | None = None,
    algo: str = "sac",
    ppo_config: PPOConfig = PORTFOLIO_PPO,
    diagnostic_dir: str | Path | None = None,
    sources: FeatureSources = FeatureSources(),
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    log_dir: str | Path | None = None,
    description: str = "",
) -> TrainedModel:
    """Train on rows ``train_start .. train_stop`` of ``panel`` and nothing after.

    Decisions are made at rows ``train_start .. train_stop - 1``; the last training
    return ends at ``train_stop``. The scaler is fitted on rows ``< train_stop``.

    Parameters
    ----------
    init : TrainedModel, optional
        Start from this model's weights (finetuning, or warm-starting the next
        walk-forward fold from the previous one; both saw only earlier data).
    scaler : FeatureScaler, optional
        Use this fitted scaler (finetuning keeps its parent's) instead of fitting one
        on rows ``< train_stop``.
    features : FeatureSet, optional
        The unscaled :func:`build_features` of ``panel`` when already computed.
    sources : FeatureSources
        News and fundamentals inputs of the seed 001 variants.
    algo : {"sac", "ppo"}
        SAC (``sac_config``) or the PPO baseline (``ppo_config``).
    diagnostic_dir : path, optional
        Where the health monitor writes a diagnostic checkpoint if it stops training.
    steps : int
        Environment steps (one gradient update each after warm-up).
    """
    if not 0 <= train_start < train_stop < panel.n_dates:
        raise EvaluationWindowError(
            f"training rows {train_start}..{train_stop} do not fit in the data's "
            f"{panel.n_dates} rows ({panel.dates[0]}..{panel.dates[-1]})")
    if train_stop - train_start < env_config.episode_length:
        raise EvaluationWindowError(
            f"the training span {panel.dates[train_start]}..{panel.dates[train_stop]} has "
            f"{train_stop - train_start} weeks, fewer than one episode "
            f"({env_config.episode_length}); use more data or a shorter --episode-length")
    raw = features if features is not None else build_features(panel, variant, sources=sources,
                                                                progress=progress)
    if scaler is None:
        scaler = FeatureScaler().fit(raw, stop=train_stop)
    feats = scaler.transform(raw)
    core = PortfolioCore(panel.simple_returns(), feats.values, panel.available, env_config)
    env = PortfolioEnv(core, span=(train_start, train_stop), symbols=panel.symbols)
    if algo not in ALGORITHMS:
        from sacfolio.exceptions import ConfigError

        raise ConfigError(f"unknown algorithm {algo!r}; choose from {list(ALGORITHMS)}")
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    common = dict(total_steps=steps, seed=seed, callbacks=callbacks, progress=progress, log_dir=log_dir,
                  description=description, diagnostic_dir=diagnostic_dir)
    if algo == "sac":
        learner = None
        if init is not None:
            learner = SAC(obs_dim, act_dim, config=sac_config, seed=seed)
            learner.load_state_dicts(init.learner.state_dicts())
        result = train_sac(env, config=sac_config, learner=learner, **common)
    else:
        learner = None
        if init is not None:
            learner = PPO(obs_dim, act_dim, config=ppo_config, seed=seed)
            learner.load_state_dicts(init.learner.state_dicts())
        result = train_ppo(env, config=ppo_config, learner=learner, **common)
    return TrainedModel(
        learner=result.learner, scaler=scaler, variant=variant, symbols=panel.symbols,
        feature_names=raw.names, env_config=env_config, sac_config=sac_config,
        train_window=(str(panel.dates[train_start]), str(panel.dates[train_stop])),
        sources=sources, train_result=result, algo=algo,
        ppo_config=ppo_config if algo == "ppo" else None,
    )


def training_rows_until(panel: MarketPanel, until: str | None) -> int:
    """Row of the last date at or before ``until`` (default: the last row)."""
    return panel.n_dates - 1 if until is None else int(panel.index_of(np.datetime64(until, "D")))
