"""One training job in its own process: ``python -m sacfolio.serve.worker DB_PATH JOB_ID``.

Reads the job's parameters from the SQLite record, runs
:func:`sacfolio.workflows.registration.train_and_register` (train, save a version, run the
promotion gate), and writes progress, the log tail and the outcome back. It exits by
itself when the service that started it dies, so a killed service leaves no training
behind; the next service marks the job failed.
"""

from __future__ import annotations

import collections
import logging
import os
import sys
import threading
import time
import traceback
import warnings
from pathlib import Path

from sacfolio.exceptions import SacfolioError
from sacfolio.serve.jobs import JobStore
from sacfolio.serve.runner import EXECUTOR_ENV, RAY_ADDRESS_ENV

__all__ = ["main", "run_job"]

logger = logging.getLogger("sacfolio.serve.worker")
_EXIT_ORPHANED = 3


class _TailHandler(logging.Handler):
    """Keeps the last ``lines`` formatted log records."""

    def __init__(self, lines: int = 40) -> None:
        super().__init__()
        self.lines: collections.deque[str] = collections.deque(maxlen=lines)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def text(self) -> str:
        return "\n".join(self.lines)


def _watch_parent(parent: int, period: float = 0.5) -> None:
    """Exit at once when the process that started this one is gone."""
    def run() -> None:
        while True:
            if os.getppid() != parent:  # re-parented: the service is gone
                os._exit(_EXIT_ORPHANED)
            time.sleep(period)

    threading.Thread(target=run, name="parent-watch", daemon=True).start()


def run_job(store: JobStore, job_id: str) -> bool:
    """Run one claimed job to the end and record the outcome; True when it succeeded."""
    import torch

    from sacfolio.registry import Registry
    from sacfolio.workflows.registration import train_and_register
    from sacfolio.serve.market import load_panel

    torch.set_num_threads(1)  # leave the other core to the API
    torch.set_flush_denormal(True)
    tail = _TailHandler()
    logging.getLogger().addHandler(tail)
    logging.captureWarnings(True)
    warnings.simplefilter("default")
    job = store.get(job_id)
    p = job.params
    last_write = 0.0

    def on_progress(done: int, total: int) -> None:
        nonlocal last_write
        now = time.monotonic()
        if now - last_write >= 0.5 or done >= total:
            last_write = now
            if done % 500 == 0 or done >= total:
                logger.info("update %d / %d", done, total)
            store.progress(job_id, done / total if total else 0.0, tail.text())

    try:
        logger.info("job %s: %s %s, %d steps, seed %d, registry %s", job_id, job.model, job.mode,
                    p["steps"], p["seed"], p["home"])
        panel = load_panel(Path(p["data_path"]) if p.get("data_path") else None, p.get("data_start"))
        logger.info("data %s: %d weeks %s..%s", panel.source, panel.n_dates, panel.dates[0], panel.dates[-1])
        outcome = train_and_register(
            name=job.model, mode=job.mode, panel=panel, registry=Registry(p["home"]),
            steps=int(p["steps"]), seed=int(p["seed"]), until=p.get("until"),
            finetune_weeks=int(p["finetune_weeks"]), gate_weeks=int(p["gate_weeks"]),
            progress=False, on_progress=on_progress, executor=os.environ.get(EXECUTOR_ENV, "local"),
            ray_address=os.environ.get(RAY_ADDRESS_ENV) or None)
        logger.info("saved version %s; gate: %s", outcome.version, outcome.decision.summary())
    except SacfolioError as exc:
        logger.error("failed: %s", exc)
        store.fail(job_id, str(exc), log_tail=tail.text())
        return False
    except Exception as exc:  # the process boundary: the traceback goes to the worker's stderr only
        traceback.print_exc(file=sys.stderr)
        logger.error("failed: %s: %s", type(exc).__name__, exc)
        store.fail(job_id, f"{type(exc).__name__}: {exc}", log_tail=tail.text())
        return False
    store.succeed(job_id, version=outcome.version, promoted=outcome.decision.promoted,
                  decision=outcome.decision.as_dict(), log_tail=tail.text())
    return True


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit code 0 on success, 1 when the job failed, 2 on bad arguments."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m sacfolio.serve.worker DB_PATH JOB_ID", file=sys.stderr)
        return 2
    parent = os.environ.get("SACFOLIO_PARENT_PID", "")
    _watch_parent(int(parent) if parent.isdigit() else os.getppid())
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return 0 if run_job(JobStore(args[0], recover_corrupt=False), args[1]) else 1


if __name__ == "__main__":
    sys.exit(main())
