"""The command line as a user runs it: a subprocess, real files, exit codes."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SACFOLIO = [sys.executable, "-m", "sacfolio.cli"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "160"}


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*SACFOLIO, *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_demo_on_a_small_slice_writes_a_report_weights_and_a_registered_model(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = _run("demo", "--start", "2014-01-01", "--eval-years", "2021-2022", "--steps", "250",
                "--fold-steps", "150", "--out", str(out), "--no-progress", "--home", str(tmp_path / "models"),
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "equal_weight" in proc.stdout and "gate" in proc.stdout
    # The default variant is the LSTM-forecast state; the sample has prices only and the run says so.
    assert "sac_lstm" in proc.stdout and "neutral" in proc.stdout
    assert "forecast quality per year" in proc.stdout
    assert "Sharpe(sac) - Sharpe(equal_weight)" in proc.stdout and "noise" in proc.stdout
    assert proc.stderr.count("skipped") <= 1  # a warning is shown once, not per rebuild
    html = (out / "report.html").read_text()
    assert "<script src=" not in html and "sac" in html
    assert (out / "equity.png").stat().st_size > 10_000
    with open(out / "weights.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0][0] == "date" and rows[0][-1] == "CASH" and len(rows[0]) == 22
    assert len(rows) - 1 == 105  # one row per decision close, 2021 and 2022
    for row in rows[1:]:
        assert abs(sum(map(float, row[1:])) - 1.0) < 1e-6
    metrics = json.loads((out / "metrics.json").read_text())
    assert "sac" in json.dumps(metrics)
    assert "Forecast quality per year" in html
    listing = _run("registry", "list", "sac_lstm", "--home", str(tmp_path / "models"), cwd=tmp_path)
    assert listing.returncode == 0 and "sac_lstm" in listing.stdout
    # a first version serves only if it beat constrained 1/N on the gate year; either way the
    # gate line says which, and the listing marks current only when it did
    promoted = "PROMOTED" in proc.stdout
    assert promoted or "not promoted" in proc.stdout
    assert ("current" in listing.stdout) == promoted


@pytest.mark.parametrize(
    "content, needle",
    [
        ("date,A,B\n2020-01-03,1,2\n2020-01-10,-5,3\n2020-01-17,2,3\n", "'A'"),
        ("date,A,B\n2020-01-03,1,2\n2020-01-03,1,3\n", "appears twice"),
        ("date,A\n2020-01-03,1\n2020-01-10,2\n", "2 symbols"),
        ("date,A,B\n2020-01-03,1,abc\n2020-01-10,2,3\n", "'B'"),
    ],
)
def test_bad_data_exits_2_with_one_message_and_writes_nothing(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(content)
    out = tmp_path / "run"
    proc = _run("demo", "--data", str(path), "--out", str(out), "--no-progress", "--home",
                str(tmp_path / "models"), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "prices.csv" in proc.stderr and needle in proc.stderr
    assert not out.exists() and not (tmp_path / "models").exists()


def test_an_evaluation_window_outside_the_data_exits_2(tmp_path: Path) -> None:
    proc = _run("evaluate", "--eval-years", "2031", "--out", str(tmp_path / "run"), "--no-progress", cwd=tmp_path)
    assert proc.returncode == 2
    assert "2031" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()


def test_features_show_prints_coverage_and_rows(tmp_path: Path) -> None:
    proc = _run("features", "show", "--variant", "sac_price", "--start", "2020-01-01", "--symbol", "MSFT",
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "logret_52w" in proc.stdout and "MSFT: last 5 dates" in proc.stdout and "2022-12-30" in proc.stdout
    bad = _run("features", "show", "--variant", "sac_price", "--symbol", "NOPE", cwd=tmp_path)
    assert bad.returncode == 2 and "NOPE" in bad.stderr


def test_help_teaches_the_commands(tmp_path: Path) -> None:
    proc = _run("--help", cwd=tmp_path)
    assert proc.returncode == 0
    for command in ("demo", "train", "evaluate", "features", "registry", "inspect", "doctor"):
        assert command in proc.stdout


def test_inspect_exits_1_on_a_broken_checkpoint_and_0_after_repair(tmp_path: Path) -> None:
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    state = net.state_dict()
    state["0.bias"] = torch.zeros(8)  # a bias layer gone to zero, as in a checkpoint that never trained
    torch.save(state, tmp_path / "broken.pt")
    proc = _run("inspect", str(tmp_path / "broken.pt"), cwd=tmp_path)
    assert proc.returncode == 1 and "ZERO_BIAS" in proc.stdout and "unhealthy" in proc.stdout
    repaired = _run("inspect", str(tmp_path / "broken.pt"), "--repair", str(tmp_path / "fixed.pt"), cwd=tmp_path)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert _run("inspect", str(tmp_path / "fixed.pt"), cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("args, needle", [(("validate-pipelin",), "No such command"),
                                          (("evaluate", "--seedz", "2"), "No such option")])
def test_a_mistyped_command_or_option_is_a_usage_error_not_a_traceback(tmp_path: Path, args, needle) -> None:
    proc = _run(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 8, proc.stderr


@pytest.mark.slow
def test_the_synthetic_demo_after_the_real_one_registers_its_own_model(tmp_path: Path) -> None:
    """Another universe is another model: the synthetic run must not be gated against the real one."""
    home = str(tmp_path / "models")
    common = ("--variant", "sac_price", "--steps", "120", "--fold-steps", "60", "--no-progress", "--home", home)
    real = _run("demo", "--start", "2018-01-01", "--eval-years", "2022", "--out", str(tmp_path / "real"),
                *common, cwd=tmp_path)
    assert real.returncode == 0, real.stderr
    synthetic = _run("demo", "--synthetic", "--out", str(tmp_path / "synthetic"), *common, cwd=tmp_path)
    assert synthetic.returncode == 0, synthetic.stderr
    assert "saved sac_price_synthetic version" in synthetic.stdout
    listing = _run("registry", "list", "--home", home, cwd=tmp_path)
    assert "sac_price_synthetic" in listing.stdout and "sac_price" in listing.stdout


def test_evaluate_through_the_broker_reports_spread_commission_and_financing(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = _run("evaluate", "--start", "2019-01-01", "--eval-years", "2022", "--variant", "sac_price",
                "--steps", "100", "--fold-steps", "100", "--seeds", "1", "--executor", "local",
                "--baselines", "equal_weight", "--broker", "sp500_cfd_example.json", "--leverage", "1.5",
                "--out", str(out), "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "broker costs: sac paid" in proc.stdout and "broker costs: equal_weight paid" in proc.stdout
    costs = json.loads((out / "metrics.json").read_text())["evidence"]["broker_costs"]
    assert costs["equal_weight"]["spread"] > 0 and costs["equal_weight"]["financing"] < 0
    assert costs["equal_weight"]["commission"] == 0.0  # the shipped CFDs charge spread, no commission


@pytest.mark.parametrize("args, needle", [
    (("--broker", "no_such_file.json"), "no_such_file.json"),
    (("--leverage", "2"), "--leverage needs --broker"),
])
def test_a_bad_broker_setting_exits_2_before_any_training(tmp_path: Path, args, needle) -> None:
    out = tmp_path / "run"
    proc = _run("evaluate", "--eval-years", "2022", "--steps", "100", "--out", str(out), "--no-progress", *args,
                cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert needle in proc.stdout + proc.stderr
    assert not (out / "metrics.json").exists()


def test_evaluate_cold_folds_on_a_known_answer_market_reports_both_shares_of_the_known_policy(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = _run("evaluate", "--market", "ar1", "--strength", "0.2", "--eval-years", "2011-2012", "--variant",
                "sac_price", "--steps", "150", "--fold-steps", "100", "--cold-start", "--seeds", "1",
                "--executor", "local", "--baselines", "equal_weight", "--out", str(out), "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "150 steps per fold, each from scratch" in proc.stdout
    training = json.loads((out / "metrics.json").read_text())["info"]["training"]
    assert [(r["fold"], r["warm_start"], r["steps"]) for r in training] == [("2011", False, 150), ("2012", False, 150)]
    assert "of its excess CAGR over 1/N and" in proc.stdout
    assert "of its expected edge under the true model" in proc.stdout
    evidence = json.loads((out / "metrics.json").read_text())["evidence"]
    assert isinstance(evidence["known_policy_share"], float)
    assert isinstance(evidence["known_policy_expected_share"], float)
    assert "of its expected edge under the true model" in (out / "report.html").read_text()


@pytest.mark.slow
def test_evaluate_trains_the_cross_sectional_network_and_records_it(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = _run("evaluate", "--start", "2019-01-01", "--eval-years", "2022", "--variant", "sac_price",
                "--steps", "150", "--fold-steps", "100", "--seeds", "1", "--executor", "local",
                "--baselines", "equal_weight", "--network", "cross_sectional", "--gamma", "0",
                "--counterfactual-actions", "1", "--holdout-weeks", "52", "--holdout-sizing", "scaled",
                "--feature-noise", "0.5", "--out", str(out), "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    sac = metrics["info"]["sac"]
    assert sac["network"] == "cross_sectional" and sac["gamma"] == 0.0
    assert sac["counterfactual_actions"] == 1 and sac["holdout_weeks"] == 52 and sac["holdout_sizing"] == "scaled"
    assert sac["feature_noise"] == 0.5
    check = metrics["info"]["training"][0]["holdout"][0]  # the fold's holdout check, in the report's data
    assert check["weeks"] == 52 and check["window"] == ["2021-01-01", "2021-12-31"] and "t" in check
    assert check["sizing"] == "scaled" and check["scale"] == pytest.approx(min(max(check["record"]["t"] / 2, 0), 1))
    page = (out / "report.html").read_text()
    said = ("holds the benchmark" if check["scale"] == 0 else "trades its tilt" if check["scale"] == 1
            else f"trades {check['scale']:.0%} of its tilt")
    assert "<h2>Holdout checks</h2>" in page and "scaled sizing" in page and f"<td>{said}</td>" in page
    assert f"-> {said}" in proc.stdout.replace("\n", " ")
    bad = _run("evaluate", "--eval-years", "2022", "--network", "lstm", "--out", str(tmp_path / "bad"),
               "--no-progress", cwd=tmp_path)
    assert bad.returncode == 2 and "network 'lstm' is not one of mlp, cross_sectional" in bad.stdout + bad.stderr
