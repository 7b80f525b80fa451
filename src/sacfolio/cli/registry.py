"""``sacfolio registry list|show|promote|rollback|gc``.

The registry root is ``--home`` when given, else the Hugging Face repo named by the
model's environment variable (``HF_SAC_LSTM_MODEL_REPO`` ...), else
``$SACFOLIO_HOME``, else ``./models``. Errors are :class:`~sacfolio.exceptions.SacfolioError`
subclasses; the main CLI turns them into exit code 2 with the message.

The registry cannot run a model, so a gated (non-forced) ``promote`` needs a
:data:`~sacfolio.registry.gate.GateFactory` from the application:
``make_registry_app(gate_factory=...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.json import JSON
from rich.table import Table

from sacfolio.exceptions import CorruptArtifactError, RegistryError
from sacfolio.registry import Registry, default_root, gate_cagr_by_version, registry_root_for
from sacfolio.registry.gate import GateFactory, PromotionGate
from sacfolio.registry.versions import version_time

__all__ = ["make_registry_app", "registry_app"]

Home = Annotated[
    Optional[str],
    typer.Option("--home", help="Registry root: a directory or URL (s3://..., hf://...). "
                 "Default: HF_<MODEL>_MODEL_REPO, then $SACFOLIO_HOME, then ./models."),
]


def _registry(home: str | None, name: str | None) -> Registry:
    if home:
        return Registry(home)
    return Registry(registry_root_for(name) if name else default_root())


def _console() -> Console:
    """The terminal's console; 160 columns when piped, so version ids are not cut."""
    console = Console()
    return console if console.is_terminal else Console(width=160)


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x:+.2%}"


def _list(name: Annotated[Optional[str], typer.Argument(help="Model name; all models when omitted.")] = None,
          home: Home = None) -> None:
    """Versions of a model (or all models) with promotion state and gate-window CAGR."""
    console = _console()
    registry = _registry(home, name)
    if name is None:
        table = Table(title=f"models in {registry.root}")
        for col in ("model", "versions", "current"):
            table.add_column(col, no_wrap=True)
        for model in registry.names():
            table.add_row(model, str(len(registry.versions(model))), registry.current(model) or "-")
        console.print(table if table.row_count else f"no models in {registry.root}")
        return
    versions = registry.versions(name)
    current = registry.current(name)
    promoted = {e.get("version") for e in registry.history(name) if e.get("promoted")}
    scores = gate_cagr_by_version(registry.history(name))
    table = Table(title=f"{name} in {registry.root}")
    for col in ("version", "created", "promoted", "gate CAGR", "parent"):
        table.add_column(col, no_wrap=True)
    for version in versions:
        try:
            parent = registry.metadata(name, version).get("parent") or ""
        except CorruptArtifactError:
            parent = "[red]corrupt: see `registry show`[/red]"
        state = "current" if version == current else ("yes" if version in promoted else "")
        table.add_row(version, version_time(version).strftime("%Y-%m-%d %H:%M:%S"), state,
                      _pct(scores.get(version)), parent)
    console.print(table)
    if current is not None and current not in versions:
        console.print(f"[red]current points to {current}, which is missing; run "
                      f"`sacfolio registry rollback {name}`[/red]")


def _show(name: str, version: Annotated[str, typer.Argument(help="Version id, current or latest.")] = "current",
         home: Home = None) -> None:
    """Metadata, files and gate decisions of one version."""
    console = _console()
    registry = _registry(home, name)
    version = registry.resolve(name, version)
    console.print(f"[bold]{name} {version}[/bold]  ({registry.root})")
    console.print(JSON.from_data(registry.metadata(name, version)))
    files = Table(title="files")
    for col in ("file", "bytes", "sha256"):
        files.add_column(col, no_wrap=True)
    for fname, info in sorted(registry.manifest(name, version)["files"].items()):
        files.add_row(fname, str(info.get("bytes", "")), info["sha256"][:16])
    console.print(files)
    for entry in registry.history(name):
        if entry.get("version") == version:
            console.print(f"{entry.get('time')} {entry.get('action')}: "
                          f"{'promoted' if entry.get('promoted') else 'not promoted'} - {entry.get('reason')}")


def _promote_command(gate_factory: GateFactory | None) -> Callable[..., None]:
    """The ``promote`` command, gated by ``gate_factory``'s evaluation."""

    def promote(
        name: str,
        version: str,
        force: Annotated[bool, typer.Option("--force", help="Promote regardless of the gate.")] = False,
        reason: Annotated[Optional[str], typer.Option("--reason", help="Why (required with --force).")] = None,
        min_confidence: Annotated[float, typer.Option(
            "--min-confidence", help="Required bootstrap P(candidate CAGR > current CAGR).")] = 0.0,
        home: Home = None,
    ) -> None:
        """Run the promotion gate on VERSION (or force it with a reason)."""
        registry = _registry(home, name)
        if force and not (reason and reason.strip()):
            raise RegistryError("--force needs --reason '...': the reason is recorded in promotions.jsonl")
        setup = gate_factory(registry, name) if gate_factory is not None else None
        if setup is None and not force:
            raise RegistryError(
                f"no evaluator is configured to run the gate for {name!r}; use `sacfolio registry "
                "promote` from the sacfolio CLI, or --force --reason '...'"
            )
        decision = PromotionGate(min_confidence=min_confidence, block=setup.block if setup else 4).decide(
            registry, name, version,
            evaluate=setup.evaluate if setup else None,
            window=setup.window if setup else None,
            health=setup.health if setup else None,
            force_reason=reason if force else None,
            baseline=setup.baseline if setup else None,
        )
        _console().print(decision.summary())
        if not decision.promoted:
            raise typer.Exit(1)

    return promote


def _rollback(
    name: str,
    to: Annotated[Optional[str], typer.Option("--to", help="Version to restore; default: the previous one.")] = None,
    reason: Annotated[Optional[str], typer.Option("--reason")] = None,
    home: Home = None,
) -> None:
    """Make an earlier promoted version current again (recorded in promotions.jsonl)."""
    registry = _registry(home, name)
    before = registry.current(name)
    after = registry.rollback(name, to, reason=reason)
    _console().print(f"{name}: current {before or '-'} -> {after}")


def _gc(
    name: str,
    keep: Annotated[int, typer.Option("--keep", min=0, help="Never-promoted versions to keep.")] = 5,
    home: Home = None,
) -> None:
    """Delete half-written leftovers and old never-promoted versions (never current)."""
    report = _registry(home, name).gc(name, keep=keep)
    console = _console()
    for entry in report.removed_leftovers:
        console.print(f"removed leftover {entry}")
    for version in report.removed_versions:
        console.print(f"removed version {version}")
    console.print(f"{name}: {len(report.kept)} versions kept")


def make_registry_app(*, gate_factory: GateFactory | None = None) -> typer.Typer:
    """Build the ``registry`` command group.

    Parameters
    ----------
    gate_factory : callable, optional
        Supplies evaluation for ``promote`` without ``--force``; without it such a
        promotion is refused with a message saying so.
    """
    app = typer.Typer(help="Model versions, the current pointer and the promotion gate.",
                      no_args_is_help=True)
    app.command("list")(_list)
    app.command("show")(_show)
    app.command("promote")(_promote_command(gate_factory))
    app.command("rollback")(_rollback)
    app.command("gc")(_gc)
    return app


registry_app = make_registry_app()
