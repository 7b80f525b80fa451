"""Scheduled retraining: APScheduler cron triggers that queue jobs through the job runner."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from sacfolio.exceptions import ServiceRequestError
from sacfolio.serve.jobs import JobRecord
from sacfolio.serve.settings import ScheduleEntry

__all__ = ["RetrainScheduler", "Submit"]

logger = logging.getLogger(__name__)

Submit = Callable[[str, str, str], tuple[JobRecord, bool]]
"""``(model, mode, trigger) -> (job, created)``: queue a job (deduplicated)."""


def _job_id(entry: ScheduleEntry) -> str:
    return f"{entry.model}/{entry.mode}/{entry.cron}"


class RetrainScheduler:
    """Runs each :class:`ScheduleEntry` at its cron times (in ``timezone``).

    Parameters
    ----------
    entries : list of ScheduleEntry
    submit : Submit
        Queues a job; the same function the training endpoints use, so scheduled
        runs go through the same runner and promotion gate.
    timezone : str
    """

    def __init__(self, entries: list[ScheduleEntry], submit: Submit, *, timezone: str = "UTC") -> None:
        self.entries = list(entries)
        self.submit = submit
        self.timezone = timezone
        self._scheduler = BackgroundScheduler(timezone=timezone)
        for entry in self.entries:
            self._scheduler.add_job(self._fire, CronTrigger.from_crontab(entry.cron, timezone=timezone),
                                    args=[entry], id=_job_id(entry), coalesce=True, max_instances=1,
                                    misfire_grace_time=3600)

    def _fire(self, entry: ScheduleEntry) -> None:
        job, created = self.submit(entry.model, entry.mode, "schedule")
        logger.info("scheduled %s %s: %s job %s", entry.model, entry.mode,
                    "queued" if created else "already active", job.id)

    def start(self) -> None:
        if self.entries:
            self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def next_runs(self) -> list[dict[str, Any]]:
        """Every entry with its next run time (ISO, None when the scheduler is not running)."""
        out = []
        for entry in self.entries:
            job = self._scheduler.get_job(_job_id(entry))
            when = getattr(job, "next_run_time", None) if self._scheduler.running else None
            out.append({"model": entry.model, "mode": entry.mode, "cron": entry.cron,
                        "timezone": self.timezone, "next_run": when.isoformat() if when else None})
        return out

    def run_now(self, model: str | None = None, mode: str | None = None) -> list[tuple[JobRecord, bool]]:
        """Queue the scheduled jobs matching ``model``/``mode`` now (all when both are None).

        Raises
        ------
        ServiceRequestError
            404 when no schedule entry matches.
        """
        chosen = [e for e in self.entries
                  if (model is None or e.model == model) and (mode is None or e.mode == mode)]
        if not chosen:
            have = ", ".join(f"{e.model}/{e.mode}" for e in self.entries) or "none"
            raise ServiceRequestError(f"no scheduled job matches model={model!r} mode={mode!r} "
                                      f"(schedule: {have})", status_code=404)
        seen: set[tuple[str, str]] = set()
        results = []
        for e in chosen:
            if (e.model, e.mode) not in seen:
                seen.add((e.model, e.mode))
                results.append(self.submit(e.model, e.mode, "retrain"))
        return results
