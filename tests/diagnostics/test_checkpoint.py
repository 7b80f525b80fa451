"""Reading checkpoints: version directories, state dicts, SB3 zips; flags and repair."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
import torch
from torch import nn

from sacfolio.diagnostics.checkpoint import checkpoint_tensors, inspect_checkpoint, load_checkpoint
from sacfolio.diagnostics.init_rules import infer_init_rule
from sacfolio.diagnostics.repair import repair_checkpoint
from sacfolio.exceptions import CheckpointError


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, 5, batch_first=True)
        self.norm = nn.LayerNorm(5)
        self.bn = nn.BatchNorm1d(5)
        self.attn = nn.MultiheadAttention(5, 1)
        self.head = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2))


def _model(seed: int = 0) -> Encoder:
    torch.manual_seed(seed)
    return Encoder()


def _zero_biases(model: Encoder) -> None:
    with torch.no_grad():
        model.lstm.bias_ih_l0.zero_()
        model.head[0].bias.zero_()


def test_healthy_state_dict_has_no_flags_and_zero_by_design_tensors_are_skipped(tmp_path: Path
                                                                               ) -> None:
    path = tmp_path / "encoder.pt"
    torch.save(_model().state_dict(), path)
    report = inspect_checkpoint(path)
    assert report.kind == "state_dict" and report.verdict == "healthy"
    names = {r.name for r in report.rows}
    # LayerNorm / BatchNorm biases, running means and attention biases are zero at init
    assert {"norm.bias", "bn.bias", "bn.running_mean", "attn.in_proj_bias",
            "attn.out_proj.bias"} <= names
    assert "bn.num_batches_tracked" not in names  # integer counters are not weights
    assert report.total_params == sum(v.numel() for v in _model().state_dict().values()
                                      if v.is_floating_point())


def test_zeroed_biases_flag_exactly_those_layers(tmp_path: Path) -> None:
    model = _model()
    _zero_biases(model)
    path = tmp_path / "broken.pt"
    torch.save(model.state_dict(), path)
    report = inspect_checkpoint(path)
    assert report.verdict == "unhealthy"
    assert {r.name: r.flags for r in report.flagged} == {
        "lstm.bias_ih_l0": ("ZERO_BIAS", "DEAD"), "head.0.bias": ("ZERO_BIAS", "DEAD")}


def test_partial_zeros_nonfinite_and_exploding_flags(tmp_path: Path) -> None:
    sd = _model().state_dict()
    sd["head.0.weight"][:2] = 0.0        # 10 of 40 values: 25 % -> warning
    sd["head.2.weight"][0, :5] = 0.0     # 5 of 16: 31 % -> critical
    sd["lstm.weight_hh_l0"][0, 0] = float("nan")
    sd["head.2.bias"][1] = 1e4
    torch.save(sd, tmp_path / "x.pt")
    flags = {r.name: r.flags for r in inspect_checkpoint(tmp_path / "x.pt").flagged}
    assert flags == {"head.0.weight": ("ZEROS",), "head.2.weight": ("MANY_ZEROS",),
                     "lstm.weight_hh_l0": ("NONFINITE",), "head.2.bias": ("EXPLODING",)}


def test_repair_follows_the_layer_rules_and_keeps_layout(tmp_path: Path) -> None:
    model = _model()
    _zero_biases(model)
    src = tmp_path / "broken.pt"
    torch.save(model.state_dict(), src)
    original = src.read_bytes()
    report = repair_checkpoint(src, tmp_path / "fixed.pt", seed=3)
    assert report.verdict == "healthy"
    assert sorted(report.actions) == ["broken.pt:head.0.bias re-initialized (small_uniform)",
                                      "broken.pt:lstm.bias_ih_l0 re-initialized (lstm_bias_ih)"]
    assert src.read_bytes() == original
    fixed = torch.load(tmp_path / "fixed.pt", weights_only=True)
    restored = Encoder()
    restored.load_state_dict(fixed)  # same keys and shapes
    bias = fixed["lstm.bias_ih_l0"]
    assert torch.equal(bias[5:10], torch.ones(5))  # forget gate (order i, f, g, o)
    rest = torch.cat([bias[:5], bias[10:]])
    assert rest.abs().max() <= 0.01 and (rest != 0).all()
    assert fixed["head.0.bias"].abs().max() <= 0.01
    for key, value in model.state_dict().items():
        if key not in ("lstm.bias_ih_l0", "head.0.bias"):
            assert torch.equal(fixed[key], value), key
    again = repair_checkpoint(src, tmp_path / "fixed2.pt", seed=3)
    assert torch.equal(torch.load(tmp_path / "fixed2.pt", weights_only=True)["head.0.bias"],
                       fixed["head.0.bias"])
    assert again.actions == report.actions
    with pytest.raises(CheckpointError, match="already exists"):
        repair_checkpoint(src, tmp_path / "fixed.pt")


def test_layer_kind_is_inferred_from_sibling_shapes() -> None:
    torch.manual_seed(0)
    for rnn, kind in ((nn.LSTM(2, 3), "lstm_bias_ih"), (nn.GRU(2, 3), "small_uniform"),
                      (nn.RNN(2, 3), "small_uniform")):
        sd = rnn.state_dict()
        rule, by_design = infer_init_rule("bias_ih_l0", sd)
        assert (rule.kind, by_design) == (kind, False)
        assert infer_init_rule("weight_hh_l0", sd)[0].fan_in == 3
    norm = nn.LayerNorm(4).state_dict()
    assert infer_init_rule("bias", norm) == (infer_init_rule("bias", norm)[0], True)
    assert infer_init_rule("bias", norm)[0].kind == "zeros"
    assert infer_init_rule("weight", nn.Linear(6, 2).state_dict())[0].fan_in == 6
    assert infer_init_rule("log_std", {"log_std": torch.zeros(())})[0] is None


def test_version_directory_reads_every_pt_file_and_repairs_into_same_layout(tmp_path: Path
                                                                          ) -> None:
    version = tmp_path / "v1"
    version.mkdir()
    actor, critic = _model(0), nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    with torch.no_grad():
        critic[0].bias.zero_()
    torch.save(actor.state_dict(), version / "actor.pt")
    torch.save(critic.state_dict(), version / "critic.pt")
    torch.save(torch.tensor(0.0), version / "log_alpha.pt")  # log alpha = 0: alpha = 1, fine
    (version / "config.json").write_text(json.dumps({"lr": 3e-4}))
    report = inspect_checkpoint(version)
    assert report.kind == "directory"
    assert {r.file for r in report.rows} == {"actor.pt", "critic.pt", "log_alpha.pt"}
    assert [(r.file, r.name) for r in report.flagged] == [("critic.pt", "0.bias")]
    fixed = repair_checkpoint(version, tmp_path / "v1-fixed", seed=0)
    assert fixed.verdict == "healthy"
    assert sorted(p.name for p in (tmp_path / "v1-fixed").iterdir()) == [
        "actor.pt", "config.json", "critic.pt", "log_alpha.pt"]
    assert json.loads((tmp_path / "v1-fixed" / "config.json").read_text()) == {"lr": 3e-4}


def test_sb3_zip_is_read_without_unpickling(tmp_path: Path) -> None:
    sb3 = pytest.importorskip("stable_baselines3")
    torch.set_num_threads(1)
    model = sb3.SAC("MlpPolicy", "Pendulum-v1", seed=0, buffer_size=10,
                    policy_kwargs={"net_arch": [16, 16]})
    path = tmp_path / "sac.zip"
    model.save(path)
    report = inspect_checkpoint(path)
    assert report.kind == "sb3_zip" and report.verdict == "healthy"
    policy = {k: v for k, v in model.policy.state_dict().items() if v.is_floating_point()}
    rows = {r.name: r for r in report.rows if r.file == "policy.pth"}
    assert set(rows) == set(policy)
    assert rows["actor.mu.weight"].shape == (1, 16)
    assert rows["actor.mu.weight"].norm == pytest.approx(float(policy["actor.mu.weight"].norm()))
    assert any("0 timesteps" in n for n in report.notes)

    # a zeroed actor bias is found in the zip and repaired in a zip SB3 can read back
    with torch.no_grad():
        model.policy.actor.latent_pi[0].bias.zero_()
    model.save(tmp_path / "broken.zip")
    broken = inspect_checkpoint(tmp_path / "broken.zip")
    assert [r.name for r in broken.flagged] == ["actor.latent_pi.0.bias"]
    fixed = repair_checkpoint(tmp_path / "broken.zip", tmp_path / "fixed.zip")
    assert fixed.verdict == "healthy"
    with (zipfile.ZipFile(tmp_path / "broken.zip") as a,
          zipfile.ZipFile(tmp_path / "fixed.zip") as b):
        assert a.namelist() == b.namelist()
        assert a.read("data") == b.read("data")
        state = torch.load(io.BytesIO(b.read("policy.pth")), weights_only=True)
    model.policy.load_state_dict(state)
    assert model.policy.actor.latent_pi[0].bias.abs().max() <= 0.01


def test_pickled_objects_and_missing_paths_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "pickled.pt"
    torch.save({"w": torch.ones(2), "when": Path("/etc")}, path)
    with pytest.raises(CheckpointError, match="never unpickles"):
        inspect_checkpoint(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        inspect_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"no \*\.pt"):
        inspect_checkpoint(tmp_path / "empty")


def test_load_checkpoint_and_checkpoint_tensors_flatten_nested_files(tmp_path: Path) -> None:
    nested = {"actor": {"w": torch.ones(2)}, "steps": [torch.zeros(1), torch.ones(1)]}
    torch.save(nested, tmp_path / "nested.pt")
    loaded = load_checkpoint(str(tmp_path / "nested.pt"))
    assert loaded.kind == "state_dict" and list(loaded.objects) == ["nested.pt"]
    flat = checkpoint_tensors("nested.pt", loaded.objects["nested.pt"])
    assert list(flat) == ["actor.w", "steps.0", "steps.1"]
    assert list(checkpoint_tensors("log_alpha.pt", torch.tensor(0.0))) == ["log_alpha"]


def test_json_dict_has_every_row_and_an_overall_status(tmp_path: Path) -> None:
    sd = _model().state_dict()
    sd["head.0.bias"].zero_()
    sd["head.2.weight"][0, 0] = float("inf")
    torch.save(sd, tmp_path / "x.pt")
    report = inspect_checkpoint(tmp_path / "x.pt")
    doc = json.loads(json.dumps(report.to_json_dict(), allow_nan=False))
    assert doc["status"] == report.status == "critical" and doc["verdict"] == "unhealthy"
    assert [r["name"] for r in doc["rows"]] == [r.name for r in report.rows]
    inf_row = next(r for r in doc["rows"] if r["name"] == "head.2.weight")
    assert inf_row["max"] == "inf" and inf_row["flags"] == ["NONFINITE"]
    healthy = inspect_checkpoint(_save(tmp_path / "ok.pt"))
    assert healthy.status == "ok" and healthy.to_json_dict()["flagged"] == 0


def _save(path: Path) -> Path:
    torch.save(_model().state_dict(), path)
    return path
