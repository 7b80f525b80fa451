"""Garbage collection: leftovers of interrupted saves and old never-promoted versions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sacfolio.registry.history import ever_promoted, read_history
from sacfolio.registry.pointer import current_version
from sacfolio.registry.storage import TEMP_PREFIX, Store
from sacfolio.registry.versions import is_complete, is_version_id, version_time

__all__ = ["GcReport", "collect_garbage", "remove_temp_leftovers"]


@dataclass(frozen=True, kw_only=True)
class GcReport:
    """What :meth:`Registry.gc` removed.

    Attributes
    ----------
    removed_versions : tuple of str
        Complete but never-promoted versions beyond ``keep``.
    removed_leftovers : tuple of str
        Half-written entries: temp directories of killed saves, incomplete versions.
    kept : tuple of str
        Complete versions still present.
    """

    removed_versions: tuple[str, ...] = ()
    removed_leftovers: tuple[str, ...] = ()
    kept: tuple[str, ...] = field(default=())


def remove_temp_leftovers(store: Store, name: str) -> list[str]:
    """Delete temp entries of killed writers (caller holds the lock)."""
    removed = []
    for entry in store.list_dir(name):
        if TEMP_PREFIX in entry:
            store.remove_tree(f"{name}/{entry}")
            removed.append(entry)
    return removed


def collect_garbage(store: Store, name: str, *, keep: int, lock_timeout: float,
                    stale_after: float) -> GcReport:
    """Remove leftovers and all but the newest ``keep`` never-promoted versions, under the lock.

    Versions that were ever promoted, and ``current``, are always kept. On object
    stores an incomplete version is a leftover only once older than ``stale_after``
    seconds (a younger one may be a save in progress).
    """
    with store.lock(name, lock_timeout):
        leftovers = remove_temp_leftovers(store, name) if store.stages_versions else []
        now = datetime.now(timezone.utc)
        complete: list[str] = []
        for entry in store.list_dir(name):
            if not is_version_id(entry):
                continue
            if is_complete(store, name, entry):
                complete.append(entry)
            elif store.stages_versions or now - version_time(entry) > timedelta(seconds=stale_after):
                store.remove_tree(f"{name}/{entry}")
                leftovers.append(entry)
        protected = ever_promoted(read_history(store, name))
        current = current_version(store, name)
        if current is not None:
            protected.add(current)
        unpromoted = sorted(v for v in complete if v not in protected)
        doomed = unpromoted[: max(len(unpromoted) - keep, 0)]
        for version in doomed:
            store.remove_tree(f"{name}/{version}")
    kept = tuple(sorted(set(complete) - set(doomed)))
    return GcReport(removed_versions=tuple(doomed), removed_leftovers=tuple(sorted(leftovers)), kept=kept)
