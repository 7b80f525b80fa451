"""``sacfolio serve``: run the brain API with uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

__all__ = ["serve_command"]


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    config: Annotated[Optional[Path], typer.Option(
        "--config", help="YAML or JSON settings file (keys as in sacfolio.serve.settings.ServeSettings); "
        "SACFOLIO_* environment variables override it.", exists=True, dir_okay=False)] = None,
    insecure: Annotated[bool, typer.Option(
        "--insecure", help="Allow a non-loopback address without SACFOLIO_API_TOKEN.")] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the brain API and dashboard (http://HOST:PORT/dashboard/, OpenAPI at /docs)."""
    import uvicorn

    from sacfolio.serve.app import create_app
    from sacfolio.serve.bind import check_bind
    from sacfolio.serve.limits import deadline_protocol
    from sacfolio.serve.settings import load_settings

    settings = load_settings(config)
    check_bind(host, settings, insecure)
    # h11 with a deadline for each request head; header block and idle connections bounded
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level,
                timeout_graceful_shutdown=15, http=deadline_protocol(settings.request_timeout_seconds),
                h11_max_incomplete_event_size=settings.max_header_bytes,
                timeout_keep_alive=settings.keep_alive_seconds)
