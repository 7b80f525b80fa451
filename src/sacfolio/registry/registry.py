"""Versioned model registry: save, load, list, the ``current`` pointer, history, rollback, gc.

Layout under the root (a directory or an fsspec URL)::

    <name>/<version>/actor.pt ... config.json ... metadata.json manifest.json
    <name>/current             # the promoted version id, replaced atomically
    <name>/promotions.jsonl    # every gate decision, promotion and rollback
    <name>/.lock               # writers' lock (local roots)
    <name>/.tmp-<version>-<pid>/   # a save in progress (or killed); never listed

A version counts only once its ``manifest.json`` (SHA-256 of every file) exists; it
is written last, and locally the whole directory is renamed into place after it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sacfolio.exceptions import CorruptArtifactError, InvalidArtifactError, ModelNotFoundError, RegistryError
from sacfolio.registry.artifacts import (
    MANIFEST_FILE,
    METADATA_FILE,
    ModelArtifacts,
    check_layout,
    document_from_bytes,
    document_to_bytes,
    sha256,
    tensors_from_bytes,
    tensors_to_bytes,
)
from sacfolio.registry.storage import TEMP_PREFIX, Store, open_store

__all__ = [
    "Registry",
    "GcReport",
    "default_root",
    "registry_root_for",
    "new_version_id",
    "version_time",
    "HF_REPO_ENV",
    "CURRENT_FILE",
    "HISTORY_FILE",
]

CURRENT_FILE = "current"
HISTORY_FILE = "promotions.jsonl"
#: Environment variables (named by seed 001) holding a Hugging Face repo per model name.
HF_REPO_ENV = {"sac_lstm": "HF_SAC_LSTM_MODEL_REPO", "sac_patchtst": "HF_SAC_PATCHTST_MODEL_REPO"}
_VERSION = re.compile(r"^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{6}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_TIME_FORMAT = "%Y%m%dT%H%M%S.%f"
_MANIFEST_FORMAT = 1
_UNSET: Any = object()


def default_root() -> str:
    """``$SACFOLIO_HOME`` when set, else ``./models``."""
    return os.environ.get("SACFOLIO_HOME") or "./models"


def registry_root_for(model_name: str) -> str:
    """Registry root of one model name.

    ``hf://<repo>`` when the seed's variable for that name (``HF_SAC_LSTM_MODEL_REPO``
    for ``sac_lstm``, ``HF_SAC_PATCHTST_MODEL_REPO`` for ``sac_patchtst``) is set,
    otherwise :func:`default_root`.
    """
    var = HF_REPO_ENV.get(model_name)
    repo = os.environ.get(var, "").strip() if var else ""
    if not repo:
        return default_root()
    return repo if repo.startswith("hf://") else f"hf://{repo.strip('/')}"


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


class Registry:
    """Versioned store of :class:`ModelArtifacts` by model name.

    Parameters
    ----------
    root : str or os.PathLike, optional
        A directory, or an fsspec URL (``s3://bucket/prefix``, ``hf://user/repo``,
        ``memory://name``). Default :func:`default_root`.
    storage_options : mapping, optional
        Passed to fsspec (e.g. ``{"client_kwargs": {"endpoint_url": ...}}`` for S3).
    lock_timeout : float, default 60
        Seconds to wait for another writer of the same name (local roots).
    stale_after : float, default 3600
        On object stores, where nothing locks, an incomplete version is a leftover
        for :meth:`gc` only once it is this many seconds old (a younger one may be a
        save in progress).
    """

    check_layout = staticmethod(check_layout)

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        storage_options: Mapping[str, Any] | None = None,
        lock_timeout: float = 60.0,
        stale_after: float = 3600.0,
    ) -> None:
        if lock_timeout <= 0:
            raise RegistryError(f"lock_timeout must be > 0 seconds, got {lock_timeout}")
        if stale_after < 0:
            raise RegistryError(f"stale_after must be >= 0 seconds, got {stale_after}")
        self.store: Store = open_store(default_root() if root is None else root, storage_options)
        self.lock_timeout = float(lock_timeout)
        self.stale_after = float(stale_after)

    @property
    def root(self) -> str:
        """The registry root as given (path or URL)."""
        return self.store.url

    def __repr__(self) -> str:
        return f"Registry({self.root!r})"

    # ------------------------------------------------------------------ listing

    def _check_name(self, name: str) -> None:
        if not isinstance(name, str) or not _NAME.match(name) or TEMP_PREFIX in name:
            raise ModelNotFoundError(
                f"{name!r} is not a valid model name (letters, digits, '_', '-', '.'; e.g. sac_lstm)"
            )

    def names(self) -> list[str]:
        """Model names that have at least one entry under the root, sorted."""
        return [
            n for n in self.store.list_dir("")
            if _NAME.match(n) and TEMP_PREFIX not in n and self.store.list_dir(n)
        ]

    def _is_complete(self, name: str, version: str) -> bool:
        return self.store.exists(f"{name}/{version}/{MANIFEST_FILE}")

    def versions(self, name: str) -> list[str]:
        """Complete versions of ``name``, oldest first.

        Raises
        ------
        ModelNotFoundError
            No model of that name exists under the root.
        """
        self._check_name(name)
        entries = self.store.list_dir(name)
        if not entries:
            known = ", ".join(self.names()) or "none"
            raise ModelNotFoundError(
                f"no model named {name!r} in {self.store.full(name)} (models there: {known})"
            )
        return sorted(e for e in entries if _VERSION.match(e) and self._is_complete(name, e))

    def current(self, name: str) -> str | None:
        """The promoted version id of ``name``, or None when none was promoted.

        The id is returned as stored, even if that version has gone missing; loading
        it then raises a :class:`CorruptArtifactError` naming both paths.
        """
        self._check_name(name)
        rel = f"{name}/{CURRENT_FILE}"
        try:
            text = self.store.read_bytes(rel).decode("utf-8", errors="replace").strip()
        except FileNotFoundError:
            return None
        if not _VERSION.match(text):
            raise CorruptArtifactError(
                f"{self.store.full(rel)} holds {text[:60]!r}, not a version id; "
                f"repair it with `sacfolio registry rollback {name} --to VERSION`"
            )
        return text

    def resolve(self, name: str, version: str = "current") -> str:
        """Turn ``"current"``, ``"latest"`` or a version id into an existing version id.

        Raises
        ------
        ModelNotFoundError
            Unknown name, no current version, or no such version.
        CorruptArtifactError
            ``current`` names a version that is missing or incomplete.
        """
        self._check_name(name)
        if version == "current":
            cur = self.current(name)
            if cur is None:
                self.versions(name)  # unknown name -> ModelNotFoundError naming the root
                raise ModelNotFoundError(
                    f"model {name!r} has no current version ({self.store.full(f'{name}/{CURRENT_FILE}')} "
                    f"does not exist); promote one with `sacfolio registry promote {name} VERSION`"
                )
            if not self._is_complete(name, cur):
                state = "is incomplete" if self.store.list_dir(f"{name}/{cur}") else "does not exist"
                raise CorruptArtifactError(
                    f"{self.store.full(f'{name}/{CURRENT_FILE}')} points to version {cur}, but "
                    f"{self.store.full(f'{name}/{cur}')} {state}; restore the previous version with "
                    f"`sacfolio registry rollback {name}` (or --to one of: "
                    f"{', '.join(self.versions(name)[-3:]) or 'none'})"
                )
            return cur
        if version == "latest":
            found = self.versions(name)
            if not found:
                raise ModelNotFoundError(f"model {name!r} has no complete version in {self.store.full(name)}")
            return found[-1]
        if not isinstance(version, str) or not _VERSION.match(version):
            raise ModelNotFoundError(
                f"{version!r} is not a version id (like 20261123T104512.345Z-3f9a1c), 'current' or 'latest'"
            )
        if not self._is_complete(name, version):
            found = self.versions(name)
            raise ModelNotFoundError(
                f"no complete version {version} of {name!r} at {self.store.full(f'{name}/{version}')} "
                f"(newest: {', '.join(found[-3:]) or 'none'})"
            )
        return version

    # ------------------------------------------------------------------ save / load

    def save(
        self,
        name: str,
        artifacts: ModelArtifacts,
        *,
        parent: str | None = None,
        on_file_written: Callable[[str], None] | None = None,
    ) -> str:
        """Store a new version; return its id.

        Parameters
        ----------
        name : str
            Model name, e.g. ``"sac_lstm"``.
        artifacts : ModelArtifacts
            What to store. Its metadata is written with ``name``, ``version``,
            ``created_at`` (ISO 8601 UTC) and ``parent`` added.
        parent : str, optional
            Version this one was finetuned from (must exist); defaults to
            ``artifacts.metadata["parent"]`` when present.
        on_file_written : callable, optional
            Called with each file name once it is written (progress display).

        Returns
        -------
        str
            The new version id. The version is invisible until complete: locally it
            is written to ``<name>/.tmp-<version>-<pid>`` and renamed into place;
            ``manifest.json`` is always written last.
        """
        self._check_name(name)
        parent = parent if parent is not None else artifacts.metadata.get("parent")
        if parent is not None:
            parent = self.resolve(name, parent)
        files: dict[str, bytes] = {}  # serialized first: a bad value fails before anything is written
        for fname, state in sorted(artifacts.tensors.items()):
            files[fname] = tensors_to_bytes(state)
        for fname, doc in sorted(artifacts.documents.items()):
            files[fname] = document_to_bytes(doc, name=fname)
        document_to_bytes(artifacts.metadata, name=METADATA_FILE)
        with self.store.lock(name, self.lock_timeout):
            if self.store.stages_versions:
                self._remove_temp_leftovers(name)
            version = new_version_id()
            metadata = {
                **artifacts.metadata,
                "name": name,
                "version": version,
                "created_at": version_time(version).isoformat().replace("+00:00", "Z"),
                "parent": parent,
            }
            files[METADATA_FILE] = document_to_bytes(metadata, name=METADATA_FILE)
            manifest = {
                "format": _MANIFEST_FORMAT,
                "name": name,
                "version": version,
                "files": {f: {"sha256": sha256(data), "bytes": len(data)} for f, data in files.items()},
            }
            files[MANIFEST_FILE] = document_to_bytes(manifest, name=MANIFEST_FILE)

            staged = self.store.stage(name, version)
            try:
                for fname, data in files.items():  # manifest.json last: it completes the version
                    self.store.write_file(f"{staged}/{fname}", data)
                    if on_file_written is not None:
                        on_file_written(fname)
                self.store.publish(staged, f"{name}/{version}")
            except BaseException:
                self.store.remove_tree(staged)
                raise
        return version

    def _read(self, rel: str, what: str) -> bytes:
        try:
            return self.store.read_bytes(rel)
        except FileNotFoundError as exc:
            raise CorruptArtifactError(f"{self.store.full(rel)} is missing ({what})") from exc

    def manifest(self, name: str, version: str = "current") -> dict[str, Any]:
        """The parsed ``manifest.json`` of a version (file names, sizes, SHA-256)."""
        version = self.resolve(name, version)
        rel = f"{name}/{version}/{MANIFEST_FILE}"
        manifest = document_from_bytes(self._read(rel, "the version's manifest"), path=self.store.full(rel))
        files = manifest.get("files") if isinstance(manifest, dict) else None
        if not isinstance(files, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("sha256"), str) for v in files.values()
        ) or METADATA_FILE not in files:
            raise CorruptArtifactError(f"{self.store.full(rel)} is not a registry manifest")
        return manifest

    def _verified(self, name: str, version: str, fname: str, expected_sha: str) -> bytes:
        rel = f"{name}/{version}/{fname}"
        data = self._read(rel, "listed in manifest.json")
        actual = sha256(data)
        if actual != expected_sha:
            raise CorruptArtifactError(
                f"{self.store.full(rel)} is corrupt: its SHA-256 {actual[:16]}... differs from "
                f"{expected_sha[:16]}... recorded in manifest.json; restore the file or use another version"
            )
        return data

    def metadata(self, name: str, version: str = "current") -> dict[str, Any]:
        """``metadata.json`` of a version, checked against the manifest (no tensors read)."""
        version = self.resolve(name, version)
        sha = self.manifest(name, version)["files"][METADATA_FILE]["sha256"]
        data = self._verified(name, version, METADATA_FILE, sha)
        return document_from_bytes(data, path=self.store.full(f"{name}/{version}/{METADATA_FILE}"))

    def load(self, name: str, version: str = "current", *, expected_files: Iterable[str] = ()) -> ModelArtifacts:
        """Load and verify a version.

        Parameters
        ----------
        name : str
        version : str, default "current"
            A version id, ``"current"`` or ``"latest"``.
        expected_files : iterable of str, optional
            Files the caller needs (e.g. ``"actor.pt"``); a version without one is corrupt.

        Returns
        -------
        ModelArtifacts
            Tensors loaded with ``weights_only=True`` on CPU, documents and metadata.

        Raises
        ------
        ModelNotFoundError
            Unknown name or version, or no current version.
        CorruptArtifactError
            ``current`` dangles, or a file is missing, fails its SHA-256 check, or
            cannot be parsed; the message names the path.
        """
        version = self.resolve(name, version)
        manifest = self.manifest(name, version)
        listed = manifest["files"]
        for fname in expected_files:
            if fname not in listed:
                raise CorruptArtifactError(
                    f"{self.store.full(f'{name}/{version}/{fname}')} is missing: version {version} "
                    f"was saved without it (files: {', '.join(sorted(listed))})"
                )
        tensors: dict[str, dict[str, Any]] = {}
        documents: dict[str, Any] = {}
        metadata: dict[str, Any] = {}
        for fname, info in sorted(listed.items()):
            data = self._verified(name, version, fname, info["sha256"])
            path = self.store.full(f"{name}/{version}/{fname}")
            if fname.endswith(".pt"):
                tensors[fname] = tensors_from_bytes(data, path=path)
            elif fname == METADATA_FILE:
                metadata = document_from_bytes(data, path=path)
            elif fname.endswith(".json"):
                documents[fname] = document_from_bytes(data, path=path)
            else:
                raise CorruptArtifactError(f"{path}: unknown artifact type (expected .pt or .json)")
        return ModelArtifacts(tensors=tensors, documents=documents, metadata=metadata)

    # ------------------------------------------------------------------ current and history

    def history(self, name: str) -> list[dict[str, Any]]:
        """Entries of ``promotions.jsonl``, oldest first (empty when none)."""
        self._check_name(name)
        rel = f"{name}/{HISTORY_FILE}"
        try:
            text = self.store.read_bytes(rel).decode("utf-8")
        except FileNotFoundError:
            return []
        entries = []
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise CorruptArtifactError(f"{self.store.full(rel)} line {i} is not JSON ({exc})") from exc
        return entries

    def _append(self, name: str, entry: Mapping[str, Any]) -> dict[str, Any]:
        record = {"time": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"), "name": name, **entry}
        try:
            line = json.dumps(record, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise InvalidArtifactError(f"history entry for {name!r} is not strict JSON ({exc})") from exc
        self.store.append_line(f"{name}/{HISTORY_FILE}", line)
        return record

    def record(self, name: str, entry: Mapping[str, Any]) -> dict[str, Any]:
        """Append a decision that changes nothing (e.g. a rejected candidate) to the history."""
        self._check_name(name)
        with self.store.lock(name, self.lock_timeout):
            return self._append(name, entry)

    def promote(
        self,
        name: str,
        version: str,
        *,
        reason: str,
        details: Mapping[str, Any] | None = None,
        action: str = "promote",
        expect_current: str | None = _UNSET,
    ) -> dict[str, Any]:
        """Make ``version`` current and record why, under the name's lock.

        Parameters
        ----------
        name, version : str
        reason : str
            Why (gate verdict, a forced reason, a rollback).
        details : mapping, optional
            Extra fields for the history entry (scores, interval, window).
        action : str
            ``"promote"``, ``"gate"``, ``"rollback"`` or ``"set_current"``.
        expect_current : str or None, optional
            When given, fail if ``current`` changed meanwhile (the gate evaluated
            against that version).

        Returns
        -------
        dict
            The history entry written.
        """
        version = self.resolve(name, version)
        with self.store.lock(name, self.lock_timeout):
            previous = self.current(name)
            if expect_current is not _UNSET and previous != expect_current:
                raise RegistryError(
                    f"current version of {name!r} changed from {expect_current} to {previous} while "
                    "the gate was deciding; run the gate again"
                )
            self.store.replace_file(f"{name}/{CURRENT_FILE}", (version + "\n").encode("ascii"))
            return self._append(
                name,
                {**(details or {}), "action": action, "version": version, "previous": previous,
                 "promoted": True, "reason": reason},
            )

    def set_current(self, name: str, version: str, *, reason: str = "set by hand") -> None:
        """Point ``current`` at an existing complete version (atomic replace; recorded)."""
        self.promote(name, version, reason=reason, action="set_current")

    def promoted_versions(self, name: str) -> list[str]:
        """Versions that were current at some time, in promotion order (a rollback pops)."""
        stack: list[str] = []
        for entry in self.history(name):
            version = entry.get("version")
            if not entry.get("promoted") or not isinstance(version, str):
                continue
            if entry.get("action") == "rollback" and version in stack:
                del stack[len(stack) - stack[::-1].index(version):]
            else:
                stack.append(version)
        return stack

    def rollback(self, name: str, to: str | None = None, *, reason: str | None = None) -> str:
        """Make an earlier version current again; return it.

        By default the version promoted before the current one (repeated rollbacks
        walk further back). The rollback is recorded in ``promotions.jsonl``. Works
        when ``current`` points to a missing version, which is how one repairs it.

        Raises
        ------
        RegistryError
            There is no earlier promoted version that still exists.
        """
        self._check_name(name)
        current = self.current(name)
        if to is None:
            complete = set(self.versions(name))
            earlier = [v for v in reversed(self.promoted_versions(name)) if v != current and v in complete]
            if not earlier:
                raise RegistryError(
                    f"model {name!r} has no earlier promoted version to roll back to "
                    f"(history: {self.store.full(f'{name}/{HISTORY_FILE}')}); use --to VERSION"
                )
            to = earlier[0]
        self.promote(name, to, reason=reason or f"rollback from {current}", action="rollback")
        return to

    # ------------------------------------------------------------------ cleaning

    def _remove_temp_leftovers(self, name: str) -> list[str]:
        """Delete temp entries of killed writers (caller holds the lock)."""
        removed = []
        for entry in self.store.list_dir(name):
            if TEMP_PREFIX in entry:
                self.store.remove_tree(f"{name}/{entry}")
                removed.append(entry)
        return removed

    def gc(self, name: str, keep: int = 5) -> GcReport:
        """Remove leftovers of interrupted saves and old never-promoted versions.

        Parameters
        ----------
        name : str
        keep : int, default 5
            Never-promoted versions to keep (the newest). Versions that were ever
            promoted, and ``current``, are always kept.

        Returns
        -------
        GcReport
        """
        if keep < 0:
            raise RegistryError(f"keep must be >= 0, got {keep}")
        self.versions(name)  # unknown name -> ModelNotFoundError
        with self.store.lock(name, self.lock_timeout):
            leftovers = self._remove_temp_leftovers(name) if self.store.stages_versions else []
            now = datetime.now(timezone.utc)
            complete: list[str] = []
            for entry in self.store.list_dir(name):
                if not _VERSION.match(entry):
                    continue
                if self._is_complete(name, entry):
                    complete.append(entry)
                elif self.store.stages_versions or now - version_time(entry) > timedelta(seconds=self.stale_after):
                    self.store.remove_tree(f"{name}/{entry}")
                    leftovers.append(entry)
            protected = {e.get("version") for e in self.history(name) if e.get("promoted")}
            current = self.current(name)
            if current is not None:
                protected.add(current)
            unpromoted = sorted(v for v in complete if v not in protected)
            doomed = unpromoted[: max(len(unpromoted) - keep, 0)]
            for version in doomed:
                self.store.remove_tree(f"{name}/{version}")
        kept = tuple(sorted(set(complete) - set(doomed)))
        return GcReport(removed_versions=tuple(doomed), removed_leftovers=tuple(sorted(leftovers)), kept=kept)
