"""A version's files and its ``manifest.json``: the SHA-256 and size of every file.

The manifest is written last; it completes the version. Reading a version checks
each file against it, so a torn or altered file is reported with its path.
"""

from __future__ import annotations

from typing import Any

from sacfolio.exceptions import CorruptArtifactError
from sacfolio.registry.artifacts import (
    METADATA_FILE,
    ModelArtifacts,
    document_from_bytes,
    document_to_bytes,
    sha256,
    tensors_from_bytes,
    tensors_to_bytes,
)
from sacfolio.registry.storage import Store
from sacfolio.registry.versions import version_time

__all__ = [
    "MANIFEST_FORMAT",
    "artifact_files",
    "build_manifest",
    "check_manifest",
    "parse_artifact",
    "read_file",
    "read_verified",
    "version_metadata",
]

MANIFEST_FORMAT = 1


def artifact_files(artifacts: ModelArtifacts) -> dict[str, bytes]:
    """Tensors and documents serialized, by file name; fails on a bad value before anything is written.

    The metadata is checked too, but written later (:func:`version_metadata`).
    """
    files: dict[str, bytes] = {}
    for fname, state in sorted(artifacts.tensors.items()):
        files[fname] = tensors_to_bytes(state)
    for fname, doc in sorted(artifacts.documents.items()):
        files[fname] = document_to_bytes(doc, name=fname)
    document_to_bytes(artifacts.metadata, name=METADATA_FILE)
    return files


def version_metadata(metadata: dict[str, Any], *, name: str, version: str, parent: str | None) -> dict[str, Any]:
    """``metadata`` with the name, version, creation time (ISO 8601 UTC) and parent added."""
    return {
        **metadata,
        "name": name,
        "version": version,
        "created_at": version_time(version).isoformat().replace("+00:00", "Z"),
        "parent": parent,
    }


def build_manifest(name: str, version: str, files: dict[str, bytes]) -> dict[str, Any]:
    """The manifest of ``files``: format, name, version and each file's SHA-256 and size."""
    return {
        "format": MANIFEST_FORMAT,
        "name": name,
        "version": version,
        "files": {f: {"sha256": sha256(data), "bytes": len(data)} for f, data in files.items()},
    }


def check_manifest(manifest: Any, *, path: str) -> dict[str, Any]:
    """``manifest`` if it lists files with SHA-256 sums, metadata among them; else corrupt."""
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("sha256"), str) for v in files.values()
    ) or METADATA_FILE not in files:
        raise CorruptArtifactError(f"{path} is not a registry manifest")
    return manifest


def read_file(store: Store, rel: str, what: str) -> bytes:
    """Content of ``rel``; a missing file is corrupt (``what`` says why it should be there)."""
    try:
        return store.read_bytes(rel)
    except FileNotFoundError as exc:
        raise CorruptArtifactError(f"{store.full(rel)} is missing ({what})") from exc


def read_verified(store: Store, rel: str, expected_sha: str) -> bytes:
    """Content of a file listed in the manifest, checked against its recorded SHA-256."""
    data = read_file(store, rel, "listed in manifest.json")
    actual = sha256(data)
    if actual != expected_sha:
        raise CorruptArtifactError(
            f"{store.full(rel)} is corrupt: its SHA-256 {actual[:16]}... differs from "
            f"{expected_sha[:16]}... recorded in manifest.json; restore the file or use another version"
        )
    return data


def parse_artifact(fname: str, data: bytes, *, path: str) -> Any:
    """A version file's content: a tensor dict (``.pt``) or a JSON document (``.json``)."""
    if fname.endswith(".pt"):
        return tensors_from_bytes(data, path=path)
    if fname.endswith(".json"):
        return document_from_bytes(data, path=path)
    raise CorruptArtifactError(f"{path}: unknown artifact type (expected .pt or .json)")
