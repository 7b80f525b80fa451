"""From a market panel to a trained policy: features, a scaler fitted on the training
span only, the environment over that span, and SAC (or the PPO baseline).

Walk-forward folds, ``sacfolio train`` and the API's training jobs all go through
:func:`train_model`, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from sacfolio.agents.config import PPOConfig, SACConfig
from sacfolio.agents.learner import ALGORITHMS
from sacfolio.agents.ppo import PPO
from sacfolio.agents.sac import SAC
from sacfolio.data.panel import MarketPanel
from sacfolio.env.config import EnvConfig
from sacfolio.env.core import PortfolioCore
from sacfolio.env.gym_env import PortfolioEnv
from sacfolio.env.layout import ObservationLayout
from sacfolio.exceptions import ConfigError, EvaluationWindowError
from sacfolio.features.blocks import FeatureSet
from sacfolio.features.scaler import FeatureScaler
from sacfolio.features.variants import (UNIVERSAL_VARIANT, FeatureSources, build_features, max_symbols_of,
                                       variant_of_model)
from sacfolio.model.bundle import ModelBundle, member_seed
from sacfolio.train.callbacks import Callback
from sacfolio.train.loop import TrainResult
from sacfolio.train.off_policy import train_sac
from sacfolio.train.on_policy import train_ppo

__all__ = ["PORTFOLIO_PPO", "PORTFOLIO_SAC", "TrainedModel", "ensemble_model", "ensemble_record", "train_model",
           "trained_model", "training_envs", "training_rows_until"]

PORTFOLIO_SAC = SACConfig(reward_scale=100.0, aux=True)
"""SAC settings for portfolio training: the learner's defaults, a reward scale of 100 and the
auxiliary return heads (1 and 4 weeks, MSE x 0.01 each) switched on.

Weekly log returns are ~1e-2, so unscaled rewards are small beside the entropy
bonus (alpha 0.2 over 21 action dimensions) and weight decay; scaled by 100 they
are O(1), as in the SAC paper's reward-scale setting. Measured on the 2019-2020
folds (6,000 + 3,000 steps): CAGR 19.9% with scale 100 vs 15.5% with 1 (1/N: 26.0%);
the synthetic drift market is learned only with the scale.
"""

PORTFOLIO_PPO = PPOConfig(reward_scale=100.0)
"""PPO baseline settings: its defaults with the same reward scale as SAC."""

@dataclass(frozen=True, kw_only=True)
class TrainedModel:
    """A trained learner and the bundle that applies its policy to new data.

    Attributes
    ----------
    learner : SAC or PPO
        ``algo`` says which; warm starts and finetuning continue from its state.
    bundle : ModelBundle
        Policy, scaler (fitted on rows ``< train_stop`` only), layout and settings:
        what backtests and serving use.
    sac_config : SACConfig
    algo : {"sac", "ppo"}
    ppo_config : PPOConfig or None
    train_result : TrainResult or None
        None for a model loaded from storage.
    members : tuple of TrainedModel
        A seed ensemble's other members (single models); ``bundle`` then averages all of
        them (:meth:`ModelBundle.ensemble`). Empty for a single model.
    checked : ModelBundle or None
        A single model trained with a holdout check: the policy the check walked (the pass
        before the whole-window refit, or the parent a finetune checked), kept so that a seed
        ensemble mixing actions can check its members' mean (:func:`ensemble_model`).
    """

    learner: SAC | PPO
    bundle: ModelBundle
    sac_config: SACConfig
    algo: str = "sac"
    ppo_config: PPOConfig | None = None
    train_result: TrainResult | None = None
    members: tuple["TrainedModel", ...] = ()
    checked: ModelBundle | None = None

    @classmethod
    def ensemble(cls, models: Sequence["TrainedModel"], *, mix: str = "weights") -> "TrainedModel":
        """One model of ``models`` (single models trained on the same data with different
        seeds): member 0's learner and training record, a bundle combining all of them by
        ``mix`` (:data:`~sacfolio.model.bundle.ENSEMBLE_MIXES`)."""
        if not models or any(m.members for m in models):
            raise ConfigError("an ensemble is made of one or more single models")
        if len(models) == 1:
            return models[0]
        bundle = ModelBundle.ensemble([m.bundle for m in models], mix=mix)
        return replace(models[0], bundle=bundle, members=tuple(models[1:]))

    def single_models(self) -> tuple["TrainedModel", ...]:
        """Each member as a single model (member 0 first); ``(self,)`` for a single model."""
        if not self.members:
            return (self,)
        first = replace(self, bundle=self.bundle.members()[0], members=())
        return (first,) + self.members

    @classmethod
    def of(cls, learner: SAC | PPO, *, algo: str, sac_config: SACConfig, ppo_config: PPOConfig | None,
           train_result: TrainResult | None = None, **bundle_fields) -> "TrainedModel":
        """Wrap ``learner``, exporting its actor into a :class:`ModelBundle`."""
        config = sac_config if algo == "sac" else ppo_config
        aux = tuple(config.aux_horizons) if getattr(config, "aux", False) else ()
        bundle = ModelBundle.from_actor(learner.actor, aux_horizons=aux,
                                        learner={algo: config.to_dict()}, **bundle_fields)
        return cls(learner=learner, bundle=bundle, sac_config=sac_config, algo=algo,
                   ppo_config=ppo_config if algo == "ppo" else None, train_result=train_result)

    def with_env_config(self, env_config: EnvConfig) -> "TrainedModel":
        """The same model, trading under ``env_config`` (finetuning trains on shorter episodes)."""
        singles = [replace(m, bundle=replace(m.bundle, env_config=env_config)) for m in self.single_models()]
        return TrainedModel.ensemble(singles, mix=self.bundle.ensemble_mix)


def ensemble_model(models: Sequence[TrainedModel], *, mix: str, panel: MarketPanel,
                   features: FeatureSet | None = None, previous: dict | None = None) -> TrainedModel:
    """:meth:`TrainedModel.ensemble` of ``models``; when they mix actions and were each trained
    with a holdout check, the check of their average action decides for all of them
    (:func:`~sacfolio.train.holdout.ensemble_check`; ``previous`` is the warm start's ensemble
    record). ``features`` are ``panel``'s unscaled features when already built."""
    checked = [m.checked for m in models]
    if mix != "actions" or len(models) < 2 or any(c is None for c in checked) or not all(m.bundle.holdout
                                                                                          for m in models):
        return TrainedModel.ensemble(models, mix=mix)
    from sacfolio.train.holdout import ensemble_check

    checks = ensemble_check(ModelBundle.ensemble(checked, mix="actions"), [m.bundle.holdout[0] for m in models],
                            panel, previous=previous, features=features)
    return TrainedModel.ensemble([replace(m, bundle=replace(m.bundle, holdout=(c,)))
                                  for m, c in zip(models, checks)], mix=mix)


