"""The FastAPI app: routers, error mapping, body limit and the lifespan that runs the service."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

import sacfolio
from sacfolio.exceptions import (
    ConfigError,
    DataError,
    EvaluationWindowError,
    LayoutMismatchError,
    ModelNotFoundError,
    SacfolioError,
    ServiceRequestError,
)
from sacfolio.serve.deps import get_settings
from sacfolio.serve.limits import BodySizeLimit
from sacfolio.serve.routers import dashboard, health, inference, jobs, status, training
from sacfolio.serve.service import Service
from sacfolio.serve.settings import ServeSettings

__all__ = ["create_app", "status_for"]

logger = logging.getLogger(__name__)


def status_for(exc: SacfolioError) -> int:
    """The HTTP status of a domain error: 404 unknown model or job, 422 invalid input, else 409."""
    if isinstance(exc, ServiceRequestError):
        return exc.status_code
    if isinstance(exc, ModelNotFoundError):
        return 404
    if isinstance(exc, (DataError, EvaluationWindowError, LayoutMismatchError, ConfigError, ValueError)):
        return 422
    return 409


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SacfolioError)
    return JSONResponse({"detail": str(exc)}, status_code=status_for(exc))


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings_factory = app.dependency_overrides.get(get_settings, get_settings)
    settings: ServeSettings = settings_factory()
    service = Service.create(settings)
    service.start()
    app.state.service = service
    logger.info("serving %s from %s", settings.models, service.registry.root)
    try:
        yield
    finally:
        service.stop()


def create_app(settings: ServeSettings | None = None) -> FastAPI:
    """The brain API.

    Parameters
    ----------
    settings : ServeSettings, optional
        Installed as the override of :func:`~sacfolio.serve.deps.get_settings`;
        default: the environment and ``$SACFOLIO_SERVE_CONFIG``.
    """
    app = FastAPI(
        title="sacfolio brain API",
        version=sacfolio.__version__,
        description="Train and finetune SAC portfolio agents as background jobs, get target weights "
                    "from the promoted version (or the static fallback), watch health, jobs and the "
                    "schedule. Dashboard at /dashboard/.",
        lifespan=_lifespan,
    )
    if settings is not None:
        app.dependency_overrides[get_settings] = lambda: settings
    app.add_exception_handler(SacfolioError, _domain_error)
    for module in (training, jobs, inference, health, status, dashboard):
        app.include_router(module.router)
    max_bytes = (settings or get_settings()).max_body_bytes
    app.add_middleware(BodySizeLimit, max_bytes=max_bytes)
    return app
