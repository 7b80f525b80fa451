"""``sacfolio paper`` as a user runs it (in process): a real ledger, then a restart that resumes it."""

from __future__ import annotations

from typer.testing import CliRunner

from sacfolio.cli import app


def test_paper_runs_without_a_model_and_resumes_where_the_ledger_ends(tmp_path):
    runner = CliRunner()
    args = ["paper", "--synthetic", "--bars", "64", "--db", str(tmp_path / "ledger.sqlite3"),
            "--home", str(tmp_path / "models")]
    first = runner.invoke(app, [*args, "--max-bars", "61"])
    assert first.exit_code == 0, first.output
    assert "state_dim=78, action_dim=9" in first.output
    assert "source: fallback (no promoted version of meta_sac" in first.output
    assert "processed 61 bars" in first.output and "reconciled: yes" in first.output
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "processed 3 bars (61 already in the ledger" in again.output and "reconciled: yes" in again.output
