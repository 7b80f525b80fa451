"""TensorBoard logging of a training run, as a callback."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from sacfolio.exceptions import ConfigError
from sacfolio.train.callbacks import Callback

if TYPE_CHECKING:  # pragma: no cover
    from sacfolio.agents.learner import Learner

__all__ = ["TensorBoardCallback"]


class TensorBoardCallback(Callback):
    """Writes every metric of an update (``losses/*``, ``charts/*``) every ``every`` updates.

    Update metrics are logged against the update number; episode returns
    (``charts/episode_return``) against the environment step at which the episode ended.

    Parameters
    ----------
    log_dir : str or Path
        Directory of the event files (created if missing).
    every : int
        Log one update out of ``every`` (converting tensors to floats only then).
    """

    def __init__(self, log_dir: str | Path, every: int = 100) -> None:
        if int(every) != every or every < 1:
            raise ConfigError(f"TensorBoardCallback every must be an int >= 1, got {every!r}.")
        self.log_dir, self.every = Path(log_dir), int(every)
        self._writer = None

    def on_training_start(self, learner: Learner, total_updates: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._writer = SummaryWriter(log_dir=str(self.log_dir))

    def on_update(self, learner: Learner, update: int, metrics: Mapping[str, float]) -> bool:
        if self._writer is not None and update % self.every == 0:
            for key, value in metrics.items():
                self._writer.add_scalar(key, float(value), update)
        return True

    def on_episode_end(self, learner: Learner, step: int, episode_return: float) -> None:
        if self._writer is not None:
            self._writer.add_scalar("charts/episode_return", float(episode_return), step)

    def on_training_end(self, learner: Learner) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
