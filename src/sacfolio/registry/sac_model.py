"""A trained SAC model to and from registry artifacts (seed 001's layout).

``actor.pt critic.pt critic_target.pt log_alpha.pt`` are state_dicts;
``scaler.json config.json symbol_order.json`` are JSON. Nothing is pickled, so
loading a version can never run code.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sacfolio.agents.config import SACConfig
from sacfolio.agents.sac import SAC
from sacfolio.env.config import EnvConfig
from sacfolio.exceptions import CorruptArtifactError, LayoutMismatchError
from sacfolio.features.scaler import FeatureScaler
from sacfolio.registry.artifacts import ModelArtifacts
from sacfolio.train.pipeline import FeatureSources, TrainedModel

__all__ = ["SAC_FILES", "to_artifacts", "from_artifacts"]

SAC_FILES = ("actor.pt", "critic.pt", "critic_target.pt", "log_alpha.pt",
             "scaler.json", "config.json", "symbol_order.json")


def to_artifacts(model: TrainedModel, *, metadata: dict[str, Any]) -> ModelArtifacts:
    """Package ``model`` for :meth:`Registry.save`; ``metadata`` goes to metadata.json.

    Only SAC models are registered; the PPO baseline is trained for comparison only.
    """
    if model.algo != "sac":
        from sacfolio.exceptions import ConfigError

        raise ConfigError(f"only SAC models are registered, got a {model.algo!r} model")
    n, f = len(model.symbols), len(model.feature_names)
    config = {
        "variant": model.variant,
        "sources": model.sources.to_dict(),
        "sac": model.sac_config.to_dict(),
        "env": asdict(model.env_config),
        "state_layout": {
            "features": list(model.feature_names),
            "symbols": list(model.symbols),
            "obs_dim": n * f + n + 1,
            "act_dim": n + 1,
            "order": "features[symbol][feature] then weights[symbols..., CASH]",
        },
    }
    return ModelArtifacts(
        tensors=model.learner.state_dicts(),
        documents={"scaler.json": model.scaler.to_dict(), "config.json": config,
                   "symbol_order.json": list(model.symbols)},
        metadata={**metadata, "variant": model.variant, "train_window": list(model.train_window),
                  "universe": list(model.symbols)},
    )


def from_artifacts(artifacts: ModelArtifacts) -> TrainedModel:
    """Rebuild a model (learner, scaler, configs) from a loaded version."""
    missing = [f for f in SAC_FILES if f not in artifacts.tensors and f not in artifacts.documents]
    if missing:
        raise CorruptArtifactError(f"version {artifacts.version} lacks {missing}; it is not a SAC model")
    config = artifacts.documents["config.json"]
    layout = config["state_layout"]
    symbols = tuple(artifacts.documents["symbol_order.json"])
    if tuple(layout["symbols"]) != symbols:
        raise LayoutMismatchError(f"config.json symbols {layout['symbols']} differ from "
                                  f"symbol_order.json {list(symbols)} in version {artifacts.version}")
    sac_config = SACConfig.from_dict(config["sac"])
    learner = SAC(int(layout["obs_dim"]), int(layout["act_dim"]), config=sac_config)
    learner.load_state_dicts(artifacts.tensors)
    window = artifacts.metadata.get("train_window") or ["", ""]
    return TrainedModel(
        learner=learner,
        scaler=FeatureScaler.from_dict(artifacts.documents["scaler.json"]),
        variant=str(config["variant"]),
        symbols=symbols,
        feature_names=tuple(layout["features"]),
        env_config=EnvConfig(**config["env"]),
        sac_config=sac_config,
        train_window=(str(window[0]), str(window[1])),
        sources=FeatureSources(**(config.get("sources") or {})),
    )
