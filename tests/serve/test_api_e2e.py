"""End to end against a real uvicorn server on a loopback port: train through the API, serve, fall back."""

from __future__ import annotations

import math

import httpx
import pytest

from _serve_helpers import ServerProcess, base_config, wait_for_job, wait_for_version

from sacfolio.registry import Registry

TOKEN = "test-token-5f1c"
SYMBOLS = ["AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO", "LLY", "MRK", "MSFT",
           "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM"]


def assert_feasible(weights: dict[str, float]) -> None:
    """Long only, sum 1, CASH >= 2%, every stock <= 20%: the env's constraints."""
    assert list(weights) == [*SYMBOLS, "CASH"]
    assert all(math.isfinite(w) and w >= -1e-12 for w in weights.values())
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-9)
    assert weights["CASH"] >= 0.02 - 1e-9
    assert max(weights[s] for s in SYMBOLS) <= 0.20 + 1e-9


def test_no_model_serves_the_static_fallback_with_the_reason(launch, tmp_path):
    server = launch(base_config(tmp_path / "fb"))
    with server.client() as c:
        r = c.post("/inference/sac_price")
        assert r.status_code == 200
        body = r.json()
        assert body["source"] == "fallback" and body["version"] is None
        assert "no promoted version of sac_price" in body["reason"]
        assert_feasible(body["weights"])
        assert body["weights"]["AAPL"] == pytest.approx(0.98 / 20)
        assert body["as_of"] == "2022-12-30"

        health = c.get("/health").json()
        assert health["status"] == "degraded"
        assert health["sac_enabled"] is True and health["sac_loaded"] is False
        assert health["models"]["sac_price"]["loaded"] is False
        assert any(ch["name"] == "torch" and ch["ok"] for ch in health["checks"])

        d = c.post("/decision/sac_price", json={}).json()
        assert d["source"] == "fallback" and d["aux"] is None


def test_configured_fallback_weights_are_served(launch, tmp_path):
    weights = {"AAPL": 0.5, "MSFT": 0.3, "CASH": 0.2}
    server = launch(base_config(tmp_path / "cfg", fallback_weights=weights))
    with server.client() as c:
        body = c.post("/inference/sac_price").json()
    assert body["source"] == "fallback"
    assert {k: v for k, v in body["weights"].items() if v} == weights


@pytest.fixture(scope="module")
def trained_server(tmp_path_factory):
    """A server with a token and a schedule; one model trained through POST /train."""
    root = tmp_path_factory.mktemp("api")
    server = ServerProcess(root, base_config(root, schedule=[
        {"model": "sac_price", "mode": "finetune", "cron": "0 6 * * sat"}], finetune_steps=200),
        token=TOKEN).start()
    try:
        with server.client() as anon:
            denied = anon.post("/train/sac_price/full", json={"steps": 300})
        with server.client(auth=True) as c:
            first = c.post("/train/sac_price/full", json={"steps": 300, "seed": 1})
            again = c.post("/train/sac_price/full", json={"steps": 300, "seed": 1})
            job = wait_for_job(c, first.json()["id"])
        if job["state"] == "succeeded" and not job["promoted"]:
            # 300 steps rarely beat 1/N out of sample; the serving tests need the version current
            Registry(root / "models").promote("sac_price", job["version"], reason="test: serve it anyway")
        yield server, denied, first, again, job
    finally:
        server.stop()


def test_training_needs_the_token(trained_server):
    _, denied, *_ = trained_server
    assert denied.status_code == 401
    assert "Bearer" in denied.json()["detail"]
    assert denied.headers["www-authenticate"] == "Bearer"


