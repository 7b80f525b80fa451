"""A rich progress bar of a training run, fed as a callback."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from sacfolio.train.callbacks import Callback

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from sacfolio.agents.learner import Learner
    from sacfolio.train.callbacks.health import HealthMonitor

__all__ = ["ProgressBar"]

_SHOWN = (("losses/critic", "critic", ".4f"), ("losses/value", "value", ".4f"),
          ("losses/actor", "actor", "+.3f"), ("losses/policy", "policy", "+.3f"),
          ("charts/alpha", "alpha", ".4f"), ("charts/SPS", "", ".0f"))
"""Metrics shown when present: key, label (empty: a rate in steps/s), format."""


class ProgressBar(Callback):
    """Steps done, the last episode return, the main losses, alpha, steps/s and the health line.

    The bar starts when built; the training loop moves it with :meth:`advance` and
    stops it with :meth:`close`. As a callback it records episode returns and shows
    the metrics of one update out of ``log_every``.

    Parameters
    ----------
    description : str
        Label of the bar.
    total : int
        Environment steps of the run.
    refresh_every : int
        Steps between redraws of the step count.
    log_every : int
        Updates between redraws of the metrics.
    monitor : HealthMonitor, optional
        Its last report's summary line leads the metrics.
    """

    def __init__(self, description: str, total: int, refresh_every: int, log_every: int,
                 monitor: "HealthMonitor | None" = None) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeRemainingColumn(), TextColumn("{task.fields[info]}"), transient=False)
        self._task = self._bar.add_task(description, total=total, info="warm-up")
        self._refresh_every = max(1, refresh_every)
        self._log_every = max(1, log_every)
        self._monitor = monitor
        self._last_return: float | None = None
        self._bar.start()

    def on_episode_end(self, learner: "Learner", step: int, episode_return: float) -> None:
        self._last_return = episode_return

    def on_update(self, learner: "Learner", update: int, metrics: Mapping[str, float]) -> bool:
        if update % self._log_every == 0:
            report = None if self._monitor is None else self._monitor.last_report
            self.metrics(metrics, "" if report is None else report.summary_line())
        return True

    def metrics(self, metrics: "Mapping[str, torch.Tensor | float]", health: str = "") -> None:
        """Show the last episode return, the main losses, steps/s and the health line."""
        ret = "n/a" if self._last_return is None else f"{self._last_return:+.4f}"
        parts = [health] if health else []  # first: a narrow terminal crops the end of the line
        parts.append(f"ep_return {ret}")
        for key, label, fmt in _SHOWN:
            if key in metrics:
                parts.append(f"{label} {float(metrics[key]):{fmt}}" if label
                             else f"{float(metrics[key]):{fmt}} steps/s")
        skipped = float(metrics.get("charts/skipped_updates", 0.0))
        if skipped:
            parts.append(f"skipped {skipped:.0f}")
        self._bar.update(self._task, info="  ".join(parts))

    def advance(self, step: int) -> None:
        """Environment steps done so far (redrawn every ``refresh_every``)."""
        if step % self._refresh_every == 0:
            self._bar.update(self._task, completed=step)

    def close(self) -> None:
        """Stop the bar (leaving its last state on screen)."""
        self._bar.stop()
