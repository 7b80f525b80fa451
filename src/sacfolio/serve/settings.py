"""Settings of the brain API: registry, data, fallback weights, auth, schedule, limits.

Values come from, highest priority first: environment variables ``SACFOLIO_<FIELD>``
(``SACFOLIO_HOME``, ``SACFOLIO_API_TOKEN``, ``SACFOLIO_DATA_PATH`` ...; lists and
mappings as JSON), then the ``--config`` file (YAML or JSON, keys are the field
names), then the defaults below.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sacfolio.exceptions import ConfigError
from sacfolio.features.variants import VARIANTS, variant_of_model

__all__ = ["ScheduleEntry", "ServeSettings", "load_settings", "read_config_file"]


class ScheduleEntry(BaseModel):
    """One scheduled retraining: a model, a mode and a crontab expression."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="Model name, e.g. 'sac_price'.")
    mode: Literal["full", "finetune"] = Field(description="'full' trains from scratch, 'finetune' "
                                              "continues the current version on recent weeks.")
    cron: str = Field(description="Five-field crontab 'minute hour day month day_of_week'; use day "
                      "names (mon..sun) for day_of_week, e.g. '0 6 * * sat'.")

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"cron {value!r} is not a valid crontab expression ({exc})") from exc
        return value


def _default_home() -> str:
    return os.environ.get("SACFOLIO_HOME") or "./models"


