"""`sacfolio registry promote meta_sac V` gates a meta-controller exactly as `meta train` did."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from sacfolio.cli import app


def _gate_entries(home) -> list[dict]:
    lines = (home / "meta_sac" / "promotions.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["action"] == "gate"]


def test_promoting_a_meta_version_replays_the_gate_its_registration_ran(tmp_path):
    runner, home = CliRunner(), tmp_path / "models"
    common = ["meta", "train", "--sessions", "10", "--test-sessions", "2", "--home", str(home)]
    for steps in ("300", "320"):
        result = runner.invoke(app, [*common, "--steps", steps])
        assert result.exit_code == 0, result.output
    first, second = _gate_entries(home)
    result = runner.invoke(app, ["registry", "rollback", "meta_sac", "--reason", "replay the gate", "--home", str(home)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["registry", "promote", "meta_sac", second["version"], "--home", str(home)])
    replay = _gate_entries(home)[-1]
    assert replay["version"] == second["version"] and replay["previous"] == first["version"]
    # the same bars (the generator's again, from the recorded source), window, evaluation and 1-day blocks
    for key in ("candidate_cagr", "current_cagr", "baseline_cagr", "interval", "promoted"):
        assert replay[key] == second[key], key
    assert (replay["window"]["start"], replay["window"]["end"]) == (second["window"]["start"], second["window"]["end"])
    assert result.exit_code == (0 if second["promoted"] else 1), result.output
