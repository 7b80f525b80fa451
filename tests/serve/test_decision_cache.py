"""Answers computed once per loaded version and request: a hit is the miss's bytes, keys keep
different requests apart, a promotion starts afresh, the cache is bounded, and nothing but a
200 answer (never an auth failure) is ever reused."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from sacfolio.registry import Registry
from sacfolio.serve.app import create_app
from sacfolio.serve.decisions import decide
from sacfolio.serve.market import DataSource
from sacfolio.serve.model_cache import AnswerCache, ModelCache
from sacfolio.serve.models import InferenceRequest
from sacfolio.serve.routers.inference import request_key
from sacfolio.serve.settings import ServeSettings

TOKEN = "cache-token-91ab"
HELD = {"current_weights": {"AAPL": 0.1, "MSFT": 0.1, "CASH": 0.8}}


@pytest.fixture
def served(model_home, tmp_path):
    """(client, service, registry, version): an app serving a private copy of the trained model."""
    home, version = model_home
    settings = ServeSettings(home=str(home), jobs_db=tmp_path / "jobs.sqlite3", schedule=[], models=["sac_price"],
                             reports_dir=None, api_token=TOKEN, reload_seconds=600)
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client, client.app.state.service, Registry(home), version


def _answers(service) -> AnswerCache:
    return service.cache.serving("sac_price").answers


def test_a_hit_is_the_bytes_of_the_miss_and_the_uncached_decision(served):
    client, service, _, _ = served
    uncached = ModelCache(service.registry, ["sac_price"], service.data)  # the plain computation
    uncached.refresh("sac_price")
    for path, with_aux in (("/inference/sac_price", False), ("/decision/sac_price", True)):
        before = len(_answers(service))
        miss = client.post(path, json=HELD)
        assert miss.status_code == 200 and len(_answers(service)) == before + 2  # validated and raw key
        hit = client.post(path, json=HELD)
        assert hit.content == miss.content and hit.headers == miss.headers
        assert _answers(service).get(request_key(InferenceRequest(**HELD), with_aux=with_aux)) == miss.content
        # the same request spelled differently: a new raw key, the validated key's bytes
        spaced = client.post(path, content=json.dumps(HELD, indent=4), headers={"content-type": "application/json"})
        assert spaced.content == miss.content and len(_answers(service)) == before + 3

        plain = decide(uncached, "sac_price", as_of=None, fallback=None, with_aux=with_aux, **HELD)
        body = hit.json()
        assert body["weights"] == plain.weights and body["version"] == plain.version
        assert body["as_of"] == plain.as_of.isoformat() and body["source"] == "model"
        assert body.get("aux") == plain.aux


def test_different_weights_dates_and_routes_are_different_entries(served):
    client, service, _, _ = served
    bodies = [{}, HELD, {"current_weights": {"AAPL": 0.2, "MSFT": 0.2, "CASH": 0.6}}, {"as_of": "2008-10-10"},
              {**HELD, "as_of": "2008-10-10"}]
    answers = [client.post("/inference/sac_price", json=b).json() for b in bodies]
    assert len({json.dumps(a["weights"]) for a in answers}) == len(bodies)
    keys = {request_key(InferenceRequest(**b), with_aux=False) for b in bodies}
    keys.add(request_key(InferenceRequest(**HELD), with_aux=True))
    assert len(keys) == len(bodies) + 1
    assert len(_answers(service)) == 2 * len(bodies)
    assert all(_answers(service).get(request_key(InferenceRequest(**b), with_aux=False)) is not None for b in bodies)


def test_promoting_a_new_version_answers_from_it(served):
    client, service, registry, first = served
    old = client.post("/inference/sac_price", json=HELD)
    assert old.json()["version"] == first and len(_answers(service)) == 2
    second = registry.save("sac_price", registry.load("sac_price", first))
    registry.set_current("sac_price", second)
    service.cache.refresh("sac_price")  # what the reloader does every reload_seconds
    assert len(_answers(service)) == 0
    new = client.post("/inference/sac_price", json=HELD)
    assert new.json()["version"] == second and new.json()["weights"] == old.json()["weights"]
    assert client.post("/inference/sac_price", json=HELD).content == new.content


def test_errors_and_auth_failures_are_never_reused(served):
    client, service, _, _ = served
    assert client.post("/inference/sac_price", json=HELD).status_code == 200
    stored = len(_answers(service))
    for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": ""}):
        r = client.post("/inference/sac_price", json=HELD, headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    for bad in ({"current_weights": {"AAPL": 0.5, "CASH": 0.4}}, {"as_of": "1985-01-04"}, {"bogus": 1}):
        assert [client.post("/inference/sac_price", json=bad).status_code for _ in range(2)] == [422, 422]
    assert len(_answers(service)) == stored


def test_the_cache_is_bounded_and_drops_the_least_recently_used():
    cache = AnswerCache(3)
    for i in range(3):
        cache.put(i, b"%d" % i)
    assert cache.get(0) == b"0"  # 0 is now the most recent: 1 goes first
    cache.put(3, b"3")
    cache.put(4, b"4")
    assert len(cache) == 3 and cache.get(1) is None and cache.get(2) is None
    assert [cache.get(k) for k in (0, 3, 4)] == [b"0", b"3", b"4"]
    with pytest.raises(ValueError, match="at least 1"):
        AnswerCache(0)


def test_each_loaded_version_gets_a_cache_of_the_configured_size(model_home):
    cache = ModelCache(Registry(model_home[0]), ["sac_price"], DataSource(None), answers_per_version=5)
    answers = cache.refresh("sac_price").serving.answers
    assert answers.size == 5 and len(answers) == 0
