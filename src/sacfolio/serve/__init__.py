"""The brain API: training jobs, inference, health, status, scheduler and dashboard.

``sacfolio serve`` (:func:`~sacfolio.serve.command.serve_command`) runs
:func:`~sacfolio.serve.app.create_app` with uvicorn.
"""

from sacfolio.serve.app import create_app
from sacfolio.serve.command import serve_command
from sacfolio.serve.settings import ServeSettings, load_settings

__all__ = ["ServeSettings", "create_app", "load_settings", "serve_command"]
