"""The ``sacfolio`` Typer app, its consoles and the console entry point.

Errors a user can fix (bad data, a window outside the data, a bad setting) print one
paragraph to stderr and exit with code 2; so do mistyped commands and options (the
usual one-line usage error). Nothing is written half-way.
"""

from __future__ import annotations

import os
import sys
import warnings

import typer
from rich.console import Console
from rich.markup import escape

from sacfolio.exceptions import SacfolioError

__all__ = ["app", "console", "err_console", "main"]

app = typer.Typer(
    name="sacfolio",
    help=(
        "Soft Actor-Critic portfolio agents: train on weekly prices, validate walk-forward "
        "against classical portfolios, register versions and serve them.\n\n"
        "Start with [bold]sacfolio demo[/bold]: it trains on the embedded S&P 500 sample "
        "(20 stocks, 1990-2022, no download), backtests 2015-2022 out of sample and writes an "
        "HTML report."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
console = Console() if Console().is_terminal else Console(width=150)  # piped: don't cut tables at 80
err_console = Console(stderr=True)

_shown_warnings: set[str] = set()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Print each distinct warning once (features are rebuilt for the report and the gate)."""
    text = str(message)
    if text not in _shown_warnings:
        _shown_warnings.add(text)
        err_console.print(f"[yellow]warning:[/yellow] {text}", highlight=False)


def _exit_for(exc: typer.TyperException) -> int:
    """Show a usage error or abort the way click's standalone mode does; its exit code."""
    if isinstance(exc, typer.Exit):
        return int(exc.exit_code)
    if isinstance(exc, typer.Abort):
        err_console.print("aborted")
        return 130
    show = getattr(exc, "show", None)
    if show is not None:
        show()  # "Usage: ... Error: No such command 'x'." on stderr
    return int(getattr(exc, "exit_code", 2))


def main() -> None:
    """Console entry point: maps SacfolioError to a one-paragraph message and exit code 2."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)  # one thread per process is faster for these small networks
    warnings.showwarning = _show_warning
    try:
        code = app(standalone_mode=False)  # returns a command's exit code (inspect: 1 when unhealthy)
    except SacfolioError as exc:
        err_console.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.TyperException as exc:  # usage errors, Exit and Abort (click is vendored by typer)
        sys.exit(_exit_for(exc))
    except KeyboardInterrupt:
        err_console.print("aborted")
        sys.exit(130)
    if isinstance(code, int) and code != 0:
        sys.exit(code)
