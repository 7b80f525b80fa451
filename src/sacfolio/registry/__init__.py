"""Versioned model registry: artifacts, storage backends, the ``current`` pointer and the promotion gate.

The registry is generic over what it stores (it never imports agents, env, train or
serve); the CLI group lives in :mod:`sacfolio.cli.registry`.
"""

from sacfolio.registry.artifacts import ModelArtifacts, check_layout, environment_metadata
from sacfolio.registry.cleanup import GcReport
from sacfolio.registry.decision import GateEvaluation, GateWindow, PromotionDecision, gate_cagr_by_version
from sacfolio.registry.gate import GateSetup, PromotionGate, decide_promotion
from sacfolio.registry.registry import Registry
from sacfolio.registry.roots import default_root, registry_root_for
from sacfolio.registry.versions import new_version_id

__all__ = [
    "GateEvaluation",
    "GateSetup",
    "GateWindow",
    "GcReport",
    "ModelArtifacts",
    "PromotionDecision",
    "PromotionGate",
    "Registry",
    "check_layout",
    "decide_promotion",
    "default_root",
    "environment_metadata",
    "gate_cagr_by_version",
    "new_version_id",
    "registry_root_for",
]
