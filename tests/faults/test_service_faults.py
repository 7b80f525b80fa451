"""A real server under faults: a corrupt job store at start, a full disk during a save,
inference during training and promotions, identical training requests at once."""

from __future__ import annotations

import errno
import math
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from _serve_helpers import ServerProcess, base_config, wait_for_job, wait_for_version

from sacfolio.exceptions import RegistryError
from sacfolio.registry import Registry
from sacfolio.registry.storage import LocalStore

TOKEN = "fault-token-91d2"


@pytest.fixture
def server_home(tmp_path, trained_home):
    shutil.copytree(trained_home[0], tmp_path / "models")
    return tmp_path, trained_home[1]


def test_a_corrupt_job_store_at_start_is_moved_aside_and_the_service_starts(server_home):
    root, version = server_home
    garbage = b"\x00corrupt job store\xff" * 512
    (root / "jobs.sqlite3").write_bytes(garbage)
    server = ServerProcess(root / "srv", base_config(root), token=TOKEN).start()
    try:
        with server.client(auth=True) as c:
            assert c.get("/health").status_code == 200 and c.get("/jobs").json()["jobs"] == []
    finally:
        server.stop()
    [moved] = [p for p in root.iterdir() if p.name.startswith("jobs.sqlite3.corrupt-")]
    assert moved.read_bytes() == garbage
    assert "moved it aside" in server.log() and "Traceback" not in server.log()
    print(f"corrupt job store: moved to {moved.name}, service started")


def test_a_full_disk_during_a_save_leaves_the_previous_version_serving(server_home, monkeypatch):
    root, version = server_home
    server = ServerProcess(root / "srv", base_config(root), token=TOKEN).start()
    try:
        registry = Registry(root / "models")
        artifacts = registry.load("sac_price")
        real_write, written = LocalStore.write_file, []

        def write_until_full(self, rel, data):
            if len(written) == 3:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.full(rel))
            written.append(rel)
            real_write(self, rel, data)

        monkeypatch.setattr(LocalStore, "write_file", write_until_full)
        with pytest.raises(RegistryError, match="No space left on device; nothing was saved"):
            registry.save("sac_price", artifacts)
        monkeypatch.undo()
        assert registry.versions("sac_price") == [version]
        time.sleep(1.5)  # three hot-reload periods
        with server.client(auth=True) as c:
            health = c.get("/health").json()["models"]["sac_price"]
            body = c.post("/inference/sac_price", json={}).json()
        assert health["version"] == version and health["load_error"] is None
        assert body["source"] == "model" and body["version"] == version
    finally:
        server.stop()


def _feasible(weights: dict[str, float]) -> bool:
    values = list(weights.values())
    return (all(math.isfinite(w) and w >= -1e-12 for w in values) and abs(sum(values) - 1) < 1e-9
            and weights["CASH"] >= 0.02 - 1e-9)


def test_inference_during_training_and_promotions_and_one_job_for_identical_requests(server_home):
    root, v1 = server_home
    registry = Registry(root / "models")
    v2 = registry.save("sac_price", registry.load("sac_price", v1))
    server = ServerProcess(root / "srv", base_config(root, train_steps=100), token=TOKEN).start()
    stop, errors, seen, answers = threading.Event(), [], set(), [0]

    def infer() -> None:
        with server.client(auth=True) as c:
            while not stop.is_set():
                r = c.post("/inference/sac_price", json={})
                answers[0] += 1
                body = r.json()
                if r.status_code != 200 or not _feasible(body["weights"]):
                    errors.append((r.status_code, r.text[:200]))
                seen.add(body.get("version"))

    try:
        threads = [threading.Thread(target=infer) for _ in range(3)]
        for t in threads:
            t.start()
        with server.client(auth=True) as c, ThreadPoolExecutor(8) as pool:
            posts = list(pool.map(lambda _: c.post("/train/sac_price/full", json={"steps": 100, "seed": 7}),
                                  range(8)))
            ids = {p.json()["id"] for p in posts}
            created = [p for p in posts if not p.json()["existing"]]
            swaps = 0
            deadline = time.monotonic() + 60
            while swaps < 20 and time.monotonic() < deadline:
                target = v2 if swaps % 2 == 0 else v1
                registry.promote("sac_price", target, reason="fault test swap")
                wait_for_version(c, "sac_price", target, timeout=10)
                swaps += 1
            job = wait_for_job(c, posts[0].json()["id"])
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        server.stop()
    print(f"concurrency: {answers[0]} inferences, {len(errors)} errors, {swaps} swaps, "
          f"{len(posts)} identical POSTs -> {len(ids)} job(s)")
    assert len(ids) == 1 and len(created) == 1 and all(p.status_code == 202 for p in posts)
    assert not errors and swaps == 20 and seen <= {v1, v2, job.get("version")} and {v1, v2} <= seen
    assert job["state"] == "succeeded", job["error"] or job["log_tail"]
