"""Local registry: round trip, verification, pointer, history, rollback, gc, layout checks."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
from pathlib import Path

import pytest
import torch
from _registry_models import SYMBOLS, TinyActor, make_artifacts

from sacfolio.exceptions import (
    CorruptArtifactError,
    InvalidArtifactError,
    LayoutMismatchError,
    ModelNotFoundError,
    RegistryError,
)
from sacfolio.registry import ModelArtifacts, Registry, check_layout, environment_metadata, registry_root_for
from sacfolio.registry.artifacts import sha256

VERSION = re.compile(r"^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{6}$")


def _bits(t: torch.Tensor) -> tuple:
    return t.dtype, tuple(t.shape), t.contiguous().view(-1).view(torch.uint8).numpy().tobytes()


def test_round_trip_gives_bit_identical_tensors_documents_and_actions(registry: Registry) -> None:
    original = make_artifacts(3)
    version = registry.save("sac_lstm", original)
    loaded = registry.load("sac_lstm", version, expected_files=["actor.pt", "critic.pt", "critic_target.pt",
                                                                "log_alpha.pt", "config.json"])

    assert set(loaded.tensors) == set(original.tensors)
    for fname, state in original.tensors.items():
        assert set(loaded.tensors[fname]) == set(state)
        for key, tensor in state.items():
            assert _bits(loaded.tensors[fname][key]) == _bits(tensor), (fname, key)
    assert loaded.documents == original.documents
    for key, value in original.metadata.items():
        assert loaded.metadata[key] == value
    assert loaded.metadata["version"] == loaded.version == version
    assert loaded.metadata["name"] == "sac_lstm" and loaded.parent is None
    assert loaded.metadata["created_at"].startswith(f"{version[:4]}-{version[4:6]}-{version[6:8]}T")

    before, after = TinyActor(), TinyActor()
    before.load_state_dict(original.tensors["actor.pt"])
    after.load_state_dict(loaded.tensors["actor.pt"])
    obs = torch.randn(64, 6, generator=torch.Generator().manual_seed(0))
    assert torch.equal(before(obs), after(obs))


def test_versions_sort_by_time_and_are_unique(registry: Registry) -> None:
    saved = [registry.save("m", make_artifacts(i)) for i in range(4)]
    assert all(VERSION.match(v) for v in saved)
    assert len(set(saved)) == 4
    assert registry.versions("m") == sorted(saved) == saved
    assert registry.names() == ["m"]
    assert registry.resolve("m", "latest") == saved[-1]


def test_finetuned_version_names_its_existing_parent(registry: Registry) -> None:
    parent = registry.save("m", make_artifacts(1))
    child = registry.save("m", make_artifacts(2), parent=parent)
    assert registry.metadata("m", child)["parent"] == parent
    with pytest.raises(ModelNotFoundError, match="20200101T000000.000Z-abcdef"):
        registry.save("m", make_artifacts(3), parent="20200101T000000.000Z-abcdef")
    assert registry.versions("m") == [parent, child]


def test_flipped_byte_is_reported_with_the_file_path(registry: Registry) -> None:
    good = registry.save("m", make_artifacts(1))
    registry.set_current("m", good)
    bad = registry.save("m", make_artifacts(2))
    path = Path(registry.root) / "m" / bad / "critic.pt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    with pytest.raises(CorruptArtifactError, match=re.escape(str(path)) + ".*SHA-256"):
        registry.load("m", bad)
    assert registry.load("m").version == good  # current is untouched and still loads


def test_missing_file_and_missing_expected_file_name_the_path(registry: Registry) -> None:
    version = registry.save("m", make_artifacts(1))
    missing = Path(registry.root) / "m" / version / "log_alpha.pt"
    missing.unlink()
    with pytest.raises(CorruptArtifactError, match=re.escape(str(missing)) + " is missing"):
        registry.load("m", version)

    other = registry.save("m", make_artifacts(2))
    with pytest.raises(CorruptArtifactError, match=re.escape(str(Path(registry.root) / "m" / other / "policy.pt"))):
        registry.load("m", other, expected_files=["actor.pt", "policy.pt"])


class _Payload:
    """Unpickling this calls open(marker, "w"): proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pt_file_with_a_pickled_object_is_refused_without_running_it(registry: Registry, tmp_path: Path) -> None:
    version = registry.save("m", make_artifacts(1))
    vdir = Path(registry.root) / "m" / version
    marker = tmp_path / "code-ran"
    torch.save({"weight": torch.zeros(2), "evil": _Payload(marker)}, vdir / "actor.pt")
    # A consistent manifest, as an attacker with write access would leave it.
    manifest = json.loads((vdir / "manifest.json").read_text())
    manifest["files"]["actor.pt"]["sha256"] = sha256((vdir / "actor.pt").read_bytes())
    (vdir / "manifest.json").write_text(json.dumps(manifest))

    with pytest.raises(CorruptArtifactError, match=re.escape(str(vdir / "actor.pt")) + ".*weights_only=True"):
        registry.load("m", version)
    assert not marker.exists()
    # Control: the payload is live, a plain unpickling load would have run it.
    torch.load(vdir / "actor.pt", weights_only=False)
    assert marker.exists()


