"""The brain API: training jobs, inference, health, status, scheduler and dashboard.

``sacfolio serve`` (:mod:`sacfolio.cli.serve`) runs :func:`~sacfolio.serve.app.create_app`
with uvicorn.
"""

from sacfolio.serve.app import create_app
from sacfolio.serve.settings import ServeSettings, load_settings

__all__ = ["ServeSettings", "create_app", "load_settings"]
