"""The registry's parts on their own: version ids, names, the pointer, the promotion log, the manifest."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from sacfolio.exceptions import CorruptArtifactError, ModelNotFoundError
from sacfolio.registry import ModelArtifacts
from sacfolio.registry.history import append_history, ever_promoted, promoted_stack, read_history
from sacfolio.registry.manifest import artifact_files, build_manifest, check_manifest, read_verified
from sacfolio.registry.pointer import read_current, write_current
from sacfolio.registry.storage import open_store
from sacfolio.registry.versions import check_name, is_model_name, is_version_id, new_version_id, version_time


def test_version_ids_sort_by_time_and_round_trip() -> None:
    when = datetime(2026, 11, 23, 10, 45, 12, 345000, tzinfo=timezone.utc)
    version = new_version_id(when)
    assert is_version_id(version) and version.startswith("20261123T104512.345Z-")
    assert version_time(version) == when.replace(microsecond=345000)
    assert not is_version_id("latest") and not is_version_id(None)


def test_model_names() -> None:
    assert is_model_name("sac_lstm") and not is_model_name(".tmp-x") and not is_model_name("a/b")
    with pytest.raises(ModelNotFoundError, match="not a valid model name"):
        check_name("../etc")


def test_pointer_round_trip_and_corruption(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    assert read_current(store, "m") is None
    version = new_version_id()
    write_current(store, "m", version)
    assert read_current(store, "m") == version
    store.replace_file("m/current", b"garbage\n")
    with pytest.raises(CorruptArtifactError, match="not a version id"):
        read_current(store, "m")


def test_history_appends_and_rollbacks_pop(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    for entry in ({"action": "gate", "version": "a", "promoted": True},
                  {"action": "gate", "version": "b", "promoted": False},
                  {"action": "gate", "version": "c", "promoted": True},
                  {"action": "rollback", "version": "a", "promoted": True}):
        record = append_history(store, "m", entry)
        assert record["name"] == "m" and record["time"].endswith("Z")
    entries = read_history(store, "m")
    assert [e["version"] for e in entries] == ["a", "b", "c", "a"]
    assert promoted_stack(entries) == ["a"] and ever_promoted(entries) == {"a", "c"}


def test_manifest_lists_every_file_and_reading_checks_it(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    files = artifact_files(ModelArtifacts(documents={"config.json": {"x": 1}}, metadata={"k": "v"}))
    manifest = check_manifest(build_manifest("m", "v", {**files, "metadata.json": b"{}"}), path="p")
    assert set(manifest["files"]) == {"config.json", "metadata.json"}
    store.write_version("m", "v", files)
    sha = manifest["files"]["config.json"]["sha256"]
    assert read_verified(store, "m/v/config.json", sha) == files["config.json"]
    with pytest.raises(CorruptArtifactError, match="is corrupt"):
        read_verified(store, "m/v/config.json", "0" * 64)
    with pytest.raises(CorruptArtifactError, match="not a registry manifest"):
        check_manifest({"files": {}}, path="p")
