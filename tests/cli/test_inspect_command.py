"""``sacfolio inspect``: the table (whole on a pipe), ``--json``, exit codes and ``--repair``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
import typer
from rich.console import Console
from torch import nn
from typer.testing import CliRunner

from sacfolio.cli.inspect import inspect_command, render
from sacfolio.diagnostics.checkpoint import inspect_checkpoint


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, 5, batch_first=True)
        self.norm = nn.LayerNorm(5)
        self.head = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2))


def _model(seed: int = 0) -> Encoder:
    torch.manual_seed(seed)
    return Encoder()


def _zero_biases(model: Encoder) -> None:
    with torch.no_grad():
        model.lstm.bias_ih_l0.zero_()
        model.head[0].bias.zero_()


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(inspect_command)
    return app


#: A key long enough that the table needs more than 80 columns.
LONG_KEY = "policy.features_extractor.temporal_encoder.recurrent_block.head.bias"


def _long_named_broken(path: Path) -> Path:
    torch.manual_seed(0)
    torch.save({LONG_KEY.replace(".bias", ".weight"): torch.randn(20, 6), LONG_KEY: torch.zeros(20)},
               path)
    return path


def test_render_shows_flags_and_verdict(tmp_path: Path) -> None:
    model = _model()
    _zero_biases(model)
    torch.save(model.state_dict(), tmp_path / "broken.pt")
    console = Console(record=True, width=140)
    render(inspect_checkpoint(tmp_path / "broken.pt"), console)
    text = console.export_text()
    assert "ZERO_BIAS DEAD" in text and "head.0.bias" in text
    assert "2 flagged (2 critical): unhealthy" in text


def test_inspect_command_exit_codes_and_repair(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(inspect_command)
    runner = CliRunner()
    healthy, broken = tmp_path / "ok.pt", tmp_path / "broken.pt"
    torch.save(_model().state_dict(), healthy)
    model = _model()
    _zero_biases(model)
    torch.save(model.state_dict(), broken)
    assert runner.invoke(app, [str(healthy)]).exit_code == 0
    result = runner.invoke(app, [str(broken)])
    assert result.exit_code == 1 and "unhealthy" in result.output
    result = runner.invoke(app, [str(broken), "--repair", str(tmp_path / "fixed.pt")])
    assert result.exit_code == 0, result.output
    assert inspect_checkpoint(tmp_path / "fixed.pt").verdict == "healthy"


def test_piped_output_is_not_cut_at_80_columns(tmp_path: Path) -> None:
    """Run as a user would, stdout a pipe and no COLUMNS: every flag and name is whole."""
    path = _long_named_broken(tmp_path / "broken.pt")
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.run([sys.executable, "-m", "sacfolio.cli", "inspect", str(path)],
                          cwd=tmp_path, env={**env, "OMP_NUM_THREADS": "1"}, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "ZERO_BIAS DEAD" in proc.stdout
    [row] = [line for line in proc.stdout.splitlines() if LONG_KEY in line]
    assert row.rstrip().rstrip("│").rstrip().endswith("ZERO_BIAS DEAD")
    assert "1 flagged (1 critical): unhealthy" in proc.stdout


def test_a_narrow_non_terminal_console_still_prints_whole_rows(tmp_path: Path) -> None:
    console = Console(record=True, width=80, force_terminal=False)
    render(inspect_checkpoint(_long_named_broken(tmp_path / "broken.pt")), console)
    text = console.export_text()
    assert LONG_KEY in text and "ZERO_BIAS DEAD" in text
    assert max(len(line) for line in text.splitlines()) > 80


def test_json_has_every_row_with_stats_flags_and_severity(tmp_path: Path) -> None:
    model = _model()
    _zero_biases(model)
    torch.save(model.state_dict(), tmp_path / "broken.pt")
    result = CliRunner().invoke(_app(), [str(tmp_path / "broken.pt"), "--json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.output)
    assert (doc["status"], doc["verdict"], doc["kind"]) == ("critical", "unhealthy", "state_dict")
    rows = {r["name"]: r for r in doc["rows"]}
    floating = [k for k, v in model.state_dict().items() if v.is_floating_point()]
    assert list(rows) == floating and doc["tensors"] == len(floating)
    bias = rows["lstm.bias_ih_l0"]
    assert bias["flags"] == ["ZERO_BIAS", "DEAD"] and bias["severity"] == "critical"
    assert bias["shape"] == [20] and bias["numel"] == 20 and bias["zero_fraction"] == 1.0
    assert {"file", "norm", "min", "max", "nonfinite"} <= set(bias)
    assert rows["head.2.weight"]["flags"] == [] and rows["head.2.weight"]["severity"] == "ok"
    assert doc["flagged"] == 2 and doc["critical"] == 2


def test_json_is_strict_with_nonfinite_values_and_carries_the_repaired_copy(tmp_path: Path
                                                                          ) -> None:
    sd = _model().state_dict()
    sd["head.2.weight"][0, 0] = float("nan")
    torch.save(sd, tmp_path / "nan.pt")
    result = CliRunner().invoke(_app(), [str(tmp_path / "nan.pt"), "--json",
                                         "--repair", str(tmp_path / "fixed.pt")])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    row = next(r for r in doc["rows"] if r["name"] == "head.2.weight")
    assert row["flags"] == ["NONFINITE"] and row["norm"] == "nan"
    assert doc["repaired"]["status"] == "ok" and doc["repaired"]["actions"]
    healthy = CliRunner().invoke(_app(), [str(tmp_path / "fixed.pt"), "--json"])
    assert healthy.exit_code == 0 and json.loads(healthy.output)["verdict"] == "healthy"