def test_train_job_runs_registers_and_is_not_duplicated(trained_server):
    server, _, first, again, job = trained_server
    assert first.status_code == 202
    assert first.headers["location"] == f"/jobs/{first.json()['id']}"
    assert first.json()["existing"] is False
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert again.json()["existing"] is True
    assert job["state"] == "succeeded", job["error"] or job["log_tail"]
    assert job["progress"] == 1.0
    # the first version is scored out of sample (its procedure refit before the gate window) and
    # serves only if it beats the static fallback there
    d = job["decision"]
    assert d["candidate_in_sample_weeks"] == 0 and d["baseline_cagr"] is not None
    assert job["promoted"] == (d["candidate_cagr"] > d["baseline_cagr"])
    assert d["reason"].startswith("first model of sac_price")
    assert job["version"] in job["log_tail"]
    assert "Traceback" not in job["log_tail"] and "site-packages" not in job["log_tail"]
    with server.client(auth=True) as c:
        listed = c.get("/jobs", params={"model": "sac_price"}).json()["jobs"]
    assert [j["id"] for j in listed] == [first.json()["id"]]


def test_inference_serves_the_trained_version(trained_server):
    server, *_, job = trained_server
    with server.client(auth=True) as c:
        health = wait_for_version(c, "sac_price", job["version"])
        assert health["sac_loaded"] is True and health["status"] == "ok"
        m = health["models"]["sac_price"]
        assert m["loaded"] and m["version"] == job["version"] and m["load_error"] is None
        assert m["promoted_at"] is not None

        body = c.post("/inference/sac_price", json={}).json()
        assert body["source"] == "model" and body["version"] == job["version"] and body["reason"] is None
        assert_feasible(body["weights"])

        # point in time: a Sunday uses the Friday before it; the result depends on the state
        sunday = c.post("/inference/sac_price", json={"as_of": "2020-03-22"}).json()
        friday = c.post("/inference/sac_price", json={"as_of": "2020-03-20"}).json()
        assert sunday["as_of"] == "2020-03-20" and sunday["weights"] == friday["weights"]
        other = c.post("/inference/sac_price", json={"as_of": "2008-10-10"}).json()
        assert other["weights"] != friday["weights"]

        held = {s: 0.049 for s in SYMBOLS} | {"CASH": 0.02}
        as_list = c.post("/inference/sac_price",
                         json={"as_of": "2020-03-20", "current_weights": list(held.values())}).json()
        as_map = c.post("/inference/sac_price",
                        json={"as_of": "2020-03-20", "current_weights": held}).json()
        assert as_list["weights"] == as_map["weights"]
        assert_feasible(as_map["weights"])

        decision = c.post("/decision/sac_price", json={"as_of": "2020-03-20"}).json()
        assert decision["weights"] == friday["weights"]
        # The trained model has aux heads (on by default): 1- and 4-week predictions per symbol,
        # finite, within +-1, not all zero (heads that never trained), and changing with the state.
        aux = decision["aux"]
        assert set(aux) == {"1w", "4w"} and set(aux["1w"]) == set(SYMBOLS)
        values = [v for h in aux.values() for v in h.values()]
        assert all(abs(v) <= 1.0 for v in values) and max(abs(v) for v in values) > 1e-4
        later = c.post("/decision/sac_price", json={"as_of": "2021-06-04"}).json()["aux"]
        assert later != aux


@pytest.mark.parametrize(("path", "body", "status", "words"), [
    ("/inference/no_such_model", {}, 404, "unknown model 'no_such_model'"),
    ("/decision/no_such_model", {}, 404, "unknown model"),
    ("/inference/sac_price", {"as_of": "1985-01-04"}, 422, "outside the data"),
    ("/inference/sac_price", {"as_of": "2031-01-03"}, 422, "outside the data"),
    ("/inference/sac_price", {"current_weights": {"ZZZZ": 1.0}}, 422, "unknown symbols ['ZZZZ']"),
    ("/inference/sac_price", {"current_weights": {"AAPL": -0.5, "CASH": 1.5}}, 422, ">= 0"),
    ("/inference/sac_price", {"current_weights": {"AAPL": 0.5, "CASH": 0.4}}, 422, "sum to 1"),
    ("/inference/sac_price", {"current_weights": [0.5, 0.5]}, 422, "expected 21"),
    ("/inference/sac_price", {"as_of": "not a date"}, 422, "date"),
    ("/inference/sac_price", {"bogus": 1}, 422, "bogus"),
])
def test_bad_input_is_a_4xx_that_says_what_is_wrong(trained_server, path, body, status, words):
    server, *_ = trained_server
    with server.client(auth=True) as c:
        r = c.post(path, json=body)
    assert r.status_code == status
    assert words in str(r.json()["detail"])