def test_current_pointing_to_a_missing_version_is_a_clear_error_and_rollback_repairs_it(
    registry: Registry,
) -> None:
    v1 = registry.save("m", make_artifacts(1))
    registry.set_current("m", v1)
    v2 = registry.save("m", make_artifacts(2))
    registry.set_current("m", v2)
    shutil.rmtree(Path(registry.root) / "m" / v2)
    pointer = Path(registry.root) / "m" / "current"
    with pytest.raises(CorruptArtifactError) as err:
        registry.load("m")
    message = str(err.value)
    assert str(pointer) in message and str(Path(registry.root) / "m" / v2) in message
    assert "does not exist" in message and "sacfolio registry rollback m" in message

    assert registry.rollback("m") == v1
    assert registry.load("m").version == v1


def test_no_current_unknown_name_and_bad_ids_are_clear_errors(registry: Registry) -> None:
    registry.save("m", make_artifacts(1))
    with pytest.raises(ModelNotFoundError, match="has no current version.*promote"):
        registry.load("m")
    with pytest.raises(ModelNotFoundError, match=r"no model named 'nope' in .*models.*models there: m"):
        registry.load("nope")
    with pytest.raises(ModelNotFoundError, match="not a valid model name"):
        registry.versions("../m")
    with pytest.raises(ModelNotFoundError, match="not a version id"):
        registry.load("m", "../../etc")
    with pytest.raises(ModelNotFoundError, match="no complete version 20200101T000000.000Z-abcdef"):
        registry.load("m", "20200101T000000.000Z-abcdef")
    (Path(registry.root) / "m" / "current").write_text("garbage")
    with pytest.raises(CorruptArtifactError, match="current holds 'garbage'"):
        registry.current("m")


def test_half_written_versions_are_invisible_and_gc_removes_them(registry: Registry) -> None:
    whole = registry.save("m", make_artifacts(1))
    base = Path(registry.root) / "m"
    temp = base / f".tmp-20200101T000000.000Z-abcdef-{os.getpid() + 100000}"
    temp.mkdir()
    (temp / "actor.pt").write_bytes(b"partial")
    no_manifest = base / "20200102T000000.000Z-abcdef"
    no_manifest.mkdir()
    (no_manifest / "metadata.json").write_text("{}")

    assert registry.versions("m") == [whole]
    with pytest.raises(ModelNotFoundError):
        registry.load("m", no_manifest.name)
    report = registry.gc("m", keep=5)
    assert set(report.removed_leftovers) == {temp.name, no_manifest.name}
    assert report.removed_versions == () and report.kept == (whole,)
    assert not temp.exists() and not no_manifest.exists()
    assert registry.load("m", whole).version == whole


def test_failed_save_leaves_nothing_behind(registry: Registry) -> None:
    registry.save("m", make_artifacts(1))
    calls = []

    def fail_on_third(fname: str) -> None:
        calls.append(fname)
        if len(calls) == 3:
            raise OSError("disk full")

    # an OSError is reported as a RegistryError that says nothing was saved
    with pytest.raises(RegistryError, match="disk full; nothing was saved"):
        registry.save("m", make_artifacts(2), on_file_written=fail_on_third)
    assert len(registry.versions("m")) == 1
    assert not [p for p in (Path(registry.root) / "m").iterdir() if p.name.startswith(".tmp-")]


def test_invalid_artifacts_are_refused_before_anything_is_written(registry: Registry) -> None:
    with pytest.raises(InvalidArtifactError, match="'../actor.pt'"):
        ModelArtifacts(tensors={"../actor.pt": {}})
    with pytest.raises(InvalidArtifactError, match="written by the registry"):
        ModelArtifacts(documents={"metadata.json": {}})
    with pytest.raises(InvalidArtifactError, match="'step' is int"):
        ModelArtifacts(tensors={"actor.pt": {"step": 3}})
    nan_doc = ModelArtifacts(documents={"scaler.json": {"mean": [float("nan")]}})
    with pytest.raises(InvalidArtifactError, match="scaler.json is not strict JSON"):
        registry.save("m", nan_doc)
    with pytest.raises(InvalidArtifactError, match="metadata.json is not strict JSON"):
        registry.save("m", ModelArtifacts(metadata={"sharpe": float("inf")}))
    assert not (Path(registry.root) / "m").exists()


def test_set_current_replaces_the_pointer_and_records_it(registry: Registry) -> None:
    v1, v2 = registry.save("m", make_artifacts(1)), registry.save("m", make_artifacts(2))
    registry.set_current("m", v1)
    registry.set_current("m", v2, reason="ops")
    # first line: the version; second: the history entry that set it (see registry.pointer)
    assert (Path(registry.root) / "m" / "current").read_text().splitlines()[0] == v2
    with pytest.raises(ModelNotFoundError):
        registry.set_current("m", "20200101T000000.000Z-abcdef")
    assert registry.current("m") == v2
    assert [(e["action"], e["version"], e["previous"]) for e in registry.history("m")] == [
        ("set_current", v1, None), ("set_current", v2, v1)]
    assert not [p for p in (Path(registry.root) / "m").iterdir() if ".tmp-" in p.name]


