"""Fixtures of the registry tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sacfolio.registry import Registry

HERE = Path(__file__).resolve().parent
WRITER = HERE / "_registry_writer.py"


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "models", lock_timeout=30)


@pytest.fixture
def spawn_writer():
    """Start `_registry_writer.py` subprocesses; kill any still running at teardown."""
    procs: list[subprocess.Popen] = []

    def spawn(*args: str) -> subprocess.Popen:
        path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}
        proc = subprocess.Popen([sys.executable, str(WRITER), *map(str, args)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        return proc

    yield spawn
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
