"""The ``current`` pointer of a model name: one file holding the promoted version id.

It is replaced atomically (:meth:`Store.replace_file`), so a reader sees the old or
the new version, never a mix. Callers hold the name's lock when writing.
"""

from __future__ import annotations

from sacfolio.exceptions import CorruptArtifactError
from sacfolio.registry.storage import Store
from sacfolio.registry.versions import is_version_id

__all__ = ["CURRENT_FILE", "read_current", "write_current"]

CURRENT_FILE = "current"


def read_current(store: Store, name: str) -> str | None:
    """The version id in ``<name>/current`` as stored, or None when the file is absent.

    Raises
    ------
    CorruptArtifactError
        The file does not hold a version id.
    """
    rel = f"{name}/{CURRENT_FILE}"
    try:
        text = store.read_bytes(rel).decode("utf-8", errors="replace").strip()
    except FileNotFoundError:
        return None
    if not is_version_id(text):
        raise CorruptArtifactError(
            f"{store.full(rel)} holds {text[:60]!r}, not a version id; "
            f"repair it with `sacfolio registry rollback {name} --to VERSION`"
        )
    return text


def write_current(store: Store, name: str, version: str) -> None:
    """Point ``<name>/current`` at ``version`` (atomic replace)."""
    store.replace_file(f"{name}/{CURRENT_FILE}", (version + "\n").encode("ascii"))
