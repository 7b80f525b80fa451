"""A careless or hostile client against a real uvicorn server on loopback: non-finite numbers,
a forged Host header, routes without the token, oversized or deeply nested input, slow clients."""

from __future__ import annotations

import json
import shutil
import socket
import time

import httpx
import pytest

from _serve_helpers import ServerProcess, base_config

TOKEN = "hostile-token-0c7e"
TIMEOUT = 1.5  # request_timeout_seconds of the server under test
TOKENS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]
# every operation with a body, and the fields it reads
BODY_OPERATIONS = {
    "/inference/sac_price": ["as_of", "current_weights"],
    "/decision/sac_price": ["as_of", "current_weights"],
    "/train/sac_price/full": ["steps", "seed", "until"],
    "/train/sac_price/finetune": ["steps", "seed", "until"],
    "/retrain": ["model", "mode"],
}
QUERY_OPERATIONS = {"/jobs": ["limit", "state", "model"]}


def _strict(text: str):
    """Parse as strict JSON: NaN / Infinity tokens are an error, as in any other JSON parser."""
    def refuse(token: str):
        raise AssertionError(f"non-standard JSON token {token} in {text[:200]}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def server(tmp_path_factory, trained_home):
    root = tmp_path_factory.mktemp("hostile")
    shutil.copytree(trained_home[0], root / "models")
    srv = ServerProcess(root, base_config(root, request_timeout_seconds=TIMEOUT, keep_alive_seconds=TIMEOUT,
                                          max_header_bytes=8192), token=TOKEN).start()
    yield srv
    srv.stop()


def test_each_non_finite_number_in_each_field_of_each_operation_is_a_422_naming_it(server):
    cases = failures = 0
    with server.client(auth=True) as c:
        for path, fields in BODY_OPERATIONS.items():
            for token in TOKENS:
                bodies = {field: f'{{"{field}": {token}}}' for field in fields}
                bodies["<body>"] = token
                for field, body in bodies.items():
                    r = c.post(path, content=body, headers={"content-type": "application/json"})
                    cases += 1
                    doc = _strict(r.text)
                    locs = [e["loc"] for e in doc["detail"]] if isinstance(doc["detail"], list) else []
                    named = field == "<body>" or any(field in loc for loc in locs)
                    failures += not (r.status_code == 422 and named)
        for path, params in QUERY_OPERATIONS.items():
            for token in TOKENS:
                for param in params:
                    r = c.get(path, params={param: token})
                    cases += 1
                    _strict(r.text)
                    failures += r.status_code >= 500 or (param == "limit" and r.status_code != 422)
    print(f"non-finite numbers: {cases} cases, {failures} failures")
    assert cases == 5 * (2 * 3 + 2 * 4 + 3) + 5 * 3 and failures == 0


def test_no_redirect_points_at_the_host_the_client_sent(server):
    with server.client(auth=True) as c:
        for method, path in [("POST", "/inference/sac_price/"), ("GET", "/jobs/"), ("GET", "/health/"),
                             ("GET", "/dashboard"), ("GET", "/")]:
            r = c.request(method, path, headers={"host": "evil.example"}, follow_redirects=False)
            assert "evil.example" not in r.headers.get("location", ""), (path, r.headers)
            if r.is_redirect:
                assert r.headers["location"] == "/dashboard/"
            else:
                assert r.status_code == 404 and _strict(r.text)["detail"] == "Not Found"


def test_with_a_token_every_route_but_health_needs_it(server):
    with server.client(auth=True) as authed:
        schema = authed.get("/openapi.json").json()
    fill = {"{model}": "sac_price", "{job_id}": "0123456789abcdef"}
    routes = [(method.upper(), path) for path, item in schema["paths"].items() for method in item]
    routes += [("GET", p) for p in ("/", "/dashboard", "/dashboard/plotly.min.js", "/dashboard/static/app.js")]
    checked = 0
    with server.client() as anon:
        for method, template in routes:
            path = template
            for key, value in fill.items():
                path = path.replace(key, value)
            r = anon.request(method, path, follow_redirects=False)
            if template == "/health":
                assert r.status_code == 200
            else:
                assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", (method, path)
                checked += 1
        wrong = anon.get("/jobs", headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 401 and "wrong" in wrong.json()["detail"]
    assert checked >= 14
    assert schema["paths"]["/jobs"]["get"]["security"] == [{"HTTPBearer": []}]
    assert "security" not in schema["paths"]["/health"]["get"]


def test_oversized_headers_deep_or_wide_json_are_refused(server):
    with server.client(auth=True) as c:
        big = c.get("/health", headers={"x-pad": "a" * 20_000})
        assert big.status_code == 431 and "max_header_bytes" in big.json()["detail"]
        deep = c.post("/inference/sac_price", content="[" * 200 + "]" * 200,
                      headers={"content-type": "application/json"})
        assert deep.status_code == 422 and "max_json_depth" in deep.json()["detail"]
        wide = "{" + ",".join(f'"k{i}": 0' for i in range(2000)) + "}"
        r = c.post("/inference/sac_price", content=wide, headers={"content-type": "application/json"})
        assert r.status_code == 422 and "max_json_keys" in r.json()["detail"]
        assert c.post("/inference/sac_price", json={}).status_code == 200  # still serving
    # a header block sent in pieces is cut off by the HTTP parser once it passes the limit
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        try:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 1_000_000)
        except (BrokenPipeError, ConnectionResetError):
            pass
        closed, answer = _closed_within(sock, 5)
    assert closed and (answer == b"" or answer.startswith(b"HTTP/1.1 400")), answer[:100]


def _closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closed ``sock`` within ``seconds``, and what it sent before."""
    sock.settimeout(seconds)
    data = b""
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            chunk = sock.recv(4096)
            if not chunk:
                return True, data
            data += chunk
    except (socket.timeout, TimeoutError):
        return False, data
    except ConnectionResetError:
        return True, data
    return False, data


@pytest.mark.parametrize("sent", [b"", b"POST /inference/sac_price HTTP/1.1\r\nHost: x\r\n",
                                  b"POST /inference/sac_price HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                                  + TOKEN.encode() + b"\r\ncontent-type: application/json\r\n"
                                  b"content-length: 100\r\n\r\n{\"as_of\""],
                         ids=["idle", "half-sent-headers", "half-sent-body"])
def test_idle_and_slow_clients_are_timed_out(server, sent):
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(sent)
        closed, answer = _closed_within(sock, TIMEOUT + 5)
    assert closed and time.monotonic() - started < TIMEOUT + 4, answer
    if b"content-length" in sent:
        assert answer.startswith(b"HTTP/1.1 408")
    with httpx.Client(base_url=server.url) as c:
        assert c.get("/health").status_code == 200
