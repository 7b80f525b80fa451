"""The report files and the terminal summary, from a small walk-forward result built by hand."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from sacfolio.evaluate.report import print_summary, slice_since, write_report
from sacfolio.evaluate.results import BacktestResult, Fold, WalkForwardResult
from sacfolio.exceptions import EvaluationWindowError

SYMBOLS = ("AAA", "BBB", "CCC")
# 2 folds of 52 weeks starting at Friday 2020-01-03 (row 0 = the last close before the folds)
DATES = np.datetime64("2020-01-03") + 7 * np.arange(105)
FOLDS = (Fold(label="2020", train_start=0, train_stop=100, test_start=100, test_stop=152),
         Fold(label="2021", train_start=0, train_stop=152, test_start=152, test_stop=204))


def _strategy(name: str, seed: int, drift: float) -> tuple[BacktestResult, ...]:
    rng = np.random.default_rng(seed)
    parts = []
    for lo in (0, 52):
        raw = rng.uniform(0.1, 1.0, size=(52, 4))
        w = 0.98 * raw[:, :3] / raw[:, :3].sum(1, keepdims=True)
        weights = np.column_stack([w, np.full(52, 0.02)])
        parts.append(BacktestResult(
            name=name, symbols=SYMBOLS, dates=DATES[lo:lo + 53], weights=weights,
            returns=rng.normal(drift, 0.02, 52), turnover=rng.uniform(0, 0.3, 52),
            costs=np.full(52, 1e-4)))
    return tuple(parts)


@pytest.fixture(scope="module")
def result() -> WalkForwardResult:
    return WalkForwardResult(
        symbols=SYMBOLS, folds=FOLDS,
        results={"sac": _strategy("sac", 1, 0.004), "equal_weight": _strategy("equal_weight", 2, 0.001),
                 "hindsight_top5": _strategy("hindsight_top5", 3, 0.03)},
        info={"seed": 7, "fallbacks": {"hrp": 0}, "years": np.array([2020, 2021])},
    )


@pytest.fixture(scope="module")
def written(result: WalkForwardResult, tmp_path_factory: pytest.TempPathFactory):
    return write_report(result, tmp_path_factory.mktemp("report") / "run", title="Test <run>", seed=3)


def test_weights_csv(written, result: WalkForwardResult) -> None:
    with written.weights_csv.open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["date", "AAA", "BBB", "CCC", "CASH"]
    assert len(rows) == 1 + 104  # one row per decision close, both folds
    assert rows[1][0] == "2020-01-03" and rows[-1][0] == str(DATES[-2])
    body = np.array([[float(x) for x in r[1:]] for r in rows[1:]])
    np.testing.assert_allclose(body, result.combined("sac").weights, atol=1e-9)


def test_equity_csv_has_every_strategy_on_every_decision_close(written, result: WalkForwardResult) -> None:
    with (written.weights_csv.parent / "equity.csv").open() as fh:
        rows = list(csv.reader(fh))
    names = list(result.results)
    assert sorted(rows[0][1:]) == sorted(names)
    for i, name in enumerate(rows[0][1:], start=1):
        expected = result.combined(name).equity
        np.testing.assert_allclose([float(r[i]) for r in rows[1:]], expected, rtol=1e-7)
    assert [r[0] for r in rows[1:]] == [str(d) for d in result.combined(names[0]).dates]


def test_metrics_json(written, result: WalkForwardResult) -> None:
    doc = json.loads(written.metrics_json.read_text())
    assert [f["label"] for f in doc["folds"]] == ["2020", "2021"]
    assert set(doc["total"]) == {"sac", "equal_weight", "hindsight_top5"}
    sac = result.combined("sac")
    assert doc["total"]["sac"]["final_value"] == pytest.approx(sac.equity[-1])
    assert doc["total"]["sac"]["n_periods"] == 104
    assert doc["folds"][1]["metrics"]["equal_weight"]["n_periods"] == 52
    boot = doc["bootstrap"]
    assert boot["low"] <= boot["point"] <= boot["high"] and boot["seed"] == 3
    assert boot["verdict"] in {"edge beyond noise", "within noise", "shortfall beyond noise"}
    assert doc["info"]["years"] == [2020, 2021]
    assert "52 periods a year" in doc["conventions"]


def test_html_is_self_contained(written) -> None:
    page = written.html.read_text()
    for div in ("equity", "drawdown", "weights"):
        assert f'id="{div}"' in page
    assert not re.search(r"<script[^>]+src=", page)  # nothing fetched
    # plotly.js itself mentions CDNs for map tiles; outside it there is no URL to a CDN
    scripts = re.findall(r"<script type=\"text/javascript\">(.*?)</script>", page, flags=re.S)
    assert len(scripts) == 1 and len(scripts[0]) > 1_000_000  # embedded once
    rest = page.replace(scripts[0], "")
    assert "cdn." not in rest
    assert "Test &lt;run&gt;" in page and "Sharpe(sac)" in page
    assert "Conventions" in page and "Fold 2021" in page


def test_png_is_an_image(written) -> None:
    assert written.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert written.png.stat().st_size > 10_000


def test_unknown_agent_writes_nothing(result: WalkForwardResult, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="agent 'ppo'"):
        write_report(result, tmp_path / "x", agent="ppo", title="t")
    assert not (tmp_path / "x").exists()


def test_report_without_benchmark_says_why(result: WalkForwardResult, tmp_path: Path) -> None:
    only = WalkForwardResult(symbols=SYMBOLS, folds=FOLDS, results={"sac": result.results["sac"]})
    paths = write_report(only, tmp_path, title="t")
    assert "not computed" in json.loads(paths.metrics_json.read_text())["bootstrap"]["error"]


def test_slice_since(result: WalkForwardResult) -> None:
    sac = result.combined("sac")
    tail = slice_since(sac, "2021-01-01")
    assert tail.dates[1] >= np.datetime64("2021-01-01") > tail.dates[0]
    np.testing.assert_array_equal(tail.returns, sac.returns[-len(tail.returns):])
    with pytest.raises(EvaluationWindowError, match="2030-01-01"):
        slice_since(sac, "2030-01-01")


def test_print_summary(result: WalkForwardResult) -> None:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    print_summary(result, console, since="2021-01-01")
    out = console.file.getvalue()
    assert out.count("Out of sample") == 2
    for header in ("CAGR", "Sharpe", "Sortino", "Vol", "Max DD", "Calmar", "Turnover", "Costs"):
        assert header in out
    assert "sac" in out and "equal_weight" in out and "hindsight_top5 (uses future)" in out
    sac_tail = slice_since(result.combined("sac"), "2021-01-01")
    assert f"({len(sac_tail.returns)} weeks)" in out
