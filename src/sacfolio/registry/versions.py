"""Model names and version ids; a version counts once its ``manifest.json`` exists.

A version id sorts by creation time: ``20261123T104512.345Z-3f9a1c`` is the UTC time
to the millisecond plus 24 random bits.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone

from sacfolio.exceptions import ModelNotFoundError
from sacfolio.registry.artifacts import MANIFEST_FILE
from sacfolio.registry.storage import TEMP_PREFIX, Store

__all__ = ["check_name", "is_complete", "is_model_name", "is_version_id", "new_version_id", "version_time"]

_VERSION = re.compile(r"^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{6}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_TIME_FORMAT = "%Y%m%dT%H%M%S.%f"


def new_version_id(now: datetime | None = None) -> str:
    """A version id that sorts by creation time: ``20261123T104512.345Z-3f9a1c``.

    Millisecond UTC time plus 24 random bits, so two writers in the same
    millisecond still get distinct ids.
    """
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{now.strftime('%Y%m%dT%H%M%S')}.{now.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


def version_time(version: str) -> datetime:
    """Creation time encoded in a version id (UTC)."""
    return datetime.strptime(version[:19], _TIME_FORMAT).replace(tzinfo=timezone.utc)


def is_version_id(text: object) -> bool:
    """Whether ``text`` has the form of a version id."""
    return isinstance(text, str) and _VERSION.match(text) is not None


def is_model_name(name: object) -> bool:
    """Whether ``name`` can name a model (letters, digits, ``_ - .``; no temp prefix)."""
    return isinstance(name, str) and _NAME.match(name) is not None and TEMP_PREFIX not in name


def check_name(name: str) -> None:
    """Raise :class:`ModelNotFoundError` unless ``name`` can name a model."""
    if not is_model_name(name):
        raise ModelNotFoundError(
            f"{name!r} is not a valid model name (letters, digits, '_', '-', '.'; e.g. sac_lstm)"
        )


def is_complete(store: Store, name: str, version: str) -> bool:
    """Whether the version's ``manifest.json`` (written last) exists."""
    return store.exists(f"{name}/{version}/{MANIFEST_FILE}")
