"""The ``current`` pointer of a model name, kept consistent with ``promotions.jsonl``.

A promotion, rollback or hand-set pointer is two writes: the history entry, then
the pointer file. The entry goes first (it is the intent) and carries an ``entry``
id; the pointer file holds the version id and, on its second line, the id of the
entry that set it. A reader that finds the newest promoting entry's id differs from
the pointer's knows the writer died between the two writes and takes the entry's
version: ``current`` always equals the last recorded promotion or rollback. The
next writer (under the name's lock) rewrites the pointer.

A pointer without an entry id (written by hand, or by an older sacfolio) is taken
as it is.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from sacfolio.exceptions import CorruptArtifactError
from sacfolio.registry.history import read_history
from sacfolio.registry.storage import Store
from sacfolio.registry.versions import is_version_id

__all__ = ["CURRENT_FILE", "current_version", "last_promoting_entry", "read_pointer", "read_current",
           "write_current"]

CURRENT_FILE = "current"
_ENTRY_PREFIX = "entry "


def read_pointer(store: Store, name: str) -> tuple[str, str | None] | None:
    """``(version, entry id or None)`` from ``<name>/current``, or None when the file is absent.

    Raises
    ------
    CorruptArtifactError
        The file does not hold a version id.
    """
    rel = f"{name}/{CURRENT_FILE}"
    try:
        lines = store.read_bytes(rel).decode("utf-8", errors="replace").strip().splitlines()
    except FileNotFoundError:
        return None
    text = lines[0].strip() if lines else ""
    if not is_version_id(text):
        raise CorruptArtifactError(
            f"{store.full(rel)} holds {text[:60]!r}, not a version id; "
            f"repair it with `sacfolio registry rollback {name} --to VERSION`"
        )
    entry = lines[1].strip().removeprefix(_ENTRY_PREFIX) if len(lines) > 1 else None
    return text, entry or None


def read_current(store: Store, name: str) -> str | None:
    """The version id in ``<name>/current`` as stored (no reconciliation), or None."""
    pointer = read_pointer(store, name)
    return None if pointer is None else pointer[0]


def last_promoting_entry(entries: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The newest entry that set ``current`` (a promotion, rollback or hand-set pointer)."""
    for entry in reversed(entries):
        if entry.get("promoted") and is_version_id(entry.get("version")):
            return entry
    return None


def current_version(store: Store, name: str) -> str | None:
    """The current version: the pointer, or the newest promoting entry when the pointer
    lags behind it (a writer killed between recording and pointing)."""
    pointer = read_pointer(store, name)
    if pointer is not None and pointer[1] is None:
        return pointer[0]  # hand-written or legacy pointer: no entry to reconcile with
    entry = last_promoting_entry(read_history(store, name))
    if entry is None or not entry.get("entry"):
        return None if pointer is None else pointer[0]
    if pointer is not None and pointer[1] == entry["entry"]:
        return pointer[0]
    return str(entry["version"])


def write_current(store: Store, name: str, version: str, entry: str | None = None) -> None:
    """Point ``<name>/current`` at ``version``, set by history entry ``entry`` (atomic replace)."""
    text = version + "\n" + (f"{_ENTRY_PREFIX}{entry}\n" if entry else "")
    store.replace_file(f"{name}/{CURRENT_FILE}", text.encode("ascii"))
