"""The FastAPI app: routers, auth, error mapping, request limits and the lifespan that runs the service."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError

import sacfolio
from sacfolio.exceptions import SacfolioError
from sacfolio.serve.deps import get_settings, require_token
from sacfolio.serve.errors import domain_error, status_for, unexpected_error, validation_error
from sacfolio.serve.limits import RequestLimits
from sacfolio.serve.models import Problem
from sacfolio.serve.openapi import exact_openapi
from sacfolio.serve.routers import dashboard, health, inference, jobs, paper, status, training
from sacfolio.serve.service import Service
from sacfolio.serve.settings import ServeSettings

__all__ = ["create_app", "status_for"]

logger = logging.getLogger(__name__)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    override = app.dependency_overrides.get(get_settings)  # a test's override wins
    settings: ServeSettings = override() if override else app.state.settings
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
        Kept on ``app.state.settings`` for the lifespan (an override of
        :func:`~sacfolio.serve.deps.get_settings` in ``app.dependency_overrides`` wins);
        default: the environment and ``$SACFOLIO_SERVE_CONFIG``. Not installed as a
        dependency override itself: while any override exists FastAPI rebuilds every
        dependency of every request (``get_dependant`` per sub-dependency: +0.5 ms of CPU
        per request for the token check alone on a 2-core machine).

    With a token configured every router but ``/health`` needs it (unless listed in
    ``public_routes``) and the OpenAPI document declares bearer auth; without one it
    declares none. There are no trailing-slash redirects: a redirect built from the
    request would point at whatever ``Host`` the client sent.
    """
    app = FastAPI(
        title="sacfolio brain API",
        version=sacfolio.__version__,
        description="Train and finetune SAC portfolio agents as background jobs, get target weights "
                    "from the promoted version (or the static fallback), watch health, jobs and the "
                    "schedule. Dashboard at /dashboard/.",
        lifespan=_lifespan,
        redirect_slashes=False,
    )
    resolved = settings or get_settings()
    app.state.settings = resolved
    app.add_exception_handler(SacfolioError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected_error)
    app.include_router(health.router)
    protected = resolved.token() is not None
    for module in (training, jobs, inference, status, dashboard, paper):  # the check reads the service's settings
        app.include_router(module.router, dependencies=[Depends(require_token)],
                           responses={401: {"model": Problem, "description": "Missing or wrong bearer "
                                            "token."}} if protected else None)
    app.add_middleware(RequestLimits, max_bytes=resolved.max_body_bytes,
                       timeout=resolved.request_timeout_seconds, max_depth=resolved.max_json_depth,
                       max_keys=resolved.max_json_keys, max_header_bytes=resolved.max_header_bytes)
    app.openapi = lambda: exact_openapi(app, public_routes=resolved.public_routes,  # type: ignore[method-assign]
                                        secured=protected)
    return app
