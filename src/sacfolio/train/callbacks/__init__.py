"""Training callbacks: the one way to extend or watch a training run.

A callback sees the learner after every gradient update and may stop training by
returning False from :meth:`Callback.on_update` (Stable-Baselines3's contract).
Health checks (:mod:`.health`), checkpointing (:mod:`.checkpoint`), TensorBoard
(:mod:`.tensorboard`) and the progress display (:mod:`.progress`) are callbacks. What
a callback sees of the learner is the :class:`~sacfolio.agents.learner.Learner`
protocol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from sacfolio.agents.learner import Learner

__all__ = ["Callback", "CallbackList"]


class Callback:
    """Base class; override what you need. All hooks are optional."""

    def on_training_start(self, learner: Learner, total_updates: int) -> None:
        """Called once before the first environment step."""

    def on_update(self, learner: Learner, update: int, metrics: Mapping[str, float]) -> bool:
        """Called after gradient update number ``update`` (1-based).

        ``metrics`` holds the losses and statistics of that update, keyed as
        ``losses/critic``, ``losses/actor``, ``charts/alpha`` ... . Return False to stop.
        """
        return True

    def on_episode_end(self, learner: Learner, step: int, episode_return: float) -> None:
        """Called when a training episode finishes, with its summed reward."""

    def on_training_end(self, learner: Learner) -> None:
        """Called once after the last update, also when a callback stopped training."""


class CallbackList(Callback):
    """Runs several callbacks in order; training stops if any returns False."""

    def __init__(self, callbacks: Sequence[Callback] = ()) -> None:
        self.callbacks = list(callbacks)

    def on_training_start(self, learner: Learner, total_updates: int) -> None:
        for cb in self.callbacks:
            cb.on_training_start(learner, total_updates)

    def on_update(self, learner: Learner, update: int, metrics: Mapping[str, float]) -> bool:
        keep_going = True
        for cb in self.callbacks:
            keep_going = cb.on_update(learner, update, metrics) is not False and keep_going
        return keep_going

    def on_episode_end(self, learner: Learner, step: int, episode_return: float) -> None:
        for cb in self.callbacks:
            cb.on_episode_end(learner, step, episode_return)

    def on_training_end(self, learner: Learner) -> None:
        for cb in self.callbacks:
            cb.on_training_end(learner)