def ensemble_record(model: TrainedModel) -> dict | None:
    """The out-of-sample record of ``model``'s ensemble check (None: it had none), what a warm
    start from it pools into."""
    holdout = model.bundle.holdout
    return (holdout[0].get("ensemble") or {}).get("record") if holdout and model.members else None


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
        walk-forward fold from the previous one; both saw only earlier data). A seed
        ensemble trains each member from its own weights, member k with seed
        ``seed + 1000 k``, and stays an ensemble.
    scaler : FeatureScaler, optional
        Use this fitted scaler (finetuning keeps its parent's) instead of fitting one
        on rows ``< train_stop``.
    features : FeatureSet, optional
        The unscaled :func:`build_features` of ``panel`` when already computed.
    sources : FeatureSources
        News and fundamentals inputs of the signal variants.
    algo : {"sac", "ppo"}
        SAC (``sac_config``) or the PPO baseline (``ppo_config``).
    diagnostic_dir : path, optional
        Where the health monitor writes a diagnostic checkpoint if it stops training.
    steps : int
        Environment steps (one gradient update each after warm-up).
    """
    if init is not None and init.members:
        return ensemble_model([
            train_model(panel, train_stop=train_stop, train_start=train_start, variant=variant,
                        env_config=env_config, sac_config=sac_config, steps=steps, seed=member_seed(seed, k),
                        init=single, scaler=scaler, features=features, algo=algo, ppo_config=ppo_config,
                        diagnostic_dir=diagnostic_dir, sources=sources, callbacks=callbacks, progress=progress,
                        log_dir=None if log_dir is None or k == 0 else Path(log_dir) / f"member_{k}",
                        description=f"{description} member {k}".strip())
            for k, single in enumerate(init.single_models())], mix=init.bundle.ensemble_mix, panel=panel,
            features=features, previous=ensemble_record(init))
    _check_span(panel, train_start, train_stop, env_config)
    if algo not in ALGORITHMS:
        raise ConfigError(f"unknown algorithm {algo!r}; choose from {list(ALGORITHMS)}")
    if algo == "sac" and sac_config.holdout_weeks:
        return _train_with_holdout(panel, train_start=train_start, train_stop=train_stop, variant=variant,
                                   env_config=env_config, sac_config=sac_config, steps=steps, seed=seed, init=init,
                                   scaler=scaler, features=features, diagnostic_dir=diagnostic_dir, sources=sources,
                                   callbacks=callbacks, progress=progress, log_dir=log_dir, description=description)
    if variant_of_model(variant) == UNIVERSAL_VARIANT:  # the slot transformer: same SAC, its own env
        from sacfolio.train.universal import train_universal

        return train_universal(panel, train_stop=train_stop, train_start=train_start, env_config=env_config,
                               max_symbols=max_symbols_of(variant),
                               sac_config=sac_config, steps=steps, seed=seed, init=init, scaler=scaler,
                               features=features, algo=algo, sources=sources, callbacks=callbacks,
                               progress=progress, log_dir=log_dir, description=description,
                               diagnostic_dir=diagnostic_dir)
    raw, scaler, (env,) = training_envs(panel, train_start=train_start, train_stop=train_stop, variant=variant,
                                        env_config=env_config, features=features, scaler=scaler, sources=sources,
                                        progress=progress)
    common = dict(total_steps=steps, seed=seed, callbacks=callbacks, progress=progress, log_dir=log_dir,
                  description=description, diagnostic_dir=diagnostic_dir)
    result = _fit(env, algo, sac_config if algo == "sac" else ppo_config, init, seed, common)
    return trained_model(result, algo=algo, sac_config=sac_config, ppo_config=ppo_config, panel=panel, raw=raw,
                         scaler=scaler, variant=variant, env_config=env_config, sources=sources,
                         train_window=(train_start, train_stop))


def _train_with_holdout(panel: MarketPanel, *, train_stop: int, sac_config: SACConfig, steps: int,
                        features: FeatureSet | None, **common) -> TrainedModel:
    """:mod:`sacfolio.train.holdout`'s procedure: train without the last W weeks (without any
    week after a warm start's own window), check the tilts there, train on over the whole
    window; the bundle records the check and the out-of-sample record it pools into.

    A warm start whose window leaves too little before its unseen weeks to train a first
    pass on (a finetune of the last 26 weeks after its parent's window) checks the parent
    itself on those weeks, which it never saw, then trains ``steps`` over the window."""
    from sacfolio.train.holdout import (REFIT_SHARE, check_holdout_learner, check_holdout_settings, holdout_check,
                                        holdout_decision, pooled_record)

    weeks, env_config, variant = sac_config.holdout_weeks, common["env_config"], common["variant"]
    init = common["init"]
    # a warm start saw its own training window: only the weeks after it are out of its sample
    seen = -1 if init is None else training_rows_until(panel, init.bundle.train_window[1])
    split = max(train_stop - weeks, seen)
    minimum = max(env_config.episode_length, 52)
    parent_checked = init is not None and split - common["train_start"] < minimum
    learner = dict(action_mode=env_config.action_mode, algo="sac",
                   universal=variant_of_model(variant) == UNIVERSAL_VARIANT)
    if parent_checked:
        check_holdout_learner(**learner)
    else:
        check_holdout_settings(weeks=weeks, train_start=common["train_start"], train_stop=train_stop,
                               episode_length=env_config.episode_length, **learner)
    inner = replace(sac_config, holdout_weeks=0)
    raw = features if features is not None else build_features(panel, variant, sources=common["sources"],
                                                                progress=common["progress"])
    if train_stop - split < 8:
        raise EvaluationWindowError(f"the warm start {init.bundle.train_window} leaves {train_stop - split} weeks "
                                    "it has not seen before the end of training; the holdout check needs 8")
    if parent_checked:
        first, refit_steps = init, steps
        checked = replace(init.bundle, holdout=())  # its own policy, whatever its last check said
    else:
        # the pass before the check logs to its own TensorBoard run: the refit's step counter restarts at 0
        log_dir = common["log_dir"]
        first = train_model(panel, train_stop=split, sac_config=inner, steps=steps, features=raw,
                            **{**common, "log_dir": None if log_dir is None else Path(log_dir) / "before_holdout"})
        checked, refit_steps = first.bundle, max(1, round(steps * REFIT_SHARE))
    check = holdout_check(checked, panel, start=split, stop=train_stop, min_t=sac_config.holdout_min_t,
                          features=raw, sizing=sac_config.holdout_sizing)
    check["record"] = pooled_record(init.bundle.holdout[0].get("record") if init and init.bundle.holdout else None,
                                    check)
    check.update(holdout_decision(check["record"], min_t=sac_config.holdout_min_t, sizing=sac_config.holdout_sizing))
    if parent_checked:
        check["checked"] = "parent"
    common = {**common, "init": first, "scaler": first.bundle.scaler}
    final = train_model(panel, train_stop=train_stop, sac_config=inner, steps=refit_steps, features=raw, **common)
    bundle = replace(final.bundle, holdout=(check,), learner={"sac": sac_config.to_dict()})
    if parent_checked:
        return replace(final, bundle=bundle, sac_config=sac_config, checked=checked)
    a, b = first.train_result, final.train_result
    both = replace(b, episode_returns=[*a.episode_returns, *b.episode_returns], n_steps=a.n_steps + b.n_steps,
                   n_updates=a.n_updates + b.n_updates, wall_seconds=a.wall_seconds + b.wall_seconds,
                   stopped_early=a.stopped_early or b.stopped_early,
                   lr_warnings=list(dict.fromkeys([*a.lr_warnings, *b.lr_warnings])))
    return replace(final, bundle=bundle, sac_config=sac_config, train_result=both, checked=checked)


def training_envs(panel: MarketPanel, *, train_start: int, train_stop: int, variant: str, env_config: EnvConfig,
                  features: FeatureSet | None, scaler: FeatureScaler | None, sources: FeatureSources,
                  progress: bool, count: int = 1) -> tuple[FeatureSet, FeatureScaler, list[PortfolioEnv]]:
    """The unscaled features, the scaler (fitted on rows ``< train_stop`` unless given) and
    ``count`` identical training envs over rows ``train_start .. train_stop`` (one per learner)."""
    _check_span(panel, train_start, train_stop, env_config)
    raw = features if features is not None else build_features(panel, variant, sources=sources,
                                                                progress=progress)
    if scaler is None:
        scaler = FeatureScaler().fit(raw, stop=train_stop)
    feats = scaler.transform(raw)
    envs = [PortfolioEnv(PortfolioCore(panel.simple_returns(), feats.values, panel.available, env_config,
                                       training=True, panel=panel),
                         span=(train_start, train_stop), symbols=panel.symbols) for _ in range(count)]
    return raw, scaler, envs


def trained_model(result: TrainResult, *, algo: str, sac_config: SACConfig, ppo_config: PPOConfig,
                  panel: MarketPanel, raw: FeatureSet, scaler: FeatureScaler, variant: str, env_config: EnvConfig,
                  sources: FeatureSources, train_window: tuple[int, int]) -> TrainedModel:
    """The :class:`TrainedModel` of a training run on ``panel``'s rows ``train_window``."""
    return TrainedModel.of(
        result.learner, algo=algo, sac_config=sac_config, ppo_config=ppo_config, train_result=result,
        scaler=scaler, variant=variant, layout=ObservationLayout(symbols=panel.symbols, features=raw.names),
        env_config=env_config, sources=sources,
        train_window=(str(panel.dates[train_window[0]]), str(panel.dates[train_window[1]])))


def _check_span(panel: MarketPanel, train_start: int, train_stop: int, env_config: EnvConfig) -> None:
    if not 0 <= train_start < train_stop < panel.n_dates:
        raise EvaluationWindowError(
            f"training rows {train_start}..{train_stop} do not fit in the data's "
            f"{panel.n_dates} rows ({panel.dates[0]}..{panel.dates[-1]})")
    if train_stop - train_start < env_config.episode_length:
        raise EvaluationWindowError(
            f"the training span {panel.dates[train_start]}..{panel.dates[train_stop]} has "
            f"{train_stop - train_start} weeks, fewer than one episode "
            f"({env_config.episode_length}); use more data or a shorter --episode-length")


def _fit(env: PortfolioEnv, algo: str, config: SACConfig | PPOConfig, init: TrainedModel | None,
         seed: int, common: dict) -> TrainResult:
    """Train a new learner, or one that starts from ``init``'s weights."""
    learner_cls, train = (SAC, train_sac) if algo == "sac" else (PPO, train_ppo)
    learner = None
    if init is not None:
        obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
        learner = learner_cls(obs_dim, act_dim, config=config, seed=seed)
        learner.load_state_dicts(init.learner.state_dicts())
    return train(env, config=config, learner=learner, **common)


def training_rows_until(panel: MarketPanel, until: str | None) -> int:
    """Row of the last date at or before ``until`` (default: the last row)."""
    return panel.n_dates - 1 if until is None else int(panel.index_of(np.datetime64(until, "D")))
