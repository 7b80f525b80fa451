"""Inference latency of the brain API over loopback: p50 / p99 and requests per second.

Starts ``python -m sacfolio.serve`` on a free 127.0.0.1 port with a registry holding
one small trained ``sac_price`` model (20 symbols, embedded S&P 500 sample), then
sends ``--requests`` POST /inference/sac_price requests with ``--concurrency`` in
flight (httpx async, keep-alive) and reports latency percentiles. Target: p99 < 10 ms.

    python benchmarks/bench_api.py [--requests 2000] [--concurrency 8] [--home DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _make_registry(home: Path) -> str:
    """Train a 300-step model and promote it; return its version."""
    from sacfolio.data import load_sp500_sample
    from sacfolio.registry import Registry
    from sacfolio.workflows.artifacts import to_artifacts
    from sacfolio.train.portfolio import train_model

    panel = load_sp500_sample()
    model = train_model(panel, train_stop=panel.n_dates - 1, steps=300, seed=0, progress=False)
    registry = Registry(home)
    version = registry.save("sac_price", to_artifacts(model, metadata={"seed": 0}))
    registry.set_current("sac_price", version, reason="benchmark")
    return version


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _run(url: str, n: int, concurrency: int) -> tuple[np.ndarray, float]:
    body = {"current_weights": {"AAPL": 0.1, "MSFT": 0.1, "CASH": 0.8}}
    latencies = np.empty(n)
    counter = iter(range(n))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        for _ in range(50):  # warm up connections and caches
            (await client.post("/inference/sac_price", json=body)).raise_for_status()

        async def worker() -> None:
            for i in counter:
                t0 = time.perf_counter()
                r = await client.post("/inference/sac_price", json=body)
                latencies[i] = time.perf_counter() - t0
                if r.status_code != 200 or r.json()["source"] != "model":
                    raise RuntimeError(f"request {i}: {r.status_code} {r.text[:200]}")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return latencies, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--home", type=Path, help="Existing registry (default: train a small model).")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        home = args.home or Path(tmp) / "models"
        version = None if args.home else _make_registry(home)
        config = Path(tmp) / "serve.json"
        config.write_text(json.dumps({"home": str(home), "schedule": [], "jobs_db": str(Path(tmp) / "jobs.db")}))
        port = _free_port()
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("SACFOLIO_")}, "OMP_NUM_THREADS": "1"}
        server = subprocess.Popen([sys.executable, "-m", "sacfolio.cli", "serve", "--host", "127.0.0.1", "--port",
                                   str(port), "--config", str(config), "--log-level", "warning"], env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    health = httpx.get(f"{url}/health", timeout=2).json()
                    if health["sac_loaded"]:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not come up with the model loaded")
                time.sleep(0.2)
            cpu0 = _cpu_seconds(server.pid)
            latencies, wall = asyncio.run(_run(url, args.requests, args.concurrency))
            server_cpu = (_cpu_seconds(server.pid) - cpu0) / (args.requests + 50)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)

    ms = latencies * 1e3
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    print(f"POST /inference/sac_price: {args.requests} requests, concurrency {args.concurrency}, "
          f"20 symbols, model {version or health['models']['sac_price']['version']}")
    print(f"  p50 {p50:.2f} ms  p90 {p90:.2f} ms  p99 {p99:.2f} ms  max {ms.max():.2f} ms")
    print(f"  {args.requests / wall:.0f} requests/s ({wall:.2f} s wall)  "
          f"target p99 < 10 ms: {'met' if p99 < 10 else 'NOT met'}")
    print(f"  server CPU {server_cpu * 1e3:.2f} ms per request; {os.cpu_count()} CPU cores shared with "
          "the client")


if __name__ == "__main__":
    main()
