"""The ``sacfolio`` command line: thin commands over the workflows.

Each command parses its options, calls a function of :mod:`sacfolio.workflows` (or a
library function), and prints. Errors a user can fix print one paragraph to stderr
and exit with code 2 (:func:`sacfolio.cli.app.main`).
"""

from sacfolio.cli import evaluate, features, paper, sweep, train  # noqa: F401  (register their commands)
from sacfolio.cli.app import app, main
from sacfolio.cli.doctor import doctor_command
from sacfolio.cli.inspect import inspect_command
from sacfolio.cli.meta import meta_app
from sacfolio.cli.serve import serve_command
from sacfolio.cli.validate import validate_pipeline_command

__all__ = ["app", "main"]


def _registry_app():
    from sacfolio.cli.registry import make_registry_app
    from sacfolio.workflows.gate import default_gate_setup

    return make_registry_app(gate_factory=default_gate_setup)


app.add_typer(_registry_app(), name="registry",
              help="List, show, promote, roll back and clean model versions.")
app.add_typer(meta_app, name="meta")
app.command("inspect", help="Per-layer health of a checkpoint (a version directory, a .pt state dict "
            "or a Stable-Baselines3 .zip); --repair OUT writes a repaired copy, --json prints the "
            "report as JSON.")(inspect_command)
app.command("serve", help="Start the brain API (FastAPI + uvicorn): train/finetune jobs, inference, "
            "health, status, the dashboard at /dashboard/ and the retraining scheduler.")(serve_command)
app.command("doctor", help="Check Python, torch and the APIs sacfolio relies on, and that the data "
            "and model directories are usable; prints the fix for each problem.")(doctor_command)
app.command("validate-pipeline", help="Check the universal agent's slots end to end on a dummy observation "
            "(2 live + 8 padded slots): masked pooling, the advisor path on [B, N, T, F] and [B, N, F], one SAC "
            "forward and update, 0 weight on padded slots; exit 1 on any failure.")(validate_pipeline_command)
