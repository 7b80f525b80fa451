"""Property-based requests generated from /openapi.json: no request may produce a 5xx.

Every operation of the schema gets valid (positive) and invalid (negative) generated
requests, sent to the app in process with its lifespan running (a trained model, a
schedule, the job runner). schemathesis' pytest plugin (``from_fixture``) does not
run on pytest 9, so the operations are driven with hypothesis directly.
"""

from __future__ import annotations

import shutil

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from sacfolio.serve.app import create_app
from sacfolio.serve.settings import ScheduleEntry, ServeSettings

TOKEN = "fuzz-token"
EXAMPLES = 25


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory, trained_home):
    """The app in process (lifespan running) with a trained model, a schedule and a token."""
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(trained_home[0], root / "models")
    app = create_app(ServeSettings(
        home=str(root / "models"), jobs_db=root / "jobs.sqlite3", api_token=TOKEN, finetune_steps=50,
        train_steps=50, schedule=[ScheduleEntry(model="sac_price", mode="finetune", cron="0 6 * * sat")]))
    with TestClient(app):
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_no_generated_request_is_a_server_error(api_schema, mode):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert {"POST /inference/{model}", "POST /train/{model}/full", "GET /jobs/{job_id}",
            "GET /health", "POST /retrain"} <= labels
    if mode == GenerationMode.NEGATIVE:  # an operation without inputs has no invalid request
        operations = [op for op in operations if list(op.iter_parameters()) or len(op.body)]
    runs = [(op, op.as_strategy(generation_mode=mode)) for op in operations]
    # random model names all answer 404; also drive every model route with the served model
    runs += [(op, op.as_strategy(generation_mode=mode, path_parameters={"model": "sac_price"}))
             for op in operations if "{model}" in op.path]
    statuses: dict[str, set[int]] = {}
    for operation, strategy in runs:
        @given(case=strategy)
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  derandomize=True, database=None)
        def check(case) -> None:
            response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
            statuses.setdefault(operation.label, set()).add(response.status_code)
            case.validate_response(response, checks=[not_a_server_error])

        check()
    print({label: sorted(codes) for label, codes in sorted(statuses.items())})
    assert all(code < 500 for codes in statuses.values() for code in codes)
    assert len(statuses) == len(operations)
    if mode == GenerationMode.POSITIVE:
        assert 200 in statuses["POST /inference/{model}"] and 202 in statuses["POST /train/{model}/full"]
