"""Training the universal model: the slot env, the slot transformer, the same SAC.

:func:`train_universal` is what :func:`~sacfolio.train.portfolio.train_model` runs for
``variant="universal"``: price features scaled on the training rows only, the market's
symbols in MAX_SYMBOLS slots with the zoo's advisors (:mod:`sacfolio.env.slot_env`),
and :class:`~sacfolio.agents.sac.SAC` with the slot actor and critics
(:class:`~sacfolio.agents.universal_critic.UniversalModules`) trained by the ordinary
:func:`~sacfolio.train.off_policy.train_sac` loop.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from sacfolio.agents.config import SACConfig
from sacfolio.agents.sac import SAC
from sacfolio.agents.universal import UniversalConfig
from sacfolio.agents.universal_critic import UniversalModules
from sacfolio.data.panel import MarketPanel
from sacfolio.env.config import EnvConfig
from sacfolio.env.layout import ObservationLayout
from sacfolio.env.slot_env import SlotEnv, slot_core
from sacfolio.env.slots import SlotSpec
from sacfolio.exceptions import ConfigError
from sacfolio.features.blocks import FeatureSet
from sacfolio.features.scaler import FeatureScaler
from sacfolio.features.variants import DEFAULT_MAX_SYMBOLS, UNIVERSAL_VARIANT, FeatureSources, build_features
from sacfolio.model.universal import UniversalBundle
from sacfolio.strategies.zoo import ADVISORS
from sacfolio.train.callbacks import Callback
from sacfolio.train.off_policy import train_sac

if TYPE_CHECKING:  # pragma: no cover
    from sacfolio.train.portfolio import TrainedModel

__all__ = ["UNKNOWN_RATE", "train_universal", "universal_sac_config"]

UNKNOWN_RATE = 0.05
"""Share of symbols a training episode shows as never seen (``unknown_id``), so the shared
embedding that serves new listings is trained rather than left at its initial draw."""


def universal_sac_config(config: SACConfig, spec: SlotSpec, n_symbols: int) -> SACConfig:
    """``config`` for the slot actor: no aux heads, and (unless set) a target entropy of
    minus the action dimensions that are live in training (padded slots have none)."""
    entropy = config.target_entropy if config.target_entropy is not None else -float(n_symbols + 1 + spec.n_advisors)
    return replace(config, aux=False, target_entropy=entropy)


def train_universal(panel: MarketPanel, *, train_stop: int, train_start: int = 0,
                    env_config: EnvConfig = EnvConfig(), sac_config: SACConfig = SACConfig(), steps: int,
                    seed: int, init: "TrainedModel | None" = None, scaler: FeatureScaler | None = None,
                    features: FeatureSet | None = None, max_symbols: int = DEFAULT_MAX_SYMBOLS,
                    advisors: tuple[str, ...] = ADVISORS, universal: UniversalConfig = UniversalConfig(),
                    algo: str = "sac", sources: FeatureSources = FeatureSources(),
                    callbacks: Sequence[Callback] = (), progress: bool = True, log_dir: str | Path | None = None,
                    description: str = "", diagnostic_dir: str | Path | None = None) -> "TrainedModel":
    """Train the universal model on rows ``train_start .. train_stop`` of ``panel`` and nothing after.

    ``init`` (a universal model) is continued with its own slots, vocabulary, advisors
    and sizes; otherwise the panel's symbols are the vocabulary. Other parameters as
    in :func:`~sacfolio.train.portfolio.train_model`.
    """
    from sacfolio.train.portfolio import TrainedModel

    if algo != "sac":
        raise ConfigError(f"the universal model trains with SAC only, got algo={algo!r}")
    if sac_config.network != "mlp":
        raise ConfigError(f"the universal model has its own slot transformer; network={sac_config.network!r} "
                          "applies to the flat variants only")
    raw = features if features is not None else build_features(panel, UNIVERSAL_VARIANT)
    if init is not None:
        if not isinstance(init.bundle, UniversalBundle):
            raise ConfigError("a universal model can only continue from a universal model")
        spec, universal = init.bundle.spec, init.bundle.universal
    else:
        spec = SlotSpec(max_symbols=max_symbols, vocabulary=panel.symbols, advisors=tuple(advisors))
    scaler = scaler if scaler is not None else FeatureScaler().fit(raw, stop=train_stop)
    core = slot_core(panel, scaler.transform(raw), spec, env_config, training=True)
    env = SlotEnv(core, span=(train_start, train_stop), unknown_rate=UNKNOWN_RATE)
    config = universal_sac_config(sac_config, spec, panel.n_symbols)
    modules = UniversalModules(layout=core.layout, spec=spec, config=universal)
    learner = SAC(core.obs_dim, core.slot_act_dim, config=config, seed=seed, modules=modules)
    if init is not None:
        learner.load_state_dicts(init.learner.state_dicts())
    result = train_sac(env, config=config, total_steps=steps, seed=seed, learner=learner, callbacks=callbacks,
                       progress=progress, log_dir=log_dir, description=description or "universal",
                       diagnostic_dir=diagnostic_dir)
    bundle = UniversalBundle.from_actor(
        learner.actor, scaler=scaler, variant=UNIVERSAL_VARIANT,
        layout=ObservationLayout(symbols=spec.vocabulary, features=raw.names), env_config=env_config,
        sources=sources, train_window=(str(panel.dates[train_start]), str(panel.dates[train_stop])),
        learner={"sac": config.to_dict()}, spec=spec, universal=universal)
    return TrainedModel(learner=learner, bundle=bundle, sac_config=config, algo="sac", train_result=result)
