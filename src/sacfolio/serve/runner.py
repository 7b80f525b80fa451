"""Runs queued training jobs, each in its own ``python -m sacfolio.serve.worker`` process.

A thread in the API process claims the oldest queued job when fewer than
``max_concurrent`` run, starts its worker, and on exit checks the record: a worker
that died without writing its outcome (killed, out of memory) gets its job marked
failed with the exit code and the end of its output. Stopping the runner stops the
workers and marks their jobs failed, so nothing keeps training after the service.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sacfolio.serve.jobs import JobRecord, JobStore

__all__ = ["EXECUTOR_ENV", "RAY_ADDRESS_ENV", "JobRunner"]

EXECUTOR_ENV = "SACFOLIO_JOB_EXECUTOR"
"""Tells a job's worker process where to run the training (``local``, ``process`` or ``ray``)."""
RAY_ADDRESS_ENV = "SACFOLIO_JOB_RAY_ADDRESS"
"""The Ray cluster a worker sends its training to (absent: a local Ray)."""

logger = logging.getLogger(__name__)


@dataclass
class _Running:
    job: JobRecord
    process: subprocess.Popen[bytes]
    log_file: IO[bytes]
    log_path: Path


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-chars:].decode("utf-8", errors="replace")


class JobRunner:
    """Starts worker processes for queued jobs, one at a time by default.

    Parameters
    ----------
    store : JobStore
    max_concurrent : int
        Workers at once; the rest wait in the queue.
    on_finished : callable, optional
        Called with the final record of every job that ends (e.g. reload the model).
    poll_seconds : float
        How often the thread checks workers and the queue when not woken.
    executor, ray_address : str
        Where each job's training runs (:mod:`sacfolio.workflows.executors`): ``"local"`` in
        the worker process, ``"ray"`` as a Ray task (a local Ray, or the cluster at
        ``ray_address``); the worker still saves the version and runs the gate.
    """

    def __init__(self, store: JobStore, *, max_concurrent: int = 1,
                 on_finished: Callable[[JobRecord], None] | None = None, poll_seconds: float = 0.5,
                 executor: str = "local", ray_address: str | None = None) -> None:
        self.executor, self.ray_address = executor, ray_address
        self.store = store
        self.max_concurrent = max_concurrent
        self.on_finished = on_finished
        self.poll_seconds = poll_seconds
        self.log_dir = store.path.parent / "job-logs"
        self._running: dict[str, _Running] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sacfolio-jobs", daemon=True)

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        """Mark jobs cut off by a previous process failed, then start the thread."""
        for job_id in self.store.fail_interrupted():
            logger.warning("job %s was running when the service stopped; marked failed", job_id)
        self._thread.start()

    def wake(self) -> None:
        """Look at the queue now (after a submit)."""
        self._wake.set()

    def running_ids(self) -> list[str]:
        """Ids of jobs whose worker is alive."""
        return list(self._running)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread, terminate running workers and mark their jobs failed."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=timeout)
        for job_id, run in list(self._running.items()):
            run.process.terminate()
            try:
                run.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                run.process.kill()
                run.process.wait()
            run.log_file.close()
            self.store.fail(job_id, "stopped: the service shut down while this job was running; "
                            "submit it again", log_tail=_tail(run.log_path))
            del self._running[job_id]

    # ------------------------------------------------------------------ loop
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._reap()
                while len(self._running) < self.max_concurrent and not self._stop.is_set():
                    job = self.store.claim_next()
                    if job is None:
                        break
                    self._spawn(job)
            except Exception:  # keep the runner alive; the failure is logged with its traceback
                logger.exception("job runner iteration failed")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def _spawn(self, job: JobRecord) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{job.id}.log"
        log_file = log_path.open("ab")
        env = {**os.environ, "SACFOLIO_PARENT_PID": str(os.getpid()), "OMP_NUM_THREADS": "1",
               EXECUTOR_ENV: self.executor}
        if self.ray_address is not None:
            env[RAY_ADDRESS_ENV] = self.ray_address
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "sacfolio.serve.worker", str(self.store.path), job.id],
                stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, env=env)
        except OSError as exc:
            log_file.close()
            self.store.fail(job.id, f"could not start the worker process: {exc}")
            return
        self.store.set_pid(job.id, process.pid)
        self._running[job.id] = _Running(job=job, process=process, log_file=log_file, log_path=log_path)
        logger.info("job %s (%s %s) started in process %d", job.id, job.model, job.mode, process.pid)

    def _reap(self) -> None:
        for job_id, run in list(self._running.items()):
            code = run.process.poll()
            if code is None:
                continue
            run.log_file.close()
            del self._running[job_id]
            if self.store.fail(job_id, f"the worker process exited with code {code} without "
                               "recording an outcome", log_tail=_tail(run.log_path)):
                logger.error("job %s: worker exited with code %d", job_id, code)
            final = self.store.get(job_id)
            logger.info("job %s finished: %s", job_id, final.state)
            if self.on_finished is not None:
                self.on_finished(final)
