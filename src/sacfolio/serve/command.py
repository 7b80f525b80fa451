"""``sacfolio serve``: run the brain API with uvicorn."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Optional

import typer

from sacfolio.exceptions import ConfigError
from sacfolio.serve.settings import ServeSettings, load_settings

__all__ = ["serve_command", "check_bind"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, settings: ServeSettings, insecure: bool) -> None:
    """Refuse a non-loopback address without an API token unless ``insecure``.

    Raises
    ------
    ConfigError
    """
    if not _is_loopback(host) and settings.token() is None and not insecure:
        raise ConfigError(
            f"refusing to listen on {host} without an API token: anyone who can reach it could start "
            "training jobs. Set SACFOLIO_API_TOKEN, bind 127.0.0.1, or pass --insecure.")


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

    settings = load_settings(config)
    check_bind(host, settings, insecure)
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level,
                timeout_graceful_shutdown=15)
