"""The running service's parts, started and stopped together by the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from sacfolio.exceptions import ModelNotFoundError
from sacfolio.registry import Registry
from sacfolio.serve.decisions import static_weights
from sacfolio.serve.jobs import JobRecord, JobStore
from sacfolio.serve.market import DataSource
from sacfolio.serve.model_cache import ModelCache, Reloader
from sacfolio.serve.runner import JobRunner
from sacfolio.serve.scheduler import RetrainScheduler
from sacfolio.serve.settings import ServeSettings

__all__ = ["Service"]


@dataclass(kw_only=True)
class Service:
    """Data, registry, loaded models, job store and runner, scheduler.

    Build with :meth:`create`, then :meth:`start`; :meth:`stop` ends the threads and
    worker processes.
    """

    settings: ServeSettings
    data: DataSource
    registry: Registry
    cache: ModelCache
    store: JobStore
    runner: JobRunner
    scheduler: RetrainScheduler
    reloader: Reloader
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @classmethod
    def create(cls, settings: ServeSettings) -> "Service":
        """Load the data, open the registry and job store; validate the fallback weights.

        Raises
        ------
        ConfigError, DataError
            The fallback names symbols outside the data, or the data cannot be loaded.
        """
        data = DataSource(settings.data_path, settings.data_start)
        panel = data.current.panel
        static_weights(settings.fallback_weights, panel.symbols, panel.available[-1])  # validates
        registry = Registry(settings.home)
        cache = ModelCache(registry, settings.models, data)
        store = JobStore(settings.jobs_db_path())
        runner = JobRunner(store, max_concurrent=settings.max_concurrent_jobs,
                           on_finished=lambda job: cache.refresh(job.model),
                           executor=settings.job_executor, ray_address=settings.job_ray_address)
        service: Service
        scheduler = RetrainScheduler(settings.schedule, lambda m, mode, trig: service.submit(m, mode, trig),
                                     timezone=settings.timezone)
        service = cls(settings=settings, data=data, registry=registry, cache=cache, store=store,
                      runner=runner, scheduler=scheduler, reloader=Reloader(cache, settings.reload_seconds))
        return service

    def start(self) -> None:
        """Load the current models, then start the reloader, job runner and scheduler."""
        for name in self.settings.models:
            self.cache.refresh(name)
        self.reloader.start()
        self.runner.start()
        self.scheduler.start()

    def stop(self) -> None:
        """Stop the scheduler, the runner (and its workers) and the reloader."""
        self.scheduler.shutdown()
        self.runner.stop()
        self.reloader.stop()

    def check_model(self, name: str) -> None:
        """Raise :class:`ModelNotFoundError` (404) unless the service serves ``name``."""
        if name not in self.settings.models:
            raise ModelNotFoundError(f"unknown model {name!r}; this service serves {self.settings.models}")

    def submit(self, model: str, mode: str, trigger: str, *, steps: int | None = None,
               seed: int | None = None, until: date | None = None) -> tuple[JobRecord, bool]:
        """Queue a training job (or return the active one for the same model and mode)."""
        self.check_model(model)
        s = self.settings
        params: dict[str, Any] = {
            "home": s.home, "data_path": str(s.data_path) if s.data_path else None,
            "data_start": s.data_start,
            "steps": steps if steps is not None else (s.train_steps if mode == "full" else s.finetune_steps),
            "seed": s.seed if seed is None else seed, "until": until.isoformat() if until else None,
            "finetune_weeks": s.finetune_weeks, "gate_weeks": s.gate_weeks,
        }
        job, created = self.store.submit(model, mode, params, trigger=trigger)
        if created:
            self.runner.wake()
        return job, created
