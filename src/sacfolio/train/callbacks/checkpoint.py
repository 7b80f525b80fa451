"""Checkpoints of a training run: a callback that writes them, a reader that loads them."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Mapping

import torch

from sacfolio.agents.learner import Learner
from sacfolio.agents.sac import STATE_DICT_FILES
from sacfolio.exceptions import ConfigError, CorruptArtifactError
from sacfolio.train.callbacks import Callback

__all__ = ["CheckpointCallback", "read_checkpoint"]


class CheckpointCallback(Callback):
    """Saves the learner's state dicts every ``every`` updates and at the end of training.

    Each checkpoint is a directory ``dirpath/update_<n>`` holding ``actor.pt``,
    ``critic.pt``, ``critic_target.pt``, ``log_alpha.pt`` (``torch.save`` of state
    dicts only; read back with :func:`read_checkpoint`) and ``config.json``. It is
    written to a temporary directory and renamed, so a crash leaves whole
    checkpoints only.

    Parameters
    ----------
    dirpath : str or Path
    every : int
        Updates between checkpoints.
    save_final : bool
        Also save after the last update.
    """

    def __init__(self, dirpath: str | Path, every: int, *, save_final: bool = True) -> None:
        if int(every) != every or every < 1:
            raise ConfigError(f"CheckpointCallback every must be an int >= 1, got {every!r}.")
        self.dirpath, self.every, self.save_final = Path(dirpath), int(every), save_final
        self.saved: list[Path] = []
        self._last_update = 0

    def on_update(self, learner: Learner, update: int, metrics: Mapping[str, float]) -> bool:
        self._last_update = update
        if update % self.every == 0:
            self.save(learner, update)
        return True

    def on_training_end(self, learner: Learner) -> None:
        if self.save_final and self._last_update and (not self.saved or
                                                      self.saved[-1].name != _ckpt_name(self._last_update)):
            self.save(learner, self._last_update)

    def save(self, learner: Learner, update: int) -> Path:
        """Write one checkpoint and return its directory."""
        state_dicts = getattr(learner, "state_dicts", None)
        if state_dicts is None:
            raise TypeError(f"{type(learner).__name__} has no state_dicts(); cannot checkpoint it")
        final = self.dirpath / _ckpt_name(update)
        tmp = self.dirpath / f".{final.name}.tmp-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        for name, state in state_dicts().items():
            torch.save(dict(state), tmp / name)
        config = getattr(learner, "config", None)
        if config is not None and hasattr(config, "to_dict"):
            meta = {"update": update, "config": config.to_dict()}
            (tmp / "config.json").write_text(json.dumps(meta, indent=2))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        self.saved.append(final)
        return final


def _ckpt_name(update: int) -> str:
    return f"update_{update:08d}"


def read_checkpoint(dirpath: str | Path) -> dict[str, dict[str, torch.Tensor]]:
    """Load the state dicts of a checkpoint directory (``weights_only=True``: runs no code).

    Returns
    -------
    dict
        ``{"actor.pt": ..., "critic.pt": ..., "critic_target.pt": ..., "log_alpha.pt": ...}``,
        ready for :meth:`SAC.load_state_dicts`.

    Raises
    ------
    CorruptArtifactError
        If a file is missing or cannot be read as a tensor-only state dict.
    """
    path = Path(dirpath)
    out = {}
    for name in STATE_DICT_FILES:
        file = path / name
        if not file.is_file():
            raise CorruptArtifactError(f"checkpoint {path} has no {name}; it is incomplete.")
        try:
            out[name] = torch.load(file, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for unreadable files
            raise CorruptArtifactError(f"cannot read {file} as a state dict: {exc}") from exc
    return out
