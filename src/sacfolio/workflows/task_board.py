"""One progress display on the driver for all of a plan's tasks, whatever runs them.

A line each time the picture changes: tasks done (of which taken from the result cache),
running, failed (a worker that died and whose task is being run again counts here), and
the time left, estimated from the tasks this run has finished so far.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, Union

__all__ = ["Say", "TaskBoard", "format_seconds"]

Say = Union[bool, Callable[[str], None]]
"""False: silent; True: lines to stderr; a callable: receives each line."""


def format_seconds(seconds: float) -> str:
    """``75`` -> ``"1m15s"``, ``3700`` -> ``"1h01m"``."""
    s = int(round(max(seconds, 0.0)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


class TaskBoard:
    """Counts of a run's tasks, printed as they change.

    Parameters
    ----------
    total : int
        Tasks in the plan.
    cached : int
        Of them, already finished (read from the result cache, not run again).
    say : bool or callable
        Where the lines go (:data:`Say`).
    """

    def __init__(self, total: int, *, cached: int = 0, say: Say = False) -> None:
        self.total, self.cached = int(total), int(cached)
        self.done, self.active, self.failed = int(cached), 0, 0
        self._computed = 0
        self._t0 = time.monotonic()
        self._say = (lambda line: print(line, file=sys.stderr, flush=True)) if say is True else (say or None)
        self._last = ""
        if self.cached:
            self._emit(f"resuming: {self.cached} of {self.total} task(s) already finished (result cache)")
        self._show()

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left at this run's pace so far; None before a task has finished here."""
        if self._computed == 0:
            return None
        pace = (time.monotonic() - self._t0) / self._computed
        return pace * (self.total - self.done)

    def line(self) -> str:
        """``tasks 3/8 done (1 cached), 2 running, 0 failed, ETA 1m20s``."""
        eta = self.eta_seconds
        cached = f" ({self.cached} cached)" if self.cached else ""
        return (f"tasks {self.done}/{self.total} done{cached}, {self.active} running, {self.failed} failed, "
                f"ETA {'?' if eta is None else format_seconds(eta)}")

    def running(self, n: int) -> None:
        """``n`` tasks are running now."""
        self.active = int(n)
        self._show()

    def finished(self) -> None:
        """One more task finished in this run."""
        self.done += 1
        self._computed += 1
        self.active = max(0, self.active - 1)
        self._show()

    def retried(self, n: int) -> None:
        """A worker died; ``n`` unfinished tasks are being run again."""
        self.failed += 1
        self._emit(f"a worker died: running {n} unfinished task(s) again")
        self._show()

    def close(self, *, failed: bool = False) -> None:
        """The run ended (``failed``: by an error)."""
        if failed:
            self.failed += 1
        self.active = 0
        elapsed = format_seconds(time.monotonic() - self._t0)
        self._emit(f"tasks {self.done}/{self.total} done in {elapsed}" + (f", {self.failed} failed" if self.failed else ""))

    def _show(self) -> None:
        text = self.line()
        if text.split(", ETA")[0] != self._last.split(", ETA")[0]:
            self._emit(text)
            self._last = text

    def _emit(self, text: str) -> None:
        if self._say is not None:
            self._say(text)
