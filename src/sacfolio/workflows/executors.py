"""Where a plan's training tasks run: in this process, in a pool of processes, or on Ray.

A task carries its own seeds (:class:`~sacfolio.evaluate.walkforward.TrainingTask`), so
the executor changes the wall time, never the result: every worker trains with one
torch thread, as this process does, and the results come back in plan order.

What every executor shares lives here, on the driver: finished tasks are looked up in
and written to a result cache keyed by task (an interrupted run resumes with the tasks
not yet done, never recomputing a finished one), one progress board counts done /
running / failed tasks with an ETA, and a worker that dies is replaced and its task run
again, at most ``max_retries`` times. Ray is an optional extra (``sacfolio[ray]``),
imported only when ``executor="ray"``.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Protocol, Sequence, TypeVar

from sacfolio.exceptions import ConfigError, SacfolioError
from sacfolio.workflows.task_board import Say, TaskBoard

__all__ = ["EXECUTORS", "DEFAULT_RETRIES", "TaskCache", "TaskFailedError", "check_executor", "connect_ray", "require_ray",
           "one_torch_thread", "run_call", "run_tasks"]

EXECUTORS = ("local", "process", "ray")
"""``local``: one task after another in this process (the default). ``process``: a pool of
worker processes on this machine. ``ray``: Ray tasks on a local Ray started on 127.0.0.1 or
on the cluster at ``ray_address``. Each task is one warm-started chain of folds."""

DEFAULT_RETRIES = 2
"""How many times a task whose worker process died is run again before the run fails."""

T = TypeVar("T")
R = TypeVar("R")


class TaskFailedError(SacfolioError, RuntimeError):
    """A task's worker kept dying; the tasks finished before it are in the result cache."""


class TaskCache(Protocol[T, R]):
    """Results of finished tasks, by key (:class:`~sacfolio.workflows.task_cache.TaskResultCache`)."""

    def key(self, task: T) -> str: ...

    def load(self, key: str) -> R | None: ...

    def save(self, key: str, result: R) -> None: ...


def check_executor(executor: str, workers: int | None, max_retries: int = DEFAULT_RETRIES) -> None:
    """Refuse an unknown executor, a worker count below 1 or a negative retry bound, before any work."""
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"workers={workers!r} must be a whole number >= 1")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigError(f"max_retries={max_retries!r} must be a whole number >= 0")


def require_ray() -> Any:
    """The ``ray`` module, or a ConfigError that says how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("--executor ray needs Ray, an optional extra: pip install 'sacfolio[ray]' "
                          "(or pip install 'ray[tune]>=2.9'); --executor local and process need nothing more"
                          ) from exc
    return ray


def run_tasks(tasks: Sequence[T], run: Callable[[T], R], *, executor: str = "local", workers: int | None = None,
              on_done: Callable[[T, R], None] | None = None, cache: TaskCache | None = None,
              ray_address: str | None = None, max_retries: int = DEFAULT_RETRIES,
              progress: bool | Say = False) -> list[R]:
    """``[run(task) for task in tasks]``, here, in ``workers`` processes or on Ray.

    ``run`` must be picklable for the process pool and Ray (a module-level function or a
    :func:`functools.partial` of one); it goes to each worker once (Ray: once to the
    object store), not once per task. ``on_done(task, result)`` is called in this
    process, in plan order, as results arrive. Tasks found in ``cache`` are not run;
    each finished task is saved there at once. ``progress``: True prints the progress
    board to stderr, a callable receives its lines.
    """
    check_executor(executor, workers, max_retries)
    if ray_address is not None and executor != "ray":
        raise ConfigError(f"--ray-address goes with --executor ray, not {executor!r}")
    keys = [cache.key(task) for task in tasks] if cache is not None else []
    results: dict[int, R] = {}
    for i, key in enumerate(keys):
        hit = cache.load(key)
        if hit is not None:
            results[i] = hit
    board = TaskBoard(len(tasks), cached=len(results), say=progress)
    emitted = 0

    def flush() -> None:
        nonlocal emitted
        while emitted < len(tasks) and emitted in results:
            if on_done is not None:
                on_done(tasks[emitted], results[emitted])
            emitted += 1

    def finish(i: int, result: R) -> None:
        if cache is not None:
            cache.save(keys[i], result)
        results[i] = result
        board.finished()
        flush()

    flush()  # the cached tasks at the head of the plan
    items = [(i, task) for i, task in enumerate(tasks) if i not in results]
    backend = {"local": _run_local, "process": _run_process, "ray": _run_ray}[executor]
    if executor == "process" and len(items) <= 1:
        backend = _run_local
    try:
        if items:
            backend(items, run, finish, board, workers=workers, ray_address=ray_address, max_retries=max_retries)
    except BaseException:
        board.close(failed=True)
        raise
    board.close()
    return [results[i] for i in range(len(tasks))]


Finish = Callable[[int, Any], None]


def _invoke(fn: Callable[[], R]) -> R:
    return fn()


def run_call(fn: Callable[[], R], *, executor: str = "local", workers: int | None = None,
             ray_address: str | None = None, max_retries: int = DEFAULT_RETRIES) -> R:
    """``fn()`` as one task on ``executor`` (e.g. a training sent to a Ray cluster); ``fn`` is
    picklable (a :func:`functools.partial` of a module-level function)."""
    return run_tasks([fn], _invoke, executor=executor, workers=workers, ray_address=ray_address,
                     max_retries=max_retries)[0]


def _run_local(items: list[tuple[int, T]], run: Callable[[T], R], finish: Finish, board: TaskBoard,
               **_: Any) -> None:
    for i, task in items:
        board.running(1)
        finish(i, run(task))


def one_torch_thread() -> None:
    """Worker start: one torch thread, as the CLI runs (these networks are too small to split)."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


