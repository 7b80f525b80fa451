"""Finished walk-forward tasks on disk, so an interrupted run resumes where it stopped.

A task's key is a hash of the task (agent, folds, seeds, steps, warm start, member) and
of everything else its result depends on: the data, the features, the state variant,
the env, SAC and PPO settings, the feature sources and sacfolio's source code. The same
command run again finds its finished tasks and runs only the others, with any executor;
a change of data or settings changes every key, so a stale result is never reused.

Nothing is pickled: each fold's learner is a file of torch state_dicts (loaded with
``weights_only=True``), its scaler, layout and settings and the training record are
JSON, the backtests a ``.npz`` read without pickle. A task is written to a temporary
directory and renamed into place, so a crash leaves a whole entry or none.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

import sacfolio
from sacfolio.agents.config import PPOConfig, SACConfig
from sacfolio.agents.ppo import PPO
from sacfolio.agents.sac import SAC
from sacfolio.data.panel import MarketPanel
from sacfolio.env.config import EnvConfig
from sacfolio.env.layout import ObservationLayout
from sacfolio.evaluate.results import BacktestResult, Fold
from sacfolio.evaluate.walkforward import TrainingTask
from sacfolio.features.blocks import FeatureSet
from sacfolio.features.scaler import FeatureScaler
from sacfolio.features.variants import FeatureSources
from sacfolio.model.bundle import ModelBundle
from sacfolio.model.files import sac_actor
from sacfolio.train.loop import TrainResult
from sacfolio.train.portfolio import PORTFOLIO_PPO, TrainedModel

__all__ = ["TaskResultCache", "code_digest", "open_task_cache", "run_fingerprint"]

_FORMAT = 1
_BACKTEST_ARRAYS = ("dates", "weights", "returns", "turnover", "costs")


def _digest(*parts: Any) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(str((part.dtype.str, part.shape)).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """Hash of sacfolio's own source files: a changed line of code is another run."""
    root = Path(sacfolio.__file__).parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def run_fingerprint(panel: MarketPanel, features: FeatureSet, *, variant: str, env_config: EnvConfig,
                    sac_config: SACConfig, sources: FeatureSources, ppo_config: PPOConfig = PORTFOLIO_PPO) -> str:
    """Hash of everything but the task that a task's result depends on."""
    return _digest(panel.dates.astype("datetime64[D]").astype(np.int64), list(panel.symbols), panel.close,
                   panel.available, features.values, list(features.names),
                   {"variant": variant, "env": env_config.to_dict(), "sac": sac_config.to_dict(),
                    "ppo": ppo_config.to_dict(), "sources": sources.to_dict(), "version": sacfolio.__version__,
                    "code": code_digest()})


def _task_dict(task: TrainingTask) -> dict:
    return {"agent": task.agent, "folds": [vars(f).copy() for f in task.folds], "seeds": list(task.seeds),
            "steps": list(task.steps), "warm_start": task.warm_start, "member": task.member}


def _task_of(d: dict) -> TrainingTask:
    return TrainingTask(agent=d["agent"], folds=tuple(Fold(**f) for f in d["folds"]), seeds=tuple(d["seeds"]),
                        steps=tuple(d["steps"]), warm_start=bool(d["warm_start"]), member=int(d["member"]))


class TaskResultCache:
    """Walk-forward task results under ``root``, one directory per task key.

    :meth:`bind` it to a run (:func:`run_fingerprint`) before use; ``hits`` and
    ``saved`` count the tasks read and written.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.fingerprint: str | None = None
        self.hits = 0
        self.saved = 0

    def bind(self, fingerprint: str) -> "TaskResultCache":
        """Use this cache for the run whose :func:`run_fingerprint` is ``fingerprint``."""
        self.fingerprint = fingerprint
        return self

    def key(self, task: TrainingTask) -> str:
        """The task's key within the bound run."""
        if self.fingerprint is None:
            raise RuntimeError("TaskResultCache.bind(run_fingerprint(...)) must come before key()")
        return _digest(self.fingerprint, _task_dict(task))[:40]

    def load(self, key: str) -> Any:
        """The cached :class:`~sacfolio.workflows.walkforward.TaskResult` of ``key``, or None."""
        entry = self.root / key
        if not (entry / "task.json").is_file():
            return None
        result = _read_entry(entry, key)
        self.hits += 1
        return result

    def save(self, key: str, result: Any) -> None:
        """Write ``result`` under ``key`` (atomically; an existing entry is kept)."""
        final = self.root / key
        if final.exists():
            return
        tmp = self.root / f".{key}.{uuid.uuid4().hex[:8]}.tmp"
        tmp.mkdir(parents=True)
        try:
            _write_entry(tmp, key, result)
            os.replace(tmp, final)
        except OSError:
            if not final.exists():
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.saved += 1


def open_task_cache(root: str | Path, *, resume: bool = True) -> TaskResultCache:
    """The task cache at ``root``; without ``resume`` its entries are removed first, so every
    task runs again (and the new run can itself be resumed)."""
    root = Path(root)
    if not resume and root.is_dir():
        for entry in root.iterdir():
            if entry.is_dir() and (entry / "task.json").is_file() or entry.name.endswith(".tmp"):
                shutil.rmtree(entry, ignore_errors=True)
    return TaskResultCache(root)


