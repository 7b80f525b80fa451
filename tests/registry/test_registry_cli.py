"""`sacfolio registry list|show|promote|rollback|gc` through typer's CliRunner."""

from __future__ import annotations

import pytest
from _registry_models import evaluate_on, make_artifacts, market
from typer.testing import CliRunner

from sacfolio.cli.registry import make_registry_app, registry_app
from sacfolio.exceptions import ModelNotFoundError, RegistryError
from sacfolio.registry import GateWindow, Registry
from sacfolio.registry.gate import GateSetup

WIDE = {"COLUMNS": "200"}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def gated_app():
    setup = GateSetup(evaluate=evaluate_on(*market()), window=GateWindow(start="2021-01-01", end="2022-12-30"))
    seen: list[tuple[Registry, str]] = []

    def factory(registry: Registry, name: str) -> GateSetup:
        seen.append((registry, name))
        return setup

    return make_registry_app(gate_factory=factory), seen


def test_list_show_promote_rollback_gc(registry: Registry, runner: CliRunner, gated_app) -> None:
    app, seen = gated_app
    home = ["--home", registry.root]
    v1 = registry.save("sac_lstm", make_artifacts(1, favour=0))
    v2 = registry.save("sac_lstm", make_artifacts(2, favour=3), parent=v1)

    result = runner.invoke(app, ["promote", "sac_lstm", v1, *home], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "PROMOTED (first model of sac_lstm)" in result.output
    assert seen[0][1] == "sac_lstm" and seen[0][0].root == registry.root

    result = runner.invoke(app, ["promote", "sac_lstm", v2, *home], env=WIDE)
    assert result.exit_code == 1 and "not promoted" in result.output and "vs current" in result.output
    assert registry.current("sac_lstm") == v1

    result = runner.invoke(app, ["list", "sac_lstm", *home], env=WIDE)
    assert result.exit_code == 0, result.output
    scores = {e["version"]: e["candidate_cagr"] for e in registry.history("sac_lstm")}
    row1 = next(line for line in result.output.splitlines() if v1 in line and "current" in line)
    row2 = next(line for line in result.output.splitlines() if line.lstrip("│ ").startswith(v2))
    assert f"{scores[v1]:+.2%}" in row1 and f"{scores[v2]:+.2%}" in row2 and v1 in row2  # parent column

    result = runner.invoke(app, ["list", *home], env=WIDE)
    assert "sac_lstm" in result.output and v1 in result.output

    result = runner.invoke(app, ["show", "sac_lstm", v2, *home], env=WIDE)
    assert result.exit_code == 0, result.output
    assert '"parent": "' + v1 in result.output and "actor.pt" in result.output and "not promoted" in result.output

    result = runner.invoke(app, ["promote", "sac_lstm", v2, "--force", "--reason", "desk request", *home], env=WIDE)
    assert result.exit_code == 0 and registry.current("sac_lstm") == v2
    assert registry.history("sac_lstm")[-1]["reason"] == "forced: desk request"

    result = runner.invoke(app, ["rollback", "sac_lstm", *home], env=WIDE)
    assert result.exit_code == 0 and f"current {v2} -> {v1}" in result.output
    assert registry.current("sac_lstm") == v1

    v3 = registry.save("sac_lstm", make_artifacts(3))
    result = runner.invoke(app, ["gc", "sac_lstm", "--keep", "0", *home], env=WIDE)
    assert result.exit_code == 0 and f"removed version {v3}" in result.output
    assert registry.versions("sac_lstm") == [v1, v2]


def test_errors_are_sacfolio_errors(registry: Registry, runner: CliRunner, monkeypatch) -> None:
    monkeypatch.setenv("SACFOLIO_HOME", registry.root)  # no --home: the variable decides
    monkeypatch.delenv("HF_SAC_LSTM_MODEL_REPO", raising=False)
    v1 = registry.save("sac_lstm", make_artifacts(1))

    result = runner.invoke(registry_app, ["list", "nope"])
    assert isinstance(result.exception, ModelNotFoundError) and "no model named 'nope'" in str(result.exception)
    result = runner.invoke(registry_app, ["promote", "sac_lstm", v1])
    assert isinstance(result.exception, RegistryError) and "no evaluator is configured" in str(result.exception)
    result = runner.invoke(registry_app, ["promote", "sac_lstm", v1, "--force"])
    assert isinstance(result.exception, RegistryError) and "--force needs --reason" in str(result.exception)
    result = runner.invoke(registry_app, ["promote", "sac_lstm", v1, "--force", "--reason", "bootstrap"])
    assert result.exit_code == 0 and registry.current("sac_lstm") == v1
    result = runner.invoke(registry_app, ["rollback", "sac_lstm"])
    assert isinstance(result.exception, RegistryError) and "no earlier promoted version" in str(result.exception)