class ServeSettings(BaseSettings):
    """Everything ``sacfolio serve`` can be configured with."""

    model_config = SettingsConfigDict(env_prefix="SACFOLIO_", extra="forbid", frozen=True)

    home: str = Field(default_factory=_default_home, description="Model registry root (directory or "
                      "fsspec URL). Default $SACFOLIO_HOME, else ./models.")
    models: list[str] = Field(default_factory=lambda: list(VARIANTS),
                              description="Model names the service serves and trains ("
                              "sac_enabled); a name without a version serves the static fallback.")
    data_path: Path | None = Field(default=None, description="CSV/Parquet price file for inference and "
                                   "training; None uses the embedded S&P 500 sample.")
    data_start: str | None = Field(default=None, description="Ignore prices before this ISO date.")
    reports_dir: Path | None = Field(default=Path("runs"), description="Directory of `sacfolio demo|evaluate` "
                                     "runs (each with metrics.json); the dashboard shows the newest.")
    fallback_weights: dict[str, float] | None = Field(
        default=None, description="Static target weights by symbol incl. CASH served when no model is "
        "loaded (static fallback). Default: equal weight within the last served version's rules (2% cash, 20% cap by default).")
    api_token: SecretStr | None = Field(default=None, description="When set (SACFOLIO_API_TOKEN), "
                                        "every route but /health and `public_routes` needs "
                                        "'Authorization: Bearer <token>'. A blank token is refused.")
    public_routes: list[str] = Field(default_factory=list, description="Route paths that answer without "
                                     "the token, as in the OpenAPI document (e.g. '/dashboard/', "
                                     "'/dashboard/data', '/inference/{model}'). /health is always public.")
    schedule: list[ScheduleEntry] = Field(
        default_factory=lambda: [
            ScheduleEntry(model="sac_lstm", mode="finetune", cron="0 6 * * sat"),
            ScheduleEntry(model="sac_lstm", mode="full", cron="0 3 1 * *"),
        ],
        description="Scheduled retraining (cron in `timezone`); [] disables the scheduler.")
    timezone: str = Field(default="UTC", description="Time zone of the cron expressions.")
    train_steps: int = Field(default=6000, ge=1, le=10_000_000, description="Default SAC steps of a full run.")
    finetune_steps: int = Field(default=2000, ge=1, le=10_000_000, description="Default steps of a finetune.")
    finetune_weeks: int = Field(default=26, ge=1, description="Recent weeks a finetune trains on.")
    gate_weeks: int = Field(default=104, ge=1, description="Evaluation window of the promotion gate.")
    seed: int = Field(default=0, ge=0, description="Default seed of training jobs.")
    jobs_db: Path | None = Field(default=None, description="SQLite file of job records; default "
                                 "<home>/jobs.sqlite3 for a local home, else ./sacfolio-jobs.sqlite3.")
    max_concurrent_jobs: int = Field(default=1, ge=1, le=8, description="Training processes at once.")
    job_executor: Literal["local", "process", "ray"] = Field(
        default="local", description="Where each training job's training runs: in its worker process, a "
        "process pool, or Ray tasks (needs sacfolio[ray]).")
    job_ray_address: str | None = Field(default=None, description="With job_executor ray: the cluster to "
                                        "attach to; default a local Ray on 127.0.0.1.")
    max_body_bytes: int = Field(default=65_536, ge=1024, le=64 * 2**20,
                                description="Larger request bodies get 413.")
    max_header_bytes: int = Field(default=16_384, ge=1024, le=2**20, description="Request line plus "
                                  "headers larger than this get 400 and the connection is closed.")
    max_json_depth: int = Field(default=16, ge=2, le=1000, description="JSON bodies nested deeper get 422.")
    max_json_keys: int = Field(default=1000, ge=10, le=1_000_000, description="JSON bodies with more "
                               "object keys in all get 422.")
    request_timeout_seconds: float = Field(default=10.0, gt=0, le=600, description="A client must send "
                                           "a request's headers, and then its body, within this many "
                                           "seconds, else the connection is closed (slow clients).")
    keep_alive_seconds: float = Field(default=5.0, gt=0, le=600, description="Idle keep-alive "
                                      "connections are closed after this many seconds.")
    reload_seconds: float = Field(default=2.0, gt=0, description="How often `current` and the data file "
                                  "are checked for changes (hot reload).")
    dashboard_refresh_seconds: float = Field(default=5.0, ge=1, description="Dashboard refresh period.")

    @field_validator("models")
    @classmethod
    def _known_models(cls, value: list[str]) -> list[str]:
        unknown = [m for m in value if variant_of_model(m) is None]
        if unknown:
            raise ValueError(f"unknown model names {unknown}; a model name is a variant "
                             f"({', '.join(VARIANTS)}) or <variant>_<tag>")
        if len(set(value)) != len(value):
            raise ValueError(f"model names listed twice: {value}")
        return value

    @field_validator("fallback_weights")
    @classmethod
    def _fallback_valid(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is None:
            return None
        bad = {k: v for k, v in value.items() if not math.isfinite(v) or v < 0}
        if bad:
            raise ValueError(f"fallback weights must be finite and >= 0, got {bad}")
        total = sum(value.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"fallback weights must sum to 1 (incl. CASH), they sum to {total:.6f}")
        return value

    @field_validator("api_token")
    @classmethod
    def _token_not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("api_token is blank: set a real token (e.g. `openssl rand -hex 32`) or "
                             "leave SACFOLIO_API_TOKEN unset to turn auth off")
        return value

    @model_validator(mode="after")
    def _schedule_models(self) -> "ServeSettings":
        unknown = sorted({e.model for e in self.schedule} - set(self.models))
        if unknown:
            raise ValueError(f"schedule names models {unknown} that are not in models={self.models}")
        return self

    def jobs_db_path(self) -> Path:
        """Where job records live (see ``jobs_db``)."""
        if self.jobs_db is not None:
            return self.jobs_db
        if "://" in self.home and not self.home.startswith("file://"):
            return Path("sacfolio-jobs.sqlite3").resolve()
        return Path(self.home.removeprefix("file://")).resolve() / "jobs.sqlite3"

    def token(self) -> str | None:
        """The API token, or None when auth is off (a blank token is refused at load)."""
        return None if self.api_token is None else self.api_token.get_secret_value()


class _EnvOverFile(ServeSettings):
    """ServeSettings whose keyword arguments (the config file) rank below the environment."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):  # noqa: D102 - pydantic-settings hook
        return (env_settings, init_settings)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Parse a YAML (``.yaml``/``.yml``) or JSON config file into a mapping.

    Raises
    ------
    ConfigError
        The file is missing, unparsable or not a mapping.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # yaml.YAMLError / json.JSONDecodeError: both are the finding
        raise ConfigError(f"config file {path} is not valid {'YAML' if path.suffix.lower() in ('.yaml', '.yml') else 'JSON'}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of setting names to values, "
                          f"got {type(data).__name__}")
    return data


def _describe(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors())


def load_settings(config: str | Path | None = None) -> ServeSettings:
    """Settings from the environment over the optional config file over the defaults.

    Raises
    ------
    ConfigError
        A value is invalid or a key is unknown; the message names it.
    """
    file_values = read_config_file(config) if config is not None else {}
    try:
        return _EnvOverFile(**file_values)
    except ValidationError as exc:
        where = f" (config file {config})" if config is not None else ""
        raise ConfigError(f"invalid serve settings{where}: {_describe(exc)}") from exc
