"""FastAPI dependencies: settings (cached, overridable), the running service, the token check."""

from __future__ import annotations

import secrets
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sacfolio.serve.service import Service
from sacfolio.serve.settings import ServeSettings, load_settings

__all__ = ["get_settings", "get_service", "require_token", "ServiceDep", "TokenDep"]


@lru_cache(maxsize=1)
def get_settings() -> ServeSettings:
    """Settings from the environment (``SACFOLIO_*``) and ``$SACFOLIO_SERVE_CONFIG``; tests override this."""
    import os

    return load_settings(os.environ.get("SACFOLIO_SERVE_CONFIG") or None)


async def get_service(request: Request) -> Service:
    """The service the lifespan started (async: trivial, so it skips the thread pool)."""
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]

_bearer = HTTPBearer(auto_error=False, description="The service's SACFOLIO_API_TOKEN; needed by every "
                     "route but /health and the configured public_routes.")


async def require_token(request: Request, service: ServiceDep,
                        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """401 unless auth is off, the route is public, or the request has
    ``Authorization: Bearer <SACFOLIO_API_TOKEN>``.

    Async: a constant-time comparison, nothing that blocks.
    """
    token = service.settings.token()
    if token is None:
        return
    route = request.scope.get("route")
    if getattr(route, "path", None) in service.settings.public_routes:
        return
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "this endpoint needs 'Authorization: Bearer "
                            "<token>' (the service's SACFOLIO_API_TOKEN)", headers={"WWW-Authenticate": "Bearer"})
    if not secrets.compare_digest(credentials.credentials.encode(), token.encode()):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "the bearer token is wrong",
                            headers={"WWW-Authenticate": "Bearer"})


TokenDep = Annotated[None, Depends(require_token)]
