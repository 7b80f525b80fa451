"""The promotion log ``<name>/promotions.jsonl``: every gate decision, promotion and rollback.

One strict-JSON object per line, appended under the name's lock; each entry has
``time``, ``entry`` (a random id the ``current`` pointer refers to), ``name``, ``action``,
``version`` and ``promoted``, plus what the caller adds. A last line without its newline
is a write cut short by a crash: it is not an entry, and the next append removes it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from sacfolio.exceptions import CorruptArtifactError, InvalidArtifactError
from sacfolio.registry.storage import Store

__all__ = ["HISTORY_FILE", "append_history", "ever_promoted", "promoted_stack", "read_history"]

HISTORY_FILE = "promotions.jsonl"


def read_history(store: Store, name: str) -> list[dict[str, Any]]:
    """Entries of ``promotions.jsonl``, oldest first (empty when none)."""
    rel = f"{name}/{HISTORY_FILE}"
    try:
        text = store.read_bytes(rel).decode("utf-8")
    except FileNotFoundError:
        return []
    entries = []
    # text after the last newline is a write a crash cut short, not an entry
    for i, line in enumerate(text.split("\n")[:-1], start=1):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise CorruptArtifactError(f"{store.full(rel)} line {i} is not JSON ({exc})") from exc
    return entries


def append_history(store: Store, name: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    """Append ``entry`` with the time and name; return the record written (caller holds the lock)."""
    record = {"time": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
              "entry": secrets.token_hex(6), "name": name, **entry}
    try:
        line = json.dumps(record, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidArtifactError(f"history entry for {name!r} is not strict JSON ({exc})") from exc
    store.append_line(f"{name}/{HISTORY_FILE}", line)
    return record


def promoted_stack(entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """Versions that were current at some time, in promotion order (a rollback pops)."""
    stack: list[str] = []
    for entry in entries:
        version = entry.get("version")
        if not entry.get("promoted") or not isinstance(version, str):
            continue
        if entry.get("action") == "rollback" and version in stack:
            del stack[len(stack) - stack[::-1].index(version):]
        else:
            stack.append(version)
    return stack


def ever_promoted(entries: Iterable[Mapping[str, Any]]) -> set[Any]:
    """Every version an entry promoted (kept by garbage collection)."""
    return {e.get("version") for e in entries if e.get("promoted")}
