"""Versioned model registry: artifacts, storage backends, the ``current`` pointer and the promotion gate.

The registry is generic over what it stores (it never imports agents, env, train or
serve); the CLI group lives in :mod:`sacfolio.registry.cli`.
"""

from sacfolio.registry.artifacts import ModelArtifacts, check_layout, environment_metadata
from sacfolio.registry.gate import (
    GateEvaluation,
    GateWindow,
    PromotionDecision,
    PromotionGate,
    decide_promotion,
    gate_cagr_by_version,
)
from sacfolio.registry.registry import (
    GcReport,
    Registry,
    default_root,
    new_version_id,
    registry_root_for,
)

__all__ = [
    "GateEvaluation",
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
