"""``sacfolio doctor``: the table of checks and the exit code."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from sacfolio.cli.doctor import doctor_command


def test_doctor_command_exits_non_zero_when_a_required_check_fails(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(doctor_command)
    runner = CliRunner()
    ok = runner.invoke(app, ["--models-dir", str(tmp_path)])
    assert ok.exit_code == 0, ok.output
    assert "All required checks passed" in ok.output
    blocker = tmp_path / "models"
    blocker.write_text("not a directory")
    bad = runner.invoke(app, ["--models-dir", str(blocker)])
    assert bad.exit_code == 1
    assert "FAIL" in bad.output and "models dir" in bad.output

