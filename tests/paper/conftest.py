"""Small sessions for the paper tests: 5 stocks, the real zoo with short windows, short state windows."""

from __future__ import annotations

import pytest

from _paper_helpers import CONFIG, SYMBOLS, ZOO

from sacfolio.env.allocation_state import zoo_strategies


@pytest.fixture(scope="session")
def small_bars():
    from sacfolio.paper.sources import load_source_bars

    return load_source_bars(n_bars=90, symbols=SYMBOLS, seed=3)


@pytest.fixture(scope="session")
def strategies():
    return zoo_strategies(CONFIG.rules, config=ZOO)


@pytest.fixture(scope="session")
def exact_inputs(small_bars, strategies):
    from sacfolio.env.allocation_run import allocation_inputs

    return allocation_inputs(small_bars, strategies, CONFIG, exact=True)

