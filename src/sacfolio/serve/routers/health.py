"""``GET /health``: what is served, what failed to load, and whether the installation works."""

from __future__ import annotations

import torch
from fastapi import APIRouter

from sacfolio.diagnostics.doctor import failed, run_checks
from sacfolio.exceptions import SacfolioError
from sacfolio.serve.deps import ServiceDep
from sacfolio.serve.models import CheckView, GateNote, HealthResponse, ModelHealth
from sacfolio.serve.routers.paper import paper_health
from sacfolio.serve.service import Service

__all__ = ["router", "model_health"]

router = APIRouter(tags=["health"])


def last_decision(service: Service, name: str) -> GateNote | None:
    """The newest gate entry of ``name``'s history (None when none or unreadable)."""
    try:
        history = service.registry.history(name)
    except SacfolioError:
        return None
    for entry in reversed(history):
        if entry.get("action") == "gate":
            return GateNote(version=entry.get("version"), promoted=bool(entry.get("promoted")),
                            reason=str(entry.get("reason", "")), time=entry.get("time"))
    return None


def model_health(service: Service) -> dict[str, ModelHealth]:
    """Serving state of every model the service serves, with the newest gate decision."""
    out = {}
    for name in service.settings.models:
        slot = service.cache.slots[name]
        serving = slot.serving
        note = last_decision(service, name)
        reason = None if serving else slot.fallback_reason(name, service.registry.root)
        if reason is not None and note is not None and not note.promoted:
            reason += f"; the gate kept version {note.version}: {note.reason}"
        out[name] = ModelHealth(
            enabled=True, loaded=serving is not None, source="model" if serving else "fallback",
            version=serving.version if serving else None, current=slot.current,
            promoted_at=serving.promoted_at if serving else None,
            loaded_at=serving.loaded_at.isoformat() if serving else None,
            load_error=slot.load_error, reason=reason, last_decision=note)
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
        registry=service.registry.root, paper=paper_health(service.settings))
