"""Jobs survive a crash of the service: the cut-off job is failed with the reason, the queue goes on."""

from __future__ import annotations

import os
import time

from _serve_helpers import base_config, wait_for_job


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of the killed server counts as gone
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_killed_service_marks_its_running_job_failed_and_runs_the_queue(launch, tmp_path):
    config = base_config(tmp_path / "state")
    first = launch(config, name="first")
    with first.client() as c:
        long_job = c.post("/train/sac_price/full", json={"steps": 500_000}).json()
        deadline = time.monotonic() + 120
        while (job := c.get(f"/jobs/{long_job['id']}").json())["state"] != "running" or not job["pid"]:
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
        while c.get(f"/jobs/{long_job['id']}").json()["progress"] <= 0 and time.monotonic() < deadline:
            time.sleep(0.2)  # the worker is training and writing progress
        # one at a time: the finetune waits in the queue; a repeat of the running job is not duplicated
        queued = c.post("/train/sac_price/finetune", json={"steps": 100}).json()
        repeat = c.post("/train/sac_price/full", json={"steps": 10}).json()
        time.sleep(1.0)
        assert c.get(f"/jobs/{queued['id']}").json()["state"] == "queued"
    assert repeat["id"] == long_job["id"] and repeat["existing"] is True

    first.kill()  # SIGKILL: no shutdown code runs in the service
    deadline = time.monotonic() + 15
    while _alive(job["pid"]):
        assert time.monotonic() < deadline, "the orphaned worker kept training after the service died"
        time.sleep(0.2)

    second = launch(config, name="second")
    with second.client() as c:
        cut = c.get(f"/jobs/{long_job['id']}").json()
        assert cut["state"] == "failed"
        assert "interrupted" in cut["error"] and "restarted" in cut["error"]
        # the queued finetune survived the restart and ran; with no model yet it fails and says why
        done = wait_for_job(c, queued["id"])
    assert done["state"] == "failed"
    assert "no current version to finetune" in done["error"]
    assert "no current version to finetune" in done["log_tail"]


def test_graceful_shutdown_stops_the_worker_and_records_why(launch, tmp_path):
    config = base_config(tmp_path / "state")
    server = launch(config, name="first")
    with server.client() as c:
        job_id = c.post("/train/sac_price/full", json={"steps": 500_000}).json()["id"]
        deadline = time.monotonic() + 120
        while not (job := c.get(f"/jobs/{job_id}").json())["pid"]:
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
    server.stop()  # SIGTERM: the lifespan stops the runner (uvicorn then re-raises the signal)
    assert server.process.returncode in (0, -15), server.log()
    assert not _alive(job["pid"])
    again = launch(config, name="second")
    with again.client() as c:
        stopped = c.get(f"/jobs/{job_id}").json()
    assert stopped["state"] == "failed" and "shut down" in stopped["error"]
