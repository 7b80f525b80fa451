"""The fault suite (``make faults``): real servers and processes under crashes, full disks,
corrupt files and concurrent clients. Skipped unless ``SACFOLIO_FAULTS=1`` (``make faults``
sets it); each loop is bounded by a count and a time limit."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serve"))

from _serve_helpers import train_small_home  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if os.environ.get("SACFOLIO_FAULTS") == "1":
        return
    skip = pytest.mark.skip(reason="fault suite: run with `make faults` (SACFOLIO_FAULTS=1)")
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A registry with one small promoted sac_price model."""
    home = tmp_path_factory.mktemp("faults") / "models"
    return home, train_small_home(home)