def test_rollback_walks_back_through_promotions_and_is_recorded(registry: Registry) -> None:
    v1, v2, v3 = (registry.save("m", make_artifacts(i)) for i in range(3))
    for v in (v1, v2, v3):
        registry.promote("m", v, reason="test")
    assert registry.rollback("m") == v2
    assert registry.rollback("m") == v1
    with pytest.raises(RegistryError, match="no earlier promoted version"):
        registry.rollback("m")
    assert registry.rollback("m", to=v3) == v3
    assert registry.current("m") == v3
    rollbacks = [(e["version"], e["previous"]) for e in registry.history("m") if e["action"] == "rollback"]
    assert rollbacks == [(v2, v3), (v1, v2), (v3, v1)]


def test_gc_keeps_current_and_promoted_versions(registry: Registry) -> None:
    v = [registry.save("m", make_artifacts(i)) for i in range(6)]
    registry.promote("m", v[1], reason="test")
    registry.promote("m", v[3], reason="test")
    assert registry.rollback("m") == v[1]  # v[3] was promoted once: still kept
    report = registry.gc("m", keep=1)
    assert report.removed_versions == (v[0], v[2], v[4])
    assert registry.versions("m") == [v[1], v[3], v[5]]
    assert registry.load("m").version == v[1]
    with pytest.raises(RegistryError, match="keep must be >= 0"):
        registry.gc("m", keep=-1)


def test_check_layout_explains_every_difference() -> None:
    art = make_artifacts(1)
    layout = art.documents["config.json"]["state_layout"]
    check_layout(art, SYMBOLS, layout)  # same data: no error

    with pytest.raises(LayoutMismatchError, match=r"position 0 is 'AAA' in the model and 'BBB'"):
        check_layout(art, ["BBB", "AAA", "CCC", "DDD"])
    with pytest.raises(LayoutMismatchError) as err:
        check_layout(art, ["AAA", "BBB", "CCC", "EEE"], {**layout, "weights": 6, "price": 3})
    text = str(err.value)
    assert "in the model but not in the data: ['DDD']" in text
    assert "in the data but not in the model: ['EEE']" in text
    assert "state_layout.weights: model 5 != data 6" in text
    assert "state_layout.price: data has 3, model has nothing" in text
    assert Registry.check_layout is check_layout


def test_environment_metadata_never_fails_without_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no git executable
    meta = environment_metadata()
    assert meta["git_commit"] is None and meta["git_dirty"] is None
    assert meta["torch"] == torch.__version__ and meta["python"].count(".") == 2
    json.dumps(meta, allow_nan=False)


def test_registry_root_for_uses_the_seed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_SAC_LSTM_MODEL_REPO", raising=False)
    monkeypatch.delenv("HF_SAC_PATCHTST_MODEL_REPO", raising=False)
    monkeypatch.setenv("SACFOLIO_HOME", "/srv/models")
    assert registry_root_for("sac_lstm") == "/srv/models"
    monkeypatch.setenv("HF_SAC_LSTM_MODEL_REPO", "acme/sac-lstm")
    monkeypatch.setenv("HF_SAC_PATCHTST_MODEL_REPO", "hf://acme/sac-patchtst")
    assert registry_root_for("sac_lstm") == "hf://acme/sac-lstm"
    assert registry_root_for("sac_patchtst") == "hf://acme/sac-patchtst"
    assert registry_root_for("ppo") == "/srv/models"
    monkeypatch.delenv("SACFOLIO_HOME")
    assert registry_root_for("ppo") == "./models"


@pytest.mark.skipif(importlib.util.find_spec("huggingface_hub") is not None,
                    reason="huggingface_hub is installed here")
def test_hf_root_without_huggingface_hub_says_what_to_install() -> None:
    with pytest.raises(RegistryError, match=r"hf://acme/sac-lstm needs huggingface_hub .*sacfolio\[hf\]"):
        Registry("hf://acme/sac-lstm")


def test_memory_url_backend_round_trip_and_completion_marker(tmp_path: Path) -> None:
    registry = Registry(f"memory://{tmp_path.name}/models")
    v1 = registry.save("m", make_artifacts(1))
    registry.set_current("m", v1)
    # An object-store write that never got its manifest: invisible, and gc removes it once stale.
    registry.store.write_file("m/20200101T000000.000Z-abcdef/actor.pt", b"partial")
    assert registry.versions("m") == [v1]
    loaded = registry.load("m")
    assert torch.equal(loaded.tensors["actor.pt"]["body.0.weight"],
                       make_artifacts(1).tensors["actor.pt"]["body.0.weight"])
    assert registry.gc("m", keep=0).removed_leftovers == ("20200101T000000.000Z-abcdef",)
    assert registry.store.list_dir("m") == sorted(["current", "promotions.jsonl", v1])
