"""Fixtures of the service tests: servers on free loopback ports and a small trained model."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _serve_helpers import ServerProcess


@pytest.fixture
def launch(tmp_path: Path) -> Iterator:
    """``launch(config, token=None, name="server")`` starts a server; all are stopped at teardown."""
    servers: list[ServerProcess] = []

    def start(config: dict[str, Any], *, token: str | None = None, name: str = "server") -> ServerProcess:
        server = ServerProcess(tmp_path / name, config, token=token)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A registry with one small promoted sac_price model (300 steps on the embedded sample),
    with the training health monitor's summary in its metadata."""
    from sacfolio.data import load_sp500_sample
    from sacfolio.diagnostics.findings import HealthConfig
    from sacfolio.registry import Registry
    from sacfolio.workflows.artifacts import to_artifacts
    from sacfolio.train.callbacks.health import HealthMonitor
    from sacfolio.train.portfolio import train_model

    home = tmp_path_factory.mktemp("trained") / "models"
    panel = load_sp500_sample()
    monitor = HealthMonitor(HealthConfig(every=100, policy="warn"))
    model = train_model(panel, train_stop=panel.n_dates - 1, steps=300, seed=0, progress=False,
                        callbacks=[monitor])
    registry = Registry(home)
    version = registry.save("sac_price", to_artifacts(model, metadata={"seed": 0, "health": monitor.summary()}))
    registry.set_current("sac_price", version, reason="test fixture")
    return home, version


@pytest.fixture
def model_home(tmp_path: Path, trained_home: tuple[Path, str]) -> tuple[Path, str]:
    """A private copy of :func:`trained_home` that a test may change."""
    home = tmp_path / "models"
    shutil.copytree(trained_home[0], home)
    return home, trained_home[1]
