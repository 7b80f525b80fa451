"""What the token protects, blank tokens, the OpenAPI security declaration, and what job
records show a client (no tracebacks, no paths outside the registry home)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from sacfolio.exceptions import ConfigError
from sacfolio.serve.app import create_app
from sacfolio.serve.jobs import JobStore
from sacfolio.serve.models import JobView
from sacfolio.serve.redact import scrub
from sacfolio.serve.settings import ServeSettings, load_settings


def _settings(tmp_path, **overrides) -> ServeSettings:
    return ServeSettings(home=str(tmp_path / "models"), jobs_db=tmp_path / "jobs.sqlite3", schedule=[],
                         models=["sac_price"], reports_dir=None, **overrides)


@pytest.mark.parametrize("token", ["", " ", "\t\n "])
def test_a_blank_token_is_refused_not_taken_as_auth_off(tmp_path, monkeypatch, token):
    with pytest.raises(ValueError, match="blank"):
        _settings(tmp_path, api_token=token)
    monkeypatch.setenv("SACFOLIO_API_TOKEN", token)
    with pytest.raises(ConfigError, match="api_token is blank"):
        load_settings()


def test_public_routes_answer_without_the_token_and_declare_no_security(tmp_path):
    app = create_app(_settings(tmp_path, api_token="t0k", public_routes=["/dashboard/data", "/jobs/{job_id}"]))
    with TestClient(app) as c:
        assert c.get("/dashboard/data").status_code == 200
        assert c.get("/jobs/0123456789abcdef").status_code == 404  # public, and unknown
        assert c.get("/jobs").status_code == 401 and c.get("/status").status_code == 401
        paths = c.get("/openapi.json", headers={"Authorization": "Bearer t0k"}).json()["paths"]
    assert "security" not in paths["/dashboard/data"]["get"] and "401" not in paths["/jobs/{job_id}"]["get"]["responses"]
    assert paths["/jobs"]["get"]["security"] == [{"HTTPBearer": []}]


def test_without_a_token_nothing_declares_security(tmp_path):
    with TestClient(create_app(_settings(tmp_path))) as c:
        doc = c.get("/openapi.json").json()
        assert c.get("/jobs").status_code == 200
    operations = [op for item in doc["paths"].values() for op in item.values()]
    assert operations and not any("security" in op or "401" in op["responses"] for op in operations)
    assert "securitySchemes" not in doc.get("components", {})


def test_job_logs_and_errors_show_no_traceback_and_no_paths_outside_home(tmp_path):
    home = str(tmp_path / "models")
    log = ("10:00:01 WARNING py.warnings: /usr/lib/python3/site-packages/torch/nn/init.py:412: UserWarning: x\n"
           f"10:00:02 INFO sacfolio: saved {home}/sac_price/20261201T000000.000Z-abcdef\n"
           "Traceback (most recent call last):\n"
           '  File "/opt/app/src/sacfolio/train/loop.py", line 88, in run\n'
           "    step()\n"
           "RuntimeError: cannot read /etc/sacfolio/prices.csv")
    store = JobStore(tmp_path / "jobs.sqlite3")
    job, _ = store.submit("sac_price", "full", {"home": home, "steps": 1, "seed": 0})
    store.claim_next()
    store.fail(job.id, "RuntimeError: cannot read /etc/sacfolio/prices.csv", log_tail=log)
    view = JobView.of(store.get(job.id))
    assert "Traceback" not in view.log_tail and 'File "' not in view.log_tail
    assert "/usr/lib" not in view.log_tail and "/etc/sacfolio" not in (view.error or "")
    assert ".../init.py:412: UserWarning" in view.log_tail and view.error.endswith(".../prices.csv")
    assert f"{home}/sac_price/20261201T000000.000Z-abcdef" in view.log_tail  # inside home: kept
    assert "RuntimeError: cannot read .../prices.csv" in view.log_tail
    assert scrub(None, home) is None and scrub("", home) == ""


def test_health_and_dashboard_say_why_the_fallback_serves(tmp_path):
    from sacfolio.registry import Registry

    Registry(tmp_path / "models").record("sac_price", {
        "action": "gate", "version": "20261201T000000.000Z-abcdef", "previous": None, "promoted": False,
        "reason": "first model of sac_price kept, not promoted: CAGR +1.00% does not beat the static "
                  "fallback (constrained 1/N) +5.00% on the gate window"})
    with TestClient(create_app(_settings(tmp_path))) as c:
        m = c.get("/health").json()["models"]["sac_price"]
        dash = c.get("/dashboard/data").json()["models"][0]
    assert m["source"] == "fallback" and "the gate kept version 20261201T000000.000Z-abcdef" in m["reason"]
    assert "does not beat the static fallback" in m["reason"]
    assert m["last_decision"]["promoted"] is False and dash["last_decision"] == m["last_decision"]


def test_numbers_are_what_the_schema_says_not_what_a_lax_parser_accepts(tmp_path):
    with TestClient(create_app(_settings(tmp_path))) as c:
        assert [c.get("/jobs", params={"limit": v}).status_code for v in ("5", " 5", "+5", "5.0")] == [200, 422, 422, 422]
        refused = [c.post("/train/sac_price/full", json=body) for body in ({"steps": "5"}, {"seed": True})]
    assert [r.status_code for r in refused] == [422, 422]
    assert [e["loc"] for r in refused for e in r.json()["detail"]] == [["body", "steps"], ["body", "seed"]]
