"""``sacfolio inspect``: per-layer health of any checkpoint, and a repaired copy on request.

The reading and the repair are :mod:`sacfolio.diagnostics.checkpoint` and
:mod:`sacfolio.diagnostics.repair`; this module parses the options and prints.
On a terminal the table fits the window; piped to a file or another program it is
printed at its full width, so no flag is ever cut; ``--json`` prints the whole
report for machines instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sacfolio.diagnostics.checkpoint import CheckpointReport, inspect_checkpoint
from sacfolio.diagnostics.repair import repair_checkpoint

__all__ = ["inspect_command", "render"]

_UNLIMITED = 100_000
"""Width the table is measured at when it is not fitted to a terminal."""


def _table(report: CheckpointReport) -> Table:
    multi_file = len({r.file for r in report.rows}) > 1
    table = Table(title=escape(f"{report.path} ({report.kind})"), title_justify="left")
    table.add_column("tensor", overflow="fold", min_width=20)
    for col in ("shape", "params", "% zeros", "norm", "min .. max"):
        table.add_column(col, justify="left" if col == "shape" else "right")
    table.add_column("flags", overflow="fold")
    style = {"ok": "", "warn": "yellow", "critical": "bold red"}
    current_file = None
    for r in report.rows:
        if multi_file and r.file != current_file:
            current_file = r.file
            table.add_row(f"[bold]{escape(r.file)}[/bold]")
        table.add_row(
            escape(f"  {r.name}" if multi_file else r.name),
            "×".join(map(str, r.shape)) or "scalar", f"{r.numel:,}",
            f"{100 * r.zero_fraction:.1f}", f"{r.norm:.3g}", f"{r.min:.2g} .. {r.max:.2g}",
            " ".join(r.flags), style=style[r.severity])
    return table


def render(report: CheckpointReport, console: Console | None = None) -> None:
    """Print the per-layer table and the summary of ``report`` with rich.

    On a terminal the table is fitted to the console's width (long names fold).
    Anywhere else (a file, a pipe, a recording console) nothing is folded or cut:
    the table gets the width it needs and lines are not wrapped.
    """
    console = console or Console()
    table = _table(report)
    full = not console.is_terminal
    if full:
        natural = console.measure(table, options=console.options.update_width(_UNLIMITED))
        width = console.width
        console.width = max(width, natural.maximum)  # print() never renders wider than this
        try:
            console.print(table, crop=False)
        finally:
            console.width = width
    else:
        console.print(table)
    critical = sum(r.severity == "critical" for r in report.rows)
    colour = {"healthy": "green", "warn": "yellow", "unhealthy": "bold red"}[report.verdict]
    console.print(f"{len(report.rows)} tensors, {report.total_params:,} parameters, "
                  f"{len(report.flagged)} flagged ({critical} critical): "
                  f"[{colour}]{report.verdict}[/{colour}]", soft_wrap=full)
    for line in report.notes:
        console.print(f"note: {escape(line)}", soft_wrap=full)
    for line in report.actions:
        console.print(f"repair: {escape(line)}", soft_wrap=full)


def inspect_command(
    path: Annotated[Path, typer.Argument(
        help="Model version directory, .pt state dict, or Stable-Baselines3 .zip.")],
    repair: Annotated[Path | None, typer.Option(
        "--repair", help="Write a repaired copy here (same layout) and inspect it.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the values drawn by --repair.")] = 0,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the report as JSON (every row, its statistics, flags and "
        "severity, and the overall status) instead of a table; with --repair the "
        "repaired copy's report is under 'repaired'.")] = False,
) -> None:
    """Show per-layer health of a checkpoint; exit 1 when it is unhealthy."""
    report = inspect_checkpoint(path)
    if as_json:
        doc = report.to_json_dict()
        if repair is not None:
            report = repair_checkpoint(path, repair, seed=seed)
            doc["repaired"] = report.to_json_dict()
        typer.echo(json.dumps(doc, indent=2, allow_nan=False))
    else:
        console = Console()
        render(report, console)
        if repair is not None:
            report = repair_checkpoint(path, repair, seed=seed)
            console.print()
            render(report, console)
    if report.verdict == "unhealthy":
        raise typer.Exit(code=1)
