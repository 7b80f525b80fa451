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

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sacfolio.exceptions import CorruptArtifactError, ModelNotFoundError, RegistryError
from sacfolio.registry.artifacts import (
    MANIFEST_FILE,
    METADATA_FILE,
    ModelArtifacts,
    check_layout,
    document_from_bytes,
    document_to_bytes,
)
from sacfolio.registry.cleanup import GcReport, collect_garbage, remove_temp_leftovers
from sacfolio.registry.history import HISTORY_FILE, append_history, promoted_stack, read_history
from sacfolio.registry.manifest import (
    artifact_files,
    build_manifest,
    check_manifest,
    parse_artifact,
    read_file,
    read_verified,
    version_metadata,
)
from sacfolio.registry.pointer import CURRENT_FILE, current_version, write_current
from sacfolio.registry.roots import default_root
from sacfolio.registry.storage import Store, open_store
from sacfolio.registry.versions import check_name, is_complete, is_model_name, is_version_id, new_version_id

__all__ = ["Registry"]

_UNSET: Any = object()


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

    def names(self) -> list[str]:
        """Model names that have at least one entry under the root, sorted."""
        return [n for n in self.store.list_dir("") if is_model_name(n) and self.store.list_dir(n)]

    def versions(self, name: str) -> list[str]:
        """Complete versions of ``name``, oldest first.

        Raises
        ------
        ModelNotFoundError
            No model of that name exists under the root.
        """
        check_name(name)
        entries = self.store.list_dir(name)
        if not entries:
            known = ", ".join(self.names()) or "none"
            raise ModelNotFoundError(
                f"no model named {name!r} in {self.store.full(name)} (models there: {known})"
            )
        return sorted(e for e in entries if is_version_id(e) and is_complete(self.store, name, e))

    def current(self, name: str) -> str | None:
        """The promoted version id of ``name``, or None when none was promoted.

        The id is returned as recorded, even if that version has gone missing; loading
        it then raises a :class:`CorruptArtifactError` naming both paths. A pointer that
        lags behind the newest promotion entry (a writer killed between the two) reads
        as that entry's version (see :mod:`sacfolio.registry.pointer`).
        """
        check_name(name)
        return current_version(self.store, name)

    def resolve(self, name: str, version: str = "current") -> str:
        """Turn ``"current"``, ``"latest"`` or a version id into an existing version id.

        Raises
        ------
        ModelNotFoundError
            Unknown name, no current version, or no such version.
        CorruptArtifactError
            ``current`` names a version that is missing or incomplete.
        """
        check_name(name)
        if version == "current":
            cur = self.current(name)
            if cur is None:
                self.versions(name)  # unknown name -> ModelNotFoundError naming the root
                raise ModelNotFoundError(
                    f"model {name!r} has no current version ({self.store.full(f'{name}/{CURRENT_FILE}')} "
                    f"does not exist); promote one with `sacfolio registry promote {name} VERSION`"
                )
            if not is_complete(self.store, name, cur):
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
        if not is_version_id(version):
            raise ModelNotFoundError(
                f"{version!r} is not a version id (like 20261123T104512.345Z-3f9a1c), 'current' or 'latest'"
            )
        if not is_complete(self.store, name, version):
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
        check_name(name)
        parent = parent if parent is not None else artifacts.metadata.get("parent")
        if parent is not None:
            parent = self.resolve(name, parent)
        files = artifact_files(artifacts)  # serialized first: a bad value fails before anything is written
        with self.store.lock(name, self.lock_timeout):
            if self.store.stages_versions:
                remove_temp_leftovers(self.store, name)
            version = new_version_id()
            metadata = version_metadata(artifacts.metadata, name=name, version=version, parent=parent)
            files[METADATA_FILE] = document_to_bytes(metadata, name=METADATA_FILE)
            manifest = build_manifest(name, version, files)
            files[MANIFEST_FILE] = document_to_bytes(manifest, name=MANIFEST_FILE)

            # manifest.json last: it completes the version
            self.store.write_version(name, version, files, on_file_written)
        return version

    def manifest(self, name: str, version: str = "current") -> dict[str, Any]:
        """The parsed ``manifest.json`` of a version (file names, sizes, SHA-256)."""
        version = self.resolve(name, version)
        rel = f"{name}/{version}/{MANIFEST_FILE}"
        path = self.store.full(rel)
        return check_manifest(document_from_bytes(read_file(self.store, rel, "the version's manifest"), path=path),
                              path=path)

    def metadata(self, name: str, version: str = "current") -> dict[str, Any]:
        """``metadata.json`` of a version, checked against the manifest (no tensors read)."""
        version = self.resolve(name, version)
        sha = self.manifest(name, version)["files"][METADATA_FILE]["sha256"]
        data = read_verified(self.store, f"{name}/{version}/{METADATA_FILE}", sha)
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
            data = read_verified(self.store, f"{name}/{version}/{fname}", info["sha256"])
            content = parse_artifact(fname, data, path=self.store.full(f"{name}/{version}/{fname}"))
            if fname.endswith(".pt"):
                tensors[fname] = content
            elif fname == METADATA_FILE:
                metadata = content
            else:
                documents[fname] = content
        return ModelArtifacts(tensors=tensors, documents=documents, metadata=metadata)

    # ------------------------------------------------------------------ current and history

    def history(self, name: str) -> list[dict[str, Any]]:
        """Entries of ``promotions.jsonl``, oldest first (empty when none)."""
        check_name(name)
        return read_history(self.store, name)

    def record(self, name: str, entry: Mapping[str, Any]) -> dict[str, Any]:
        """Append a decision that changes nothing (e.g. a rejected candidate) to the history."""
        check_name(name)
        with self.store.lock(name, self.lock_timeout):
            return append_history(self.store, name, entry)

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
            # the entry first (the intent), then the pointer naming it: see registry.pointer
            record = append_history(
                self.store, name,
                {**(details or {}), "action": action, "version": version, "previous": previous,
                 "promoted": True, "reason": reason},
            )
            write_current(self.store, name, version, record["entry"])
            return record

    def set_current(self, name: str, version: str, *, reason: str = "set by hand") -> None:
        """Point ``current`` at an existing complete version (atomic replace; recorded)."""
        self.promote(name, version, reason=reason, action="set_current")

    def promoted_versions(self, name: str) -> list[str]:
        """Versions that were current at some time, in promotion order (a rollback pops)."""
        return promoted_stack(self.history(name))

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
        check_name(name)
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
        return collect_garbage(self.store, name, keep=keep, lock_timeout=self.lock_timeout,
                               stale_after=self.stale_after)
