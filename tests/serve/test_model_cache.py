"""Hot reload from the registry's `current`, and a broken version never replaces a working one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sacfolio.registry import Registry
from sacfolio.serve.decisions import decide
from sacfolio.serve.market import DataSource
from sacfolio.serve.model_cache import ModelCache


@pytest.fixture(scope="module")
def data() -> DataSource:
    return DataSource(None)


def test_current_changes_are_picked_up_and_a_broken_version_keeps_the_previous(model_home, data):
    home, first = model_home
    registry = Registry(home)
    cache = ModelCache(registry, ["sac_price"], data)
    assert cache.refresh("sac_price").serving.version == first

    # a second version of the same weights becomes current: the cache switches to it
    second = registry.save("sac_price", registry.load("sac_price", first))
    registry.set_current("sac_price", second)
    slot = cache.refresh("sac_price")
    assert slot.serving.version == second and slot.load_error is None

    # a third version whose actor file is damaged on disk becomes current
    third = registry.save("sac_price", registry.load("sac_price", first))
    actor = Path(home) / "sac_price" / third / "actor.pt"
    actor.write_bytes(actor.read_bytes()[:-16] + b"\0" * 16)
    registry.set_current("sac_price", third)
    slot = cache.refresh("sac_price")
    assert slot.serving.version == second, "the broken version replaced the working one"
    assert slot.current == third
    assert "CorruptArtifactError" in slot.load_error and "actor.pt" in slot.load_error
    d = decide(cache, "sac_price", as_of=None, current_weights=None, fallback=None)
    assert d.source == "model" and d.version == second

    # rolling back to a good version clears the error
    registry.set_current("sac_price", first)
    slot = cache.refresh("sac_price")
    assert slot.serving.version == first and slot.load_error is None


def test_a_broken_first_version_serves_the_fallback_with_the_load_error(model_home, data):
    home, version = model_home
    (Path(home) / "sac_price" / version / "config.json").write_text("{ not json")
    cache = ModelCache(Registry(home), ["sac_price"], data)
    slot = cache.refresh("sac_price")
    assert slot.serving is None and "config.json" in slot.load_error
    d = decide(cache, "sac_price", as_of=None, current_weights=None, fallback=None)
    assert d.source == "fallback" and d.version is None
    assert f"version {version} failed to load" in d.reason
    assert np.isclose(sum(d.weights.values()), 1.0)


def test_model_weights_depend_on_the_current_weights_and_the_date(model_home, data):
    home, _ = model_home
    cache = ModelCache(Registry(home), ["sac_price"], data)
    cache.refresh("sac_price")
    cash = decide(cache, "sac_price", as_of=None, current_weights=None, fallback=None).weights
    invested = decide(cache, "sac_price", as_of=None, fallback=None,
                      current_weights={"AAPL": 0.2, "MSFT": 0.2, "CASH": 0.6}).weights
    earlier = decide(cache, "sac_price", as_of=np.datetime64("2001-09-14").astype(object),
                     current_weights=None, fallback=None)
    assert cash != invested and cash != earlier.weights
    assert str(earlier.as_of) == "2001-09-14"
