"""Walk-forward tasks on a real Ray head: the same results as in this process, a task whose
worker dies is run again, and a run resumes from its task cache without recomputing."""

import os
import signal
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from sacfolio.agents.config import SACConfig
from sacfolio.evaluate.metrics import summarize
from sacfolio.evaluate.walkforward import WalkForwardConfig
from sacfolio.exceptions import ConfigError
from sacfolio.workflows.executors import TaskFailedError, run_tasks
from sacfolio.workflows.task_cache import TaskResultCache
from sacfolio.workflows.walkforward import run_walk_forward

SMALL = SACConfig(warmup_steps=20, batch_size=16, hidden_sizes=(16, 16))
CONFIG = WalkForwardConfig(years=(2021, 2022), train_steps=50, fold_steps=25, baselines=("equal_weight",),
                           variant="sac_price", seed=4, seeds=2)
TIMINGS = ("seconds", "steps_per_second", "wall_seconds")


@pytest.fixture(scope="module", autouse=True)
def _ship_this_module_to_workers(ray_session):
    """Ray workers cannot import a test module: send its functions by value."""
    ray_session.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    ray_session.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _record(result) -> tuple:
    """What the report is written from: every strategy's weights and returns (bytes), its
    metrics, and the training log without wall times."""
    arrays = {name: [(p.weights.tobytes(), p.returns.tobytes()) for p in parts] for name, parts in result.results.items()}
    members = {name: [[p.weights.tobytes() for p in m] for m in ms] for name, ms in result.members.items()}
    metrics = {name: summarize(result.combined(name)).as_dict() for name in result.results}
    return arrays, members, metrics, _without_timings(result.info["training"])


def _assert_same_models(a, b) -> None:
    for x, y in zip(a.single_models(), b.single_models()):
        for name, state in x.learner.state_dicts().items():
            other = y.learner.state_dicts()[name]
            assert all(torch.equal(state[k], other[k]) for k in state), name


def test_ray_gives_the_local_run_bit_for_bit_and_a_rerun_resumes_from_the_cache(recent_sample, tmp_path) -> None:
    cache = TaskResultCache(tmp_path / "cache")
    local, local_model = run_walk_forward(recent_sample, config=CONFIG, sac_config=SMALL, progress=False,
                                          task_cache=cache)
    assert (cache.hits, cache.saved) == (0, 2)  # warm-started chains: one task per seed
    lines = []
    on_ray, ray_model = run_walk_forward(recent_sample, config=CONFIG, sac_config=SMALL, progress=lines.append,
                                         executor="ray")
    assert _record(local) == _record(on_ray)
    _assert_same_models(local_model, ray_model)
    assert any("tasks 2/2 done" in line for line in lines) and any("running" in line for line in lines)

    resumed, resumed_model = run_walk_forward(recent_sample, config=CONFIG, sac_config=SMALL, progress=False,
                                              task_cache=cache, executor="ray")
    assert (cache.hits, cache.saved) == (2, 2)  # nothing trained again
    assert _record(resumed) == _record(local)
    _assert_same_models(local_model, resumed_model)
    assert resumed.info["training"] == local.info["training"]  # the timings too: read, not rerun


def _square_but_die_once(x: int, *, marker: Path) -> int:
    """Kills its own worker process the first time it sees 2 (the marker file remembers)."""
    if x == 2 and not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return x * x


def _always_die_on_two(x: int) -> int:
    if x == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return x * x


def test_a_task_whose_worker_is_killed_runs_again_and_the_run_completes(ray_session, tmp_path) -> None:
    marker = tmp_path / "killed"
    lines = []
    assert run_tasks([1, 2, 3], partial(_square_but_die_once, marker=marker), executor="ray",
                     progress=lines.append) == [1, 4, 9]
    assert marker.exists() and int(marker.read_text()) != os.getpid()  # a worker died, not this process
    with pytest.raises(TaskFailedError, match="failed after 0 retries.*resume"):
        run_tasks([2], _always_die_on_two, executor="ray", max_retries=0)


class _DictCache:
    """The executor's cache protocol over a dict (the walk-forward uses TaskResultCache)."""

    def __init__(self) -> None:
        self.store: dict[str, int] = {}

    def key(self, task: int) -> str:
        return f"task-{task}"

    def load(self, key: str):
        return self.store.get(key)

    def save(self, key: str, result: int) -> None:
        self.store[key] = result


def _fail_on(x: int, *, bad: int, calls: list) -> int:
    calls.append(x)
    if x == bad:
        raise KeyboardInterrupt  # the driver interrupted while task `bad` runs
    return x + 10


def test_an_interrupted_run_resumes_with_the_tasks_not_yet_done() -> None:
    cache, calls = _DictCache(), []
    with pytest.raises(KeyboardInterrupt):
        run_tasks([0, 1, 2, 3], partial(_fail_on, bad=2, calls=calls), cache=cache)
    assert cache.store == {"task-0": 10, "task-1": 11}
    calls.clear()
    done = []
    assert run_tasks([0, 1, 2, 3], partial(_fail_on, bad=-1, calls=calls), cache=cache,
                     on_done=lambda t, r: done.append(t)) == [10, 11, 12, 13]
    assert calls == [2, 3] and done == [0, 1, 2, 3]  # finished tasks not recomputed; plan order kept


def test_executor_options_are_checked_before_any_work() -> None:
    with pytest.raises(ConfigError, match="ray-address goes with --executor ray"):
        run_tasks([1], abs, executor="process", ray_address="10.0.0.1:6379")
    with pytest.raises(ConfigError, match="max_retries"):
        run_tasks([1], abs, executor="ray", max_retries=-1)
    assert np.array_equal(run_tasks([], abs, executor="ray"), [])