def _write_entry(path: Path, key: str, result: Any) -> None:
    models = []
    for k, model in enumerate(result.models):
        assert not model.members, "a walk-forward task trains single models"
        torch.save(model.learner.state_dicts(), path / f"fold_{k}.pt")
        if model.checked is not None:  # the policy its holdout check walked, for an ensemble check
            torch.save(model.checked.actor.state_dict(), path / f"fold_{k}_checked.pt")
        models.append(_model_doc(model))
    arrays = {f"{k}_{name}": (getattr(b, name).astype(np.int64) if name == "dates" else getattr(b, name))
              for k, b in enumerate(result.backtests) for name in _BACKTEST_ARRAYS}
    np.savez(path / "backtests.npz", **arrays)
    doc = {"format": _FORMAT, "key": key, "task": _task_dict(result.task), "training": result.training,
           "train_seconds": result.train_seconds, "backtest_seconds": result.backtest_seconds, "models": models,
           "backtests": [{"name": b.name, "symbols": list(b.symbols)} for b in result.backtests]}
    (path / "task.json").write_text(json.dumps(doc))


def _model_doc(model: TrainedModel) -> dict:
    b, tr = model.bundle, model.train_result
    return {
        "algo": model.algo, "sac": model.sac_config.to_dict(),
        "ppo": None if model.ppo_config is None else model.ppo_config.to_dict(),
        "scaler": b.scaler.to_dict(), "variant": b.variant, "layout": b.layout.to_dict(),
        "env": b.env_config.to_dict(), "sources": b.sources.to_dict(), "train_window": list(b.train_window),
        "holdout": [dict(c) for c in b.holdout],
        "checked": None if model.checked is None else {"scaler": model.checked.scaler.to_dict(),
                                                       "train_window": list(model.checked.train_window)},
        "train_result": None if tr is None else {
            "episode_returns": list(tr.episode_returns), "n_steps": tr.n_steps, "n_updates": tr.n_updates,
            "wall_seconds": tr.wall_seconds, "stopped_early": tr.stopped_early, "health": tr.health,
            "lr_warnings": list(tr.lr_warnings), "nonfinite": dict(tr.nonfinite)},
    }


def _read_entry(path: Path, key: str) -> Any:
    from sacfolio.workflows.walkforward import TaskResult  # the walk-forward run imports this module

    doc = json.loads((path / "task.json").read_text())
    if doc.get("format") != _FORMAT or doc.get("key") != key:
        raise RuntimeError(f"task cache entry {path} is not a sacfolio task of key {key}; delete the directory")
    models = [_model_of(m, torch.load(path / f"fold_{k}.pt", weights_only=True),
                        torch.load(path / f"fold_{k}_checked.pt", weights_only=True) if m.get("checked") else None)
              for k, m in enumerate(doc["models"])]
    with np.load(path / "backtests.npz", allow_pickle=False) as z:
        backtests = [BacktestResult(name=b["name"], symbols=tuple(b["symbols"]),
                                    **{n: (z[f"{k}_{n}"].astype("datetime64[D]") if n == "dates" else z[f"{k}_{n}"])
                                       for n in _BACKTEST_ARRAYS})
                     for k, b in enumerate(doc["backtests"])]
    return TaskResult(task=_task_of(doc["task"]), models=models, backtests=backtests, training=doc["training"],
                      train_seconds=doc["train_seconds"], backtest_seconds=doc["backtest_seconds"])


def _model_of(doc: dict, state: dict, checked: dict | None = None) -> TrainedModel:
    """The fold model of ``doc`` with the learner weights ``state`` (and the actor weights
    ``checked`` of the policy its holdout check walked), built as training built it."""
    layout = ObservationLayout.from_dict(doc["layout"])
    sac_config = SACConfig.from_dict(doc["sac"])
    ppo_config = None if doc["ppo"] is None else PPOConfig.from_dict(doc["ppo"])
    learner = (SAC(layout.obs_dim, layout.act_dim, config=sac_config) if doc["algo"] == "sac"
               else PPO(layout.obs_dim, layout.act_dim, config=ppo_config))
    learner.load_state_dicts(state)
    tr = None if doc["train_result"] is None else TrainResult(learner=learner, **doc["train_result"])
    model = TrainedModel.of(learner, algo=doc["algo"], sac_config=sac_config, ppo_config=ppo_config,
                            train_result=tr, scaler=FeatureScaler.from_dict(doc["scaler"]), variant=doc["variant"],
                            layout=layout, env_config=EnvConfig.from_dict(doc["env"]),
                            sources=FeatureSources(**doc["sources"]),
                            train_window=(doc["train_window"][0], doc["train_window"][1]),
                            holdout=tuple(dict(c) for c in doc.get("holdout") or ()))
    if checked is None:
        return model
    actor = sac_actor(sac_config, layout)
    actor.load_state_dict(checked)
    window = doc["checked"]["train_window"]
    return replace(model, checked=ModelBundle.from_actor(
        actor.eval(), **{**_bundle_fields(model.bundle), "scaler": FeatureScaler.from_dict(doc["checked"]["scaler"]),
                         "train_window": (window[0], window[1]), "holdout": ()}))


def _bundle_fields(bundle: ModelBundle) -> dict:
    """The fields of ``bundle`` but its actor and numpy policy."""
    return {f.name: getattr(bundle, f.name) for f in fields(bundle) if f.name not in ("actor", "policy")}
