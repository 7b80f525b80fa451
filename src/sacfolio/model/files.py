"""A bundle to and from the JSON documents and state dicts of a model version.

``config.json`` holds the variant, the feature sources, the learner's settings, the
env settings and the state layout; ``scaler.json`` the fitted scaler;
``symbol_order.json`` the symbol slots; ``actor.pt`` the actor's state dict (a seed
ensemble of K adds ``member1_actor.pt`` .. ``member<K-1>_actor.pt`` and says
``"ensemble": {"members": K, "mix": ...}`` in ``config.json``). Loading
reads only those: it builds the actor, never a critic or an optimizer, and runs no
code (state dicts are loaded by the registry with ``weights_only=True``).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from sacfolio.agents.config import SACConfig
from sacfolio.agents.learner import build_actor
from sacfolio.agents.networks import GaussianActor, load_module_states
from sacfolio.env.config import EnvConfig
from sacfolio.env.layout import ObservationLayout
from sacfolio.exceptions import CorruptArtifactError, LayoutMismatchError
from sacfolio.features.scaler import FeatureScaler
from sacfolio.features.variants import FeatureSources
from sacfolio.model.bundle import ModelBundle

__all__ = ["BUNDLE_FILES", "ENSEMBLE_RULES", "bundle_documents", "ensemble_mix", "ensemble_size", "load_bundle",
           "member_file", "sac_actor"]

BUNDLE_FILES = ("actor.pt", "scaler.json", "config.json", "symbol_order.json")
"""What serving reads of a version."""


def member_file(member: int, name: str) -> str:
    """File name of ensemble member ``member``'s ``name`` (member 0 keeps the plain name)."""
    return name if member == 0 else f"member{member}_{name}"


ENSEMBLE_RULES = {"weights": "trades the average of the members' target weights",
                  "actions": "trades the target of the members' average action"}
"""The sentence ``config.json`` gives for each :data:`~sacfolio.model.bundle.ENSEMBLE_MIXES` entry."""


def ensemble_mix(documents: Mapping[str, Any]) -> str:
    """How a version's ensemble combines its members (``"weights"`` for files that predate the choice)."""
    mix = (documents["config.json"].get("ensemble") or {}).get("mix", "weights")
    if mix not in ENSEMBLE_RULES:
        raise CorruptArtifactError(f"config.json ensemble mix {mix!r} must be one of {sorted(ENSEMBLE_RULES)}")
    return mix


def ensemble_size(documents: Mapping[str, Any]) -> int:
    """How many seed-ensemble members a version's ``config.json`` declares (1 for a single model)."""
    members = (documents["config.json"].get("ensemble") or {}).get("members", 1)
    if isinstance(members, bool) or not isinstance(members, int) or not 1 <= members <= 64:
        raise CorruptArtifactError(f"config.json ensemble members {members!r} must be a whole number in 1..64")
    return members


def sac_actor(config: SACConfig, layout: ObservationLayout, *, seed: int = 0) -> GaussianActor:
    """An (untrained) actor of the shape a SAC learner with ``config`` builds for ``layout``."""
    return build_actor(config, layout.obs_dim, layout.act_dim, generator=torch.Generator().manual_seed(seed))


def bundle_documents(bundle: ModelBundle) -> dict[str, Any]:
    """``scaler.json``, ``config.json`` and ``symbol_order.json`` of ``bundle``."""
    config = {
        "variant": bundle.variant,
        "sources": bundle.sources.to_dict(),
        **bundle.learner,
        "env": bundle.env_config.to_dict(),
        "state_layout": bundle.layout.to_dict(),
    }
    if hasattr(bundle, "slot_documents"):  # a universal model: its slots, flat layout, transformer sizes
        config.update(bundle.slot_documents())
    if bundle.holdout:
        config["holdout"] = [dict(c) for c in bundle.holdout]
    if bundle.n_members > 1:
        config["ensemble"] = {"members": bundle.n_members, "mix": bundle.ensemble_mix,
                              "rule": ENSEMBLE_RULES[bundle.ensemble_mix]}
    return {"scaler.json": bundle.scaler.to_dict(), "config.json": config,
            "symbol_order.json": list(bundle.symbols)}


def read_layout(documents: Mapping[str, Any], version: str = "") -> ObservationLayout:
    """The state layout of a version; ``symbol_order.json`` must agree with ``config.json``."""
    missing = [f for f in BUNDLE_FILES if f.endswith(".json") and f not in documents]
    if missing:
        raise CorruptArtifactError(f"version {version} lacks {missing}; it is not a sacfolio model")
    layout = ObservationLayout.from_dict(documents["config.json"]["state_layout"])
    symbols = tuple(documents["symbol_order.json"])
    if layout.symbols != symbols:
        raise LayoutMismatchError(f"config.json symbols {list(layout.symbols)} differ from "
                                  f"symbol_order.json {list(symbols)} in version {version}")
    return layout


def load_bundle(tensors: Mapping[str, Mapping[str, torch.Tensor]], documents: Mapping[str, Any],
                metadata: Mapping[str, Any] | None = None, *, version: str = "") -> ModelBundle:
    """The bundle of a saved SAC model: its actor, scaler, layout and settings."""
    if "actor.pt" not in tensors:
        raise CorruptArtifactError(f"version {version} lacks actor.pt; it is not a SAC model")
    if "slots" in documents.get("config.json", {}):
        from sacfolio.model.universal import load_universal_bundle

        return load_universal_bundle(tensors, documents, metadata, version=version)
    layout = read_layout(documents, version)
    config = documents["config.json"]
    sac_config = SACConfig.from_dict(config["sac"])
    names = [member_file(k, "actor.pt") for k in range(ensemble_size(documents))]
    actors = {name: sac_actor(sac_config, layout) for name in names}
    load_module_states(actors, tensors, expected=tuple(names),
                       shapes=f"obs_dim={layout.obs_dim}, act_dim={layout.act_dim}, "
                              f"hidden_sizes={sac_config.hidden_sizes}, aux={sac_config.aux}")
    window = (metadata or {}).get("train_window") or ["", ""]
    fields = dict(scaler=FeatureScaler.from_dict(documents["scaler.json"]), variant=str(config["variant"]),
                  layout=layout, env_config=EnvConfig.from_dict(config["env"]),
                  sources=FeatureSources(**(config.get("sources") or {})),
                  train_window=(str(window[0]), str(window[1])),
                  aux_horizons=tuple(sac_config.aux_horizons) if sac_config.aux else (),
                  learner={"sac": sac_config.to_dict()})
    checks = [dict(c) for c in config.get("holdout") or ()]
    if checks and len(checks) != len(actors):
        raise CorruptArtifactError(f"config.json has {len(checks)} holdout checks for {len(actors)} members "
                                   f"in version {version}")
    return ModelBundle.ensemble([ModelBundle.from_actor(a.eval(), **fields, holdout=(c,) if c else ())
                                 for a, c in zip(actors.values(), checks or [{}] * len(actors))],
                                mix=ensemble_mix(documents))
