"""Where a walk-forward plan's training tasks run: in this process, or in a pool of processes.

A task carries its own seeds (:class:`~sacfolio.evaluate.walkforward.TrainingTask`), so
the executor changes the wall time, never the result: every worker trains with one
torch thread, as this process does, and the results come back in plan order.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Sequence, TypeVar

from sacfolio.exceptions import ConfigError

__all__ = ["EXECUTORS", "check_executor", "run_tasks"]

EXECUTORS = ("local", "process")
"""``local``: one task after another in this process (the default). ``process``: a pool of
worker processes on this machine, one task (a warm-started chain of folds) each at a time."""

T = TypeVar("T")
R = TypeVar("R")


def check_executor(executor: str, workers: int | None) -> None:
    """Refuse an unknown executor or a worker count below 1, before any work starts."""
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"workers={workers!r} must be a whole number >= 1")


def _one_thread() -> None:
    """Worker start: one torch thread, as the CLI runs (these networks are too small to split)."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


def run_tasks(tasks: Sequence[T], run: Callable[[T], R], *, executor: str = "local", workers: int | None = None,
              on_done: Callable[[T, R], None] | None = None) -> list[R]:
    """``[run(task) for task in tasks]``, here or in ``workers`` processes (default: the CPU count).

    ``run`` must be picklable for the process pool (a module-level function or a
    :func:`functools.partial` of one). ``on_done(task, result)`` is called in this
    process, in plan order, as results arrive.
    """
    check_executor(executor, workers)
    if executor == "local" or len(tasks) <= 1:
        results = []
        for task in tasks:
            results.append(run(task))
            if on_done is not None:
                on_done(task, results[-1])
        return results
    n = min(len(tasks), workers or os.cpu_count() or 1)
    # spawn, not fork: a forked child inherits torch's thread pools mid-state
    with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_one_thread) as pool:
        futures = [pool.submit(run, task) for task in tasks]
        results = []
        for task, future in zip(tasks, futures):
            results.append(future.result())
            if on_done is not None:
                on_done(task, results[-1])
    return results
