"""Helpers of the service tests: a real `python -m sacfolio.serve` process on a free loopback port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

STARTUP_SECONDS = 90.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`python -m sacfolio.serve` with a JSON config, started and stopped by a fixture."""

    def __init__(self, root: Path, config: dict[str, Any], *, token: str | None = None) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.config_path = root / "serve.json"
        self.config_path.write_text(json.dumps(config))
        self.token = token
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = root / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "ServerProcess":
        env = {k: v for k, v in os.environ.items() if not k.startswith("SACFOLIO_")}
        env["OMP_NUM_THREADS"] = "1"
        if self.token is not None:
            env["SACFOLIO_API_TOKEN"] = self.token
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sacfolio.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--config", str(self.config_path), "--log-level", "warning"],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.root)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not answer /health within {STARTUP_SECONDS}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def client(self, *, auth: bool = False) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"} if auth and self.token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def stop(self) -> None:
        """SIGTERM (graceful: the lifespan stops workers), then SIGKILL after 30 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def base_config(root: Path, **overrides: Any) -> dict[str, Any]:
    """Settings of a test server: its own registry and job DB, no schedule, fast reload."""
    return {"home": str(root / "models"), "jobs_db": str(root / "jobs.sqlite3"), "schedule": [],
            "models": ["sac_price"], "reports_dir": None, "reload_seconds": 0.5, **overrides}


def wait_for_version(client: httpx.Client, model: str, version: str, timeout: float = 30.0) -> dict[str, Any]:
    """/health once ``model`` serves ``version``: the cache looks at `current` every
    ``reload_seconds`` (2 s), so a just-promoted version appears within that, not at once."""
    deadline = time.monotonic() + timeout
    while True:
        health = client.get("/health").json()
        if health["models"].get(model, {}).get("version") == version or time.monotonic() > deadline:
            return health
        time.sleep(0.2)


def wait_for_job(client: httpx.Client, job_id: str, timeout: float = 240.0) -> dict[str, Any]:
    """Poll ``GET /jobs/{id}`` until the job succeeded or failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if job["state"] in ("succeeded", "failed"):
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not finish within {timeout}s: {job}")


def train_small_home(home: Path) -> str:
    """A registry at ``home`` with one small promoted sac_price model (300 steps on the embedded
    sample) and the training health monitor's summary in its metadata; returns its version."""
    from sacfolio.data import load_sp500_sample
    from sacfolio.diagnostics.findings import HealthConfig
    from sacfolio.registry import Registry
    from sacfolio.train.callbacks.health import HealthMonitor
    from sacfolio.train.portfolio import train_model
    from sacfolio.workflows.artifacts import to_artifacts

    panel = load_sp500_sample()
    monitor = HealthMonitor(HealthConfig(every=100, policy="warn"))
    model = train_model(panel, train_stop=panel.n_dates - 1, steps=300, seed=0, progress=False,
                        callbacks=[monitor])
    registry = Registry(home)
    version = registry.save("sac_price", to_artifacts(model, metadata={"seed": 0, "health": monitor.summary()}))
    registry.set_current("sac_price", version, reason="test fixture")
    return version
