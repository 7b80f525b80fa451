"""Fixtures of the service tests: servers on free loopback ports and a small trained model."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _serve_helpers import ServerProcess, train_small_home


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
    home = tmp_path_factory.mktemp("trained") / "models"
    version = train_small_home(home)
    return home, version


@pytest.fixture
def model_home(tmp_path: Path, trained_home: tuple[Path, str]) -> tuple[Path, str]:
    """A private copy of :func:`trained_home` that a test may change."""
    home = tmp_path / "models"
    shutil.copytree(trained_home[0], home)
    return home, trained_home[1]
