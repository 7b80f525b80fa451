"""Inference throughput of the brain API beside a bare FastAPI route, measured with ``wrk``.

Starts the server exactly as ``sacfolio serve`` does (same uvicorn settings, middleware and
dependencies) on a free 127.0.0.1 port, with a registry holding one small trained
``sac_price`` model (20 symbols, embedded S&P 500 sample). Only inside this benchmark the
app gets two extra routes: ``POST /bare``, an ``async def`` returning a fixed 21-weight
dict (FastAPI serializes it), the baseline of the target, and ``POST /bare-bytes``,
the same JSON pre-serialized in a ``Response`` (the floor of this stack), both matched
before every product route. ``wrk`` posts
the same JSON body (a Lua script) to each route in turn, ``--rounds`` times (short
alternating rounds, so that both see the same load on a shared machine), with
``--connections`` open, and prints req/s, p50 / p99 and server CPU per request, the
medians over rounds and the ratios. Target: inference reaches >= 90% of the bare route's
req/s with a p99 <= 1.25x the bare route's.

``--bodies N`` cycles through N different current weights: with N = 1 every request
after the first is answered from the decision cache; with N = 2000 (more than the cache
holds: 1024 answers per version, two keys per distinct body) every request is computed.

    python benchmarks/bench_api.py [--seconds 2] [--rounds 5] [--connections 8] [--bodies 1] [--home DIR]

Needs ``wrk`` (Debian/Ubuntu: ``apt-get install -y wrk``; macOS: ``brew install wrk``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import httpx

SYMBOLS = ["AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO", "LLY", "MRK", "MSFT",
           "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM"]
BARE_WEIGHTS = {**{s: 0.049 for s in SYMBOLS}, "CASH": 0.02}  # the bare route's fixed 21 weights
BODY = {"current_weights": {"AAPL": 0.1, "MSFT": 0.1, "CASH": 0.8}}
INSTALL_WRK = ("wrk is not installed; install it with `apt-get install -y wrk` (Debian/Ubuntu, as root) "
               "or `brew install wrk` (macOS), then run this benchmark again")

_LUA = """
local bodies = {%s}
local i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%.1f %%.1f %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
"""


class Result(NamedTuple):
    route: str
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float  # server CPU per request


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _make_registry(home: Path) -> str:
    """Train a 300-step model and promote it; return its version."""
    from sacfolio.data import load_sp500_sample
    from sacfolio.registry import Registry
    from sacfolio.train.portfolio import train_model
    from sacfolio.workflows.artifacts import to_artifacts

    panel = load_sp500_sample()
    model = train_model(panel, train_stop=panel.n_dates - 1, steps=300, seed=0, progress=False)
    registry = Registry(home)
    version = registry.save("sac_price", to_artifacts(model, metadata={"seed": 0}))
    registry.set_current("sac_price", version, reason="benchmark")
    return version


def _serve_with_bare_route(port: int, config: Path) -> None:
    """``sacfolio serve`` with ``POST /bare`` and ``POST /bare-bytes`` added to its app (this benchmark only)."""
    from fastapi.responses import Response

    import sacfolio.serve.app as app_module
    from sacfolio.cli.serve import serve_command

    serialized = json.dumps(BARE_WEIGHTS).encode()

    product_factory = app_module.create_app

    def create_app(settings=None):
        app = product_factory(settings)

        async def bare() -> dict[str, float]:
            return BARE_WEIGHTS

        async def bare_bytes() -> Response:
            return Response(serialized, media_type="application/json")

        app.add_api_route("/bare", bare, methods=["POST"])
        app.add_api_route("/bare-bytes", bare_bytes, methods=["POST"])
        routes = app.router.routes
        routes[:0] = [routes.pop(), routes.pop()]  # matched first: no routing cost beyond the product's
        return app

    app_module.create_app = create_app  # serve_command imports it at call time
    serve_command(host="127.0.0.1", port=port, config=config, insecure=False, log_level="warning")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _bodies(n: int) -> list[str]:
    """``n`` request bodies with different current weights (moving 1e-7 steps from CASH to AAPL)."""
    if n == 1:
        return [json.dumps(BODY)]
    return [f'{{"current_weights": {{"AAPL": {0.1 + i * 1e-7:.7f}, "MSFT": 0.1, "CASH": {0.8 - i * 1e-7:.7f}}}}}'
            for i in range(n)]


def _wrk(url: str, script: Path, seconds: float, connections: int, pid: int, route: str) -> Result:
    cpu0 = _cpu_seconds(pid)
    proc = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s", "-s",
                           str(script), url], capture_output=True, text=True, check=True)
    cpu = _cpu_seconds(pid) - cpu0
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{proc.stdout}\n{proc.stderr}")
    n, duration_us, p50, p99, bad_status, socket_errors = (float(x) for x in line.split()[1:])
    if bad_status or socket_errors:
        raise RuntimeError(f"{route}: {bad_status:.0f} non-2xx answers, {socket_errors:.0f} socket errors")
    return Result(route, n / (duration_us / 1e6), p50 / 1e3, p99 / 1e3, cpu / n * 1e3)


def _wait_ready(url: str, server: subprocess.Popen) -> dict:
    deadline = time.monotonic() + 90
    while True:
        try:
            health = httpx.get(f"{url}/health", timeout=2).json()
            if health["sac_loaded"]:
                return health
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit("the server did not come up with the model loaded")
        time.sleep(0.2)


def _check_answers(url: str, bodies: list[str]) -> None:
    headers = {"content-type": "application/json"}
    for path in ("/bare", "/bare-bytes"):
        bare = httpx.post(f"{url}{path}", content=bodies[0], headers=headers)
        assert bare.status_code == 200 and bare.json() == BARE_WEIGHTS, bare.text[:200]
    for body in bodies:
        r = httpx.post(f"{url}/inference/sac_price", content=body, headers=headers)
        if r.status_code != 200 or r.json()["source"] != "model":
            raise SystemExit(f"/inference/sac_price answered {r.status_code} {r.text[:200]}")


def _report(results: list[Result], args: argparse.Namespace, version: str) -> None:
    print(f"wrk, 1 thread, {args.connections} connections, {args.seconds:g} s per route and round, "
          f"{args.rounds} round(s), {args.bodies} distinct inference bod{'y' if args.bodies == 1 else 'ies'}; "
          f"model {version}; server as `sacfolio serve`, {os.cpu_count()} CPU cores shared with wrk")
    print(f"{'route':32s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'server CPU ms/req':>18s}")
    for r in results:
        print(f"{r.route:32s} {r.rps:8.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} {r.cpu_ms:18.3f}")
    med = {route: Result(route, *(statistics.median(getattr(r, f) for r in results if r.route == route)
                                  for f in ("rps", "p50_ms", "p99_ms", "cpu_ms")))
           for route in dict.fromkeys(r.route for r in results)}
    for r in med.values():
        print(f"median {r.route:25s} {r.rps:6.0f} req/s  p50 {r.p50_ms:.2f} ms  p99 {r.p99_ms:.2f} ms  "
              f"server CPU {r.cpu_ms:.3f} ms/req")
    inf = med["POST /inference/sac_price"]
    for name in ("POST /bare", "POST /bare-bytes"):
        base = med[name]
        rps_ratio, p99_ratio = inf.rps / base.rps, inf.p99_ms / base.p99_ms
        met = rps_ratio >= 0.90 and p99_ratio <= 1.25
        print(f"inference/{name.removeprefix('POST /')}: req/s {rps_ratio:.2f}x (target >= 0.90), p99 "
              f"{p99_ratio:.2f}x (target <= 1.25), server CPU {inf.cpu_ms / base.cpu_ms:.2f}x: "
              f"{'met' if met else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="wrk duration per route and round")
    parser.add_argument("--rounds", type=int, default=5, help="every route in turn, this many times")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--bodies", type=int, default=1, help="distinct current weights cycled through")
    parser.add_argument("--home", type=Path, help="Existing registry (default: train a small model).")
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve_with_bare_route(int(args.serve[0]), Path(args.serve[1]))
        return
    if shutil.which("wrk") is None:
        raise SystemExit(INSTALL_WRK)

    with tempfile.TemporaryDirectory() as tmp:
        home = args.home or Path(tmp) / "models"
        version = None if args.home else _make_registry(home)
        config = Path(tmp) / "serve.json"
        config.write_text(json.dumps({"home": str(home), "schedule": [], "jobs_db": str(Path(tmp) / "jobs.db"),
                                      "models": ["sac_price"]}))
        bodies = _bodies(args.bodies)
        script = Path(tmp) / "post.lua"
        script.write_text(_LUA % ", ".join(f"[[{b}]]" for b in bodies))
        port = _free_port()
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("SACFOLIO_")}, "OMP_NUM_THREADS": "1"}
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), str(config)], env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            health = _wait_ready(url, server)
            version = version or health["models"]["sac_price"]["version"]
            _check_answers(url, bodies)
            routes = {name: f"{url}{name.removeprefix('POST ')}"
                      for name in ("POST /bare", "POST /bare-bytes", "POST /inference/sac_price")}
            for target in routes.values():  # warm up
                _wrk(target, script, 1, args.connections, server.pid, "warm-up")
            results = [_wrk(target, script, args.seconds, args.connections, server.pid, route)
                       for _ in range(args.rounds) for route, target in routes.items()]
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    _report(results, args, version)


if __name__ == "__main__":
    main()
