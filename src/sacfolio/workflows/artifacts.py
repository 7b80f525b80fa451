"""A trained model to and from registry artifacts.

``actor.pt critic.pt critic_target.pt log_alpha.pt`` are state_dicts;
``scaler.json config.json symbol_order.json`` are JSON (see :mod:`sacfolio.model.files`).
Nothing is pickled, so loading a version can never run code. Serving loads only the
bundle (:func:`bundle_from_artifacts`); finetuning needs the whole learner
(:func:`trained_from_artifacts`).
"""

from __future__ import annotations

from typing import Any

from sacfolio.agents.config import SACConfig
from sacfolio.agents.sac import SAC
from sacfolio.exceptions import ConfigError, CorruptArtifactError
from sacfolio.model.bundle import ModelBundle
from sacfolio.model.files import bundle_documents, load_bundle, member_file, read_layout
from sacfolio.registry.artifacts import ModelArtifacts
from sacfolio.train.portfolio import TrainedModel

__all__ = ["SAC_FILES", "to_artifacts", "bundle_from_artifacts", "trained_from_artifacts"]

SAC_FILES = ("actor.pt", "critic.pt", "critic_target.pt", "log_alpha.pt",
             "scaler.json", "config.json", "symbol_order.json")
"""Every file of a registered SAC version (finetuning restores all of them)."""


def to_artifacts(model: TrainedModel, *, metadata: dict[str, Any]) -> ModelArtifacts:
    """Package ``model`` for :meth:`Registry.save`; ``metadata`` goes to metadata.json.

    Only SAC models are registered; the PPO baseline is trained for comparison only.
    """
    if model.algo != "sac":
        raise ConfigError(f"only SAC models are registered, got a {model.algo!r} model")
    bundle = model.bundle
    tensors = {member_file(k, f): state for k, single in enumerate(model.single_models())
               for f, state in single.learner.state_dicts().items()}
    return ModelArtifacts(
        tensors=tensors,
        documents=bundle_documents(bundle),
        metadata={**metadata, "variant": bundle.variant, "train_window": list(bundle.train_window),
                  "universe": list(bundle.symbols)},
    )


def bundle_from_artifacts(artifacts: ModelArtifacts) -> ModelBundle:
    """The bundle of a loaded version: actor, scaler, layout and settings (no learner)."""
    return load_bundle(artifacts.tensors, artifacts.documents, artifacts.metadata,
                       version=str(artifacts.version))


def trained_from_artifacts(artifacts: ModelArtifacts) -> TrainedModel:
    """Rebuild the learner (actor, critics, temperature) and bundle of a loaded version
    (of each member, for a seed ensemble)."""
    missing = [f for f in SAC_FILES if f not in artifacts.tensors and f not in artifacts.documents]
    if missing:
        raise CorruptArtifactError(f"version {artifacts.version} lacks {missing}; it is not a SAC model")
    layout = read_layout(artifacts.documents, str(artifacts.version))
    sac_config = SACConfig.from_dict(artifacts.documents["config.json"]["sac"])
    loaded = bundle_from_artifacts(artifacts)
    bundles = loaded.members()
    singles = []
    for k, bundle in enumerate(bundles):
        names = {member_file(k, f): f for f in SAC_FILES if f.endswith(".pt")}
        absent = [n for n in names if n not in artifacts.tensors]
        if absent:
            raise CorruptArtifactError(f"version {artifacts.version} lacks {absent} of ensemble member {k}")
        learner = _universal_learner(bundle, sac_config) if hasattr(bundle, "slot_layout") else \
            SAC(layout.obs_dim, layout.act_dim, config=sac_config)
        learner.load_state_dicts({f: artifacts.tensors[n] for n, f in names.items()})
        singles.append(TrainedModel(learner=learner, bundle=bundle, sac_config=sac_config))
    return TrainedModel.ensemble(singles, mix=loaded.ensemble_mix)


def _universal_learner(bundle: ModelBundle, sac_config: SACConfig) -> SAC:
    """An empty SAC learner with a universal bundle's slot actor and critics."""
    from sacfolio.agents.universal_critic import UniversalModules

    layout = bundle.slot_layout  # type: ignore[attr-defined]
    modules = UniversalModules(layout=layout, spec=bundle.spec, config=bundle.universal)  # type: ignore[attr-defined]
    return SAC(layout.obs_dim, layout.act_dim, config=sac_config, modules=modules)