def test_malformed_and_non_finite_json_are_422(trained_server):
    server, *_ = trained_server
    headers = {"content-type": "application/json"}
    with server.client(auth=True) as c:
        broken = c.post("/inference/sac_price", content=b'{"as_of": ', headers=headers)
        nan = c.post("/inference/sac_price", headers=headers,
                     content=('{"current_weights": {"AAPL": NaN, "CASH": 1.0}}').encode())
    assert broken.status_code == 422 and "JSON" in str(broken.json()["detail"])
    # pydantic refuses the NaN and names the field; the body stays strict JSON
    assert nan.status_code == 422 and "finite" in nan.text
    assert ["body", "current_weights", "dict[str,float]", "AAPL"] in [e["loc"] for e in nan.json()["detail"]]


def test_oversized_bodies_are_413(trained_server):
    server, *_ = trained_server
    big = b'{"current_weights": {"CASH": 1.0}, "pad": "' + b"x" * 70_000 + b'"}'
    with server.client() as c:
        declared = c.post("/inference/sac_price", content=big, headers={"content-type": "application/json"})
        chunked = c.post("/inference/sac_price", content=iter([big[:40_000], big[40_000:]]),
                         headers={"content-type": "application/json"})
    assert declared.status_code == 413 and "65536 bytes" in declared.json()["detail"]
    assert chunked.status_code == 413


def test_unknown_job_and_unknown_training_model_are_404(trained_server):
    server, *_ = trained_server
    with server.client(auth=True) as c:
        assert c.get("/jobs/0123456789abcdef").status_code == 404
        r = c.post("/train/sac_unknown/full", json={"steps": 10})
        assert r.status_code == 404 and "unknown model 'sac_unknown'" in r.json()["detail"]
        assert c.post("/train/sac_price/sideways").status_code in (404, 405)


def test_status_and_retrain_run_the_scheduled_finetune(trained_server):
    server, *_, first_job = trained_server
    with server.client() as anon:
        assert anon.get("/status").status_code == 401  # protected by default when a token is set
        assert anon.post("/retrain").status_code == 401
    with server.client(auth=True) as authed:
        st = authed.get("/status").json()
        assert st["schedule"][0]["cron"] == "0 6 * * sat" and st["schedule"][0]["next_run"]
        assert st["data"]["last_date"] == "2022-12-30" and st["data"]["n_dates"] > 1000
    with server.client(auth=True) as c:
        assert c.post("/retrain", json={"mode": "full"}).status_code == 404
        r = c.post("/retrain", json={})
        assert r.status_code == 202
        (job,) = r.json()["jobs"]
        assert job["mode"] == "finetune" and job["trigger"] == "retrain"
        done = wait_for_job(c, job["id"])
    assert done["state"] == "succeeded", done["error"] or done["log_tail"]
    assert done["decision"]["current"] == first_job["version"]
    assert done["decision"]["candidate_cagr"] is not None and done["decision"]["current_cagr"] is not None


def test_a_one_step_training_job_is_never_promoted(trained_server):
    server, *_, first_job = trained_server
    with server.client(auth=True) as c:
        r = c.post("/train/sac_price/full", json={"steps": 1, "seed": 5})
        assert r.status_code == 202
        done = wait_for_job(c, r.json()["id"])
    assert done["state"] == "succeeded", done["error"] or done["log_tail"]
    assert done["promoted"] is False and "training made no updates" in done["decision"]["reason"]
    assert done["decision"]["current"] == first_job["version"]


def test_no_request_produced_a_server_error(trained_server):
    server, *_ = trained_server
    log = server.log()
    assert "Traceback" not in log and "Exception in ASGI" not in log, log
