"""Where the API may listen: loopback freely, elsewhere only behind a token."""

from __future__ import annotations

import ipaddress

from sacfolio.exceptions import ConfigError
from sacfolio.serve.settings import ServeSettings

__all__ = ["check_bind"]


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
