"""Property-based requests generated from /openapi.json, with schemathesis' checks.

Every operation of the schema gets valid (positive) and invalid (negative) generated
requests, sent to the app in process with its lifespan running (a trained model, a
schedule, the job runner), once with a token configured and once without. Every check
runs except ``positive_data_acceptance``: a schema-valid body can still be refused with
a 422 for rules JSON Schema cannot state (weights summing to 1, ``as_of`` inside the
data, symbols of the model's universe); those 422s are documented. Fixed seed
(``derandomize``), a small budget. schemathesis' pytest plugin (``from_fixture``) does
not run on pytest 9, so the operations are driven with hypothesis directly.
"""

from __future__ import annotations

import shutil
from collections import Counter

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import load_all_checks
from schemathesis.specs.openapi.checks import positive_data_acceptance

from sacfolio.serve.app import create_app
from sacfolio.serve.settings import ScheduleEntry, ServeSettings

TOKEN = "fuzz-token"
EXAMPLES = 15


@pytest.fixture(scope="module", params=["token", "no-token"])
def api_schema(request, tmp_path_factory, trained_home):
    """The app in process (lifespan running) with a trained model and a schedule; with or without a token."""
    root = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    shutil.copytree(trained_home[0], root / "models")
    token = TOKEN if request.param == "token" else None
    app = create_app(ServeSettings(
        home=str(root / "models"), jobs_db=root / "jobs.sqlite3", api_token=token, finetune_steps=50,
        train_steps=50, schedule=[ScheduleEntry(model="sac_price", mode="finetune", cron="0 6 * * sat")]))
    with TestClient(app):
        yield schemathesis.openapi.from_asgi("/openapi.json", app), token


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_generated_requests_pass_every_check(api_schema, mode):
    load_all_checks()
    schema, token = api_schema
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert {"POST /inference/{model}", "POST /train/{model}/full", "GET /jobs/{job_id}",
            "GET /health", "POST /retrain"} <= labels
    if mode == GenerationMode.NEGATIVE:  # an operation without inputs has no invalid request
        operations = [op for op in operations if list(op.iter_parameters()) or len(op.body)]
    runs = [(op, op.as_strategy(generation_mode=mode)) for op in operations]
    # random model names all answer 404; also drive every model route with the served model
    runs += [(op, op.as_strategy(generation_mode=mode, path_parameters={"model": "sac_price"}))
             for op in operations if "{model}" in op.path]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    statuses: dict[str, set[int]] = {}
    failures: Counter[str] = Counter()
    cases = [0]
    for operation, strategy in runs:
        @given(case=strategy)
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  derandomize=True, database=None)
        def check(case) -> None:
            response = case.call(headers=headers)
            cases[0] += 1
            statuses.setdefault(operation.label, set()).add(response.status_code)
            try:
                case.validate_response(response, headers=headers, excluded_checks=[positive_data_acceptance])
            except BaseException as exc:  # a FailureGroup: count each failed check, keep going
                for failure in getattr(exc, "exceptions", [exc]):
                    failures[f"{operation.label}: {getattr(failure, 'title', type(failure).__name__)}"] += 1
                    print(f"{failure}\n{case.as_curl_command()}"[:2000])

        check()
    print(f"schemathesis {mode} token={bool(token)}: {cases[0]} cases, {sum(failures.values())} failures",
          dict(failures), {label: sorted(codes) for label, codes in sorted(statuses.items())})
    assert not failures
    assert all(code < 500 for codes in statuses.values() for code in codes)
    assert len(statuses) == len(operations)
    if mode == GenerationMode.POSITIVE:
        assert 200 in statuses["POST /inference/{model}"] and 202 in statuses["POST /train/{model}/full"]
