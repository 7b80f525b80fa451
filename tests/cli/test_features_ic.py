"""``sacfolio features ic``: the rank-IC table on the embedded sample, its CSV, help and errors."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from sacfolio.cli import app


def test_ic_prints_the_table_and_writes_the_csv_on_the_embedded_sample(tmp_path: Path) -> None:
    out = tmp_path / "ic" / "table.csv"
    result = CliRunner().invoke(app, ["features", "ic", "--start", "2001-01-01", "--eval-years", "2005-2006",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    for needle in ("sac_factor: walk-forward rank IC", "mom_12_1", "beta_52w", "corr_52w", "t-stat"):
        assert needle in result.output
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    names = [r["feature"] for r in rows]
    assert names[:6] == ["logret_1w", "logret_4w", "logret_13w", "logret_26w", "logret_52w", "vol_13w"]
    assert names[6:] == ["mom_12_1", "vol_52w", "beta_52w", "corr_52w"]
    for r in rows:
        assert int(r["n_weeks"]) == 104  # decisions whose return lands in 2005 or 2006
        assert -1 < float(r["mean_ic"]) < 1 and {"ic_2005", "ic_2006"} <= set(r)


def test_help_teaches_the_ic_and_bad_years_are_refused_before_loading() -> None:
    runner = CliRunner()
    help_ = runner.invoke(app, ["features", "ic", "--help"], env={"COLUMNS": "200"})
    assert help_.exit_code == 0
    assert "Spearman" in help_.output and "out of sample" in help_.output
    bad = runner.invoke(app, ["features", "ic", "--eval-years", "20x5"])
    assert bad.exception is not None and "20x5" in str(bad.exception)
