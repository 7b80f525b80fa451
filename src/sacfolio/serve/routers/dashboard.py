"""``/dashboard/``: a self-refreshing page of model status, allocation, evaluation and jobs.

Charts use plotly.js served from the installed ``plotly`` package (no CDN: the
machine may be offline). The page reads ``GET /dashboard/data``.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sacfolio.exceptions import SacfolioError
from sacfolio.serve.decisions import decide
from sacfolio.serve.deps import ServiceDep
from sacfolio.serve.jobs import jsonable
from sacfolio.serve.models import JobView
from sacfolio.serve.routers.health import model_health

__all__ = ["router", "latest_evaluation"]

router = APIRouter(tags=["dashboard"])
_STATIC = resources.files("sacfolio.serve") / "static"
_TYPES = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}


@lru_cache(maxsize=1)
def _plotly_js() -> bytes:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode("utf-8")


def latest_evaluation(reports_dir: Path | None) -> dict[str, Any]:
    """Equity by strategy from the newest ``metrics.json`` under ``reports_dir``.

    The weekly equity comes from the ``equity.csv`` beside it; for a run without one, the
    curve is the product of each walk-forward fold's final value, one point per fold end.
    Returns ``{"message": ...}`` when there is none.
    """
    if reports_dir is None:
        return {"message": "no evaluation yet (set reports_dir to the directory of `sacfolio demo` runs)"}
    root = Path(reports_dir)
    found = [p for p in [root / "metrics.json", *root.glob("*/metrics.json")] if p.is_file()]
    if not found:
        return {"message": f"no evaluation yet: no metrics.json in {root} or its subdirectories"}
    path = max(found, key=lambda p: p.stat().st_mtime)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        folds = doc["folds"]
        names = list(doc["total"])
        x = [folds[0]["start"]] + [f["end"] for f in folds]
        equity: dict[str, list[float | None]] = {}
        for n in names:
            value, curve = 1.0, [1.0]
            for f in folds:
                fv = f["metrics"][n]["final_value"]
                value = value * fv if value is not None and fv is not None else None
                curve.append(value)
            equity[n] = curve
        weekly = path.parent / "equity.csv"
        if weekly.is_file():
            with open(weekly, newline="", encoding="utf-8") as f:
                rows = list(csv.reader(f))
            header = rows[0]
            x = [r[0] for r in rows[1:]]
            equity = {n: [float(r[i]) for r in rows[1:]] for i, n in enumerate(header) if i > 0 and n in names}
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        return {"message": f"cannot read the evaluation {path}: {type(exc).__name__}: {exc}"}
    totals = {n: {k: doc["total"][n].get(k) for k in ("cagr", "sharpe", "max_drawdown")} for n in names}
    return {"path": str(path), "title": doc.get("title", ""), "agent": doc.get("agent", "sac"),
            "dates": x, "equity": equity, "total": totals}


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    """The dashboard is the service's home page."""
    return RedirectResponse("/dashboard/")


@router.get("/dashboard", include_in_schema=False)
def dashboard_no_slash() -> RedirectResponse:
    return RedirectResponse("/dashboard/")


@router.get("/dashboard/", response_class=HTMLResponse, summary="Dashboard page")
def dashboard_page() -> HTMLResponse:
    """The dashboard (HTML; it refreshes itself from `/dashboard/data`)."""
    return HTMLResponse((_STATIC / "index.html").read_text(encoding="utf-8"))


@router.get("/dashboard/plotly.min.js", include_in_schema=False)
def plotly_js() -> Response:
    """plotly.js from the installed plotly package."""
    return Response(_plotly_js(), media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=86400"})


@router.get("/dashboard/static/{name}", include_in_schema=False)
def static_file(name: str) -> Response:
    """The page's script and style sheet."""
    if name not in _TYPES:
        return Response(status_code=404)
    return Response((_STATIC / name).read_bytes(), media_type=_TYPES[name])


def _allocation(service, name: str) -> dict[str, Any]:
    try:
        d = decide(service.cache, name, as_of=None, current_weights=None,
                   fallback=service.settings.fallback_weights)
    except SacfolioError as exc:
        return {"error": str(exc)}
    return {"weights": d.weights, "version": d.version, "as_of": d.as_of.isoformat(),
            "source": d.source, "reason": d.reason, "advisors": d.advisors}


def _training_health(service, name: str) -> dict[str, Any] | None:
    serving = service.cache.serving(name)
    if serving is None:
        return None
    meta = serving.metadata
    health = meta.get("health")
    return {"status": health.get("status") if isinstance(health, dict) else None,
            "summary": health, "training": meta.get("training"), "created_at": meta.get("created_at"),
            "train_window": meta.get("train_window")}


@router.get("/dashboard/data", summary="Everything the dashboard shows")
def dashboard_data(service: ServiceDep) -> dict[str, Any]:
    """Model status, current allocation, training health, jobs, latest evaluation, data freshness."""
    health = model_health(service)
    models = []
    for name, h in health.items():
        models.append({"name": name, **h.model_dump(), "allocation": _allocation(service, name),
                       "training_health": _training_health(service, name)})
    doc = {
        "generated_at": datetime.now(timezone.utc).isoformat(),
        "refresh_seconds": service.settings.dashboard_refresh_seconds,
        "models": models,
        "jobs": [JobView.of(j).model_dump(exclude={"params", "decision"}) for j in service.store.list(limit=10)],
        "schedule": service.scheduler.next_runs(),
        "evaluation": latest_evaluation(service.settings.reports_dir),
        "data": service.data.current.freshness(),
    }
    return jsonable(doc)
