"""``sacfolio doctor``: print the installation checks, exit 1 when a required one fails.

The checks are :mod:`sacfolio.diagnostics.doctor`; this module prints them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sacfolio.diagnostics.doctor import Check, failed, run_checks

__all__ = ["doctor_command", "render_checks"]


def render_checks(checks: list[Check], console: Console | None = None) -> None:
    """Print the checks as a rich table with the fix of every problem."""
    console = console or Console()
    table = Table(title="sacfolio doctor", title_justify="left")
    for col in ("check", "status", "detail", "fix"):
        table.add_column(col)
    for c in checks:
        if c.ok:
            status = "[green]ok[/green]"
        elif c.required:
            status = "[bold red]FAIL[/bold red]"
        else:
            word = "missing" if c.name.startswith("extra:") else "warn"
            status = f"[yellow]{word}[/yellow]"
        table.add_row(escape(c.name), status, escape(c.detail), escape(c.fix))
    console.print(table)
    bad = failed(checks)
    if bad:
        console.print(f"[bold red]{len(bad)} problem(s)[/bold red]: "
                      + ", ".join(c.name for c in bad))
    else:
        console.print("[green]All required checks passed.[/green]")


def doctor_command(
    data_dir: Annotated[Path | None, typer.Option(help="Data directory to check.")] = None,
    models_dir: Annotated[Path | None, typer.Option(help="Model registry directory to check.")
                          ] = None,
) -> None:
    """Check the installation and directories; exit 1 when a required check fails."""
    checks = run_checks(data_dir=data_dir, models_dir=models_dir)
    render_checks(checks, Console())
    if failed(checks):
        raise typer.Exit(code=1)