_INSTALLED: list[Callable] = []


def _install(run: Callable) -> None:
    """Process-pool worker start: one thread, and ``run`` (with its data) kept for every task."""
    one_torch_thread()
    _INSTALLED[:] = [run]


def _call_installed(task: Any) -> Any:
    return _INSTALLED[0](task)


def _run_process(items: list[tuple[int, T]], run: Callable[[T], R], finish: Finish, board: TaskBoard, *,
                 workers: int | None, max_retries: int, **_: Any) -> None:
    """A spawn pool; when a worker dies the pool is rebuilt and the unfinished tasks resubmitted."""
    left, broken, finished = list(items), 0, set()

    def done(i: int, result: Any) -> None:
        finished.add(i)
        finish(i, result)

    while left:
        n = min(len(left), workers or os.cpu_count() or 1)
        # spawn, not fork: a forked child inherits torch's thread pools mid-state
        with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_install, initargs=(run,)) as pool:
            futures: dict[Future, tuple[int, T]] = {pool.submit(_call_installed, t): (i, t) for i, t in left}
            try:
                _drain(futures, done, board, n)
                left = []
            except BrokenProcessPool as exc:
                broken += 1
                for future, (i, _) in futures.items():  # results that made it before the pool broke
                    if i not in finished and future.done() and future.exception() is None:
                        done(i, future.result())
                left = [(i, t) for i, t in futures.values() if i not in finished]
                if broken > max_retries:
                    raise TaskFailedError(
                        f"a worker process died {broken} times ({exc}); {len(left)} task(s) not finished. "
                        "Run the same command again to resume: finished tasks are cached") from exc
                board.retried(len(left))


def _drain(futures: dict[Future, tuple[int, Any]], finish: Finish, board: TaskBoard, capacity: int) -> None:
    """Hand each future's result to ``finish`` as it completes (errors propagate)."""
    todo = set(futures)
    while todo:
        board.running(min(len(todo), capacity))
        done, todo = wait(todo, return_when=FIRST_COMPLETED)
        for future in sorted(done, key=lambda f: futures[f][0]):
            finish(futures[future][0], future.result())


def _ray_call(run: Callable[[T], R], task: T) -> R:
    """One task in a Ray worker (``run`` arrives from the object store)."""
    one_torch_thread()
    return run(task)


def connect_ray(ray: Any, address: str | None, num_cpus: int | None) -> bool:
    """Attach to the cluster at ``address`` or start a local Ray on 127.0.0.1; True when this
    call started it (and so should shut it down). An already initialised Ray is used as it is."""
    if ray.is_initialized():
        return False
    if address is not None:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False,
                 _node_ip_address="127.0.0.1", log_to_driver=False)
    return True


def _run_ray(items: list[tuple[int, T]], run: Callable[[T], R], finish: Finish, board: TaskBoard, *,
             workers: int | None, ray_address: str | None, max_retries: int) -> None:
    """Ray tasks: ``run`` (and the data it holds) goes to the object store once; a task whose
    worker dies is retried by Ray up to ``max_retries`` times."""
    ray = require_ray()
    started = connect_ray(ray, ray_address, workers)
    try:
        run_ref = ray.put(run)
        remote = ray.remote(num_cpus=1, max_retries=max_retries, retry_exceptions=False)(_ray_call)
        refs = {remote.remote(run_ref, task): (i, task) for i, task in items}
        capacity = max(1, int(ray.cluster_resources().get("CPU", 1)))
        try:
            _drain_ray(ray, refs, finish, board, capacity, max_retries)
        finally:
            for ref in refs:
                ray.cancel(ref, force=True)
    finally:
        if started:
            ray.shutdown()


def _drain_ray(ray: Any, refs: dict, finish: Finish, board: TaskBoard, capacity: int, max_retries: int) -> None:
    """Collect Ray results as they complete; a task's own exception is raised as itself."""
    while refs:
        board.running(min(len(refs), capacity))
        ready, _ = ray.wait(list(refs), num_returns=1, timeout=2.0)
        for ref in ready:
            i, task = refs.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:
                raise exc.as_instanceof_cause() from None
            except ray.exceptions.RayError as exc:
                raise TaskFailedError(
                    f"task {i} ({_describe(task)}) failed after {max_retries} retries: {type(exc).__name__}: "
                    f"{exc}. Run the same command again to resume: finished tasks are cached") from exc
            finish(i, result)


def _describe(task: Any) -> str:
    folds = getattr(task, "folds", None)
    if folds is None:
        return repr(task)[:80]
    return (f"{getattr(task, 'agent', '?')} member {getattr(task, 'member', 0)}, "
            f"folds {folds[0].label}..{folds[-1].label}")
