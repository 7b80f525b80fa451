"""``GET /health``: what is served, what failed to load, and whether the installation works."""

from __future__ import annotations

import torch
from fastapi import APIRouter

from sacfolio.diagnostics.doctor import failed, run_checks
from sacfolio.serve.deps import ServiceDep
from sacfolio.serve.models import CheckView, HealthResponse, ModelHealth
from sacfolio.serve.service import Service

__all__ = ["router", "model_health"]

router = APIRouter(tags=["health"])


def model_health(service: Service) -> dict[str, ModelHealth]:
    """Serving state of every model the service serves."""
    out = {}
    for name in service.settings.models:
        slot = service.cache.slots[name]
        serving = slot.serving
        out[name] = ModelHealth(
            enabled=True, loaded=serving is not None, source="model" if serving else "fallback",
            version=serving.version if serving else None, current=slot.current,
            promoted_at=serving.promoted_at if serving else None,
            loaded_at=serving.loaded_at.isoformat() if serving else None,
            load_error=slot.load_error,
            reason=None if serving else slot.fallback_reason(name, service.registry.root))
    return out


@router.get("/health", response_model=HealthResponse, summary="Service and model health")
def health(service: ServiceDep) -> HealthResponse:
    """`status` is `ok` when every model is loaded without errors and every required check passes.

    `sac_enabled`: the service serves at least one SAC model; `sac_loaded`: at least one
    is loaded (``sac_enabled`` / ``sac_loaded``). Each model reports its version, load error and the
    reason when the fallback is served.
    """
    models = model_health(service)
    home = service.settings.home
    checks = run_checks(models_dir=None if "://" in home else home)
    ok = not failed(checks) and all(m.loaded and not m.load_error for m in models.values())
    return HealthResponse(
        status="ok" if ok else "degraded", sac_enabled=bool(models),
        sac_loaded=any(m.loaded for m in models.values()), models=models, torch=torch.__version__,
        checks=[CheckView(name=c.name, ok=c.ok, detail=c.detail, fix=c.fix, required=c.required) for c in checks],
        registry=service.registry.root)
