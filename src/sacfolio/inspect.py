"""``sacfolio inspect``: per-layer health of any checkpoint, and a repaired copy on request.

Reads, without unpickling anything but tensors (``torch.load(weights_only=True)``):

- a sacfolio version directory (every ``*.pt`` in it),
- a single ``.pt`` / ``.pth`` state dict (nested dicts are flattened with dots),
- a Stable-Baselines3 ``.zip`` (its ``policy.pth`` and ``pytorch_variables.pth``;
  the ``data`` member is read as JSON for the step count, never unpickled).

Each floating-point tensor gets the statistics and flags of the training health
guard (:mod:`sacfolio.train.health`): ``NONFINITE``, ``DEAD`` (more than 50 % exact
zeros), ``MANY_ZEROS`` (more than 30 %), ``ZEROS`` (more than 10 %, a warning),
``ZERO_BIAS`` (a bias that is entirely zero, seed 004) and ``EXPLODING`` (a value
beyond ``param_abs_max``). Normalization-layer and attention biases, which are
zero by design, are recognized from the tensor names and shapes of the state dict.
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Iterator, Literal, Mapping

import torch
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sacfolio.exceptions import CheckpointError
from sacfolio.train.health import (HealthConfig, InitRule, init_values, tensor_findings,
                                   tensor_stat)

__all__ = [
    "CheckpointReport",
    "LayerRow",
    "infer_init_rule",
    "inspect_checkpoint",
    "inspect_command",
    "render",
    "repair_checkpoint",
]

CheckpointKind = Literal["directory", "state_dict", "sb3_zip"]
_SB3_WEIGHT_MEMBERS = ("policy.pth", "pytorch_variables.pth")
_RNN_KEY = re.compile(r"^(weight|bias)_(ih|hh|hr)(_l(\d+))?(_reverse)?$")
_FLAG_OF = {("nonfinite", "critical"): "NONFINITE", ("dead", "critical"): "DEAD",
            ("zeros", "critical"): "MANY_ZEROS", ("zeros", "warn"): "ZEROS",
            ("exploding", "critical"): "EXPLODING"}


@dataclass(frozen=True, kw_only=True)
class LayerRow:
    """One tensor of a checkpoint.

    Attributes
    ----------
    file : str
        File inside the checkpoint (``actor.pt``, ``policy.pth``).
    name : str
        Key in the (flattened) state dict.
    shape : tuple of int
    numel : int
    zero_fraction : float
        Exact zeros among the elements not zero by design.
    norm, min, max : float
    nonfinite : int
    flags : tuple of str
    severity : {"ok", "warn", "critical"}
    """

    file: str
    name: str
    shape: tuple[int, ...]
    numel: int
    zero_fraction: float
    norm: float
    min: float
    max: float
    nonfinite: int
    flags: tuple[str, ...]
    severity: Literal["ok", "warn", "critical"]


@dataclass(frozen=True, kw_only=True)
class CheckpointReport:
    """Per-layer rows and a verdict for one checkpoint.

    Attributes
    ----------
    path : str
    kind : {"directory", "state_dict", "sb3_zip"}
    rows : tuple of LayerRow
    notes : tuple of str
        What else was learned (SB3 step count, tensors skipped or not repairable).
    actions : tuple of str
        Tensors re-initialized by :func:`repair_checkpoint`.
    """

    path: str
    kind: CheckpointKind
    rows: tuple[LayerRow, ...]
    notes: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()

    @property
    def total_params(self) -> int:
        """Number of floating-point values in the checkpoint."""
        return sum(r.numel for r in self.rows)

    @property
    def flagged(self) -> tuple[LayerRow, ...]:
        """Rows with at least one flag."""
        return tuple(r for r in self.rows if r.flags)

    @property
    def verdict(self) -> Literal["healthy", "warn", "unhealthy"]:
        """``unhealthy`` with any critical flag, ``warn`` with warnings only."""
        if any(r.severity == "critical" for r in self.rows):
            return "unhealthy"
        return "warn" if self.flagged else "healthy"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary and flagged rows."""
        return {
            "path": self.path, "kind": self.kind, "verdict": self.verdict,
            "tensors": len(self.rows), "total_params": self.total_params,
            "flagged": [{"file": r.file, "name": r.name, "flags": list(r.flags),
                         "zero_fraction": r.zero_fraction, "nonfinite": r.nonfinite}
                        for r in self.flagged],
            "notes": list(self.notes), "actions": list(self.actions),
        }


# ---------------------------------------------------------------------- loading
@dataclass(frozen=True)
class _Loaded:
    kind: CheckpointKind
    objects: dict[str, Any]          # file name -> what torch.load returned
    notes: tuple[str, ...]


def _torch_load(source: Path | io.BytesIO, label: str) -> Any:
    try:
        return torch.load(source, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{label} holds pickled Python objects besides tensors; sacfolio never unpickles "
            f"them. Re-save it as a state dict (torch.save(module.state_dict(), path)). "
            f"({str(err).splitlines()[0]})") from err
    except (RuntimeError, EOFError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"{label} is not a readable torch file: {err}") from err


def _load(path: Path) -> _Loaded:
    if not path.exists():
        raise CheckpointError(f"Checkpoint {path} does not exist.")
    if path.is_dir():
        files = sorted(path.glob("*.pt"))
        if not files:
            raise CheckpointError(f"Directory {path} holds no *.pt files; is it a model version "
                                  "directory (models/<name>/<version>)?")
        return _Loaded("directory", {f.name: _torch_load(f, str(f)) for f in files}, ())
    if path.suffix == ".zip":
        return _load_sb3_zip(path)
    return _Loaded("state_dict", {path.name: _torch_load(path, str(path))}, ())


def _load_sb3_zip(path: Path) -> _Loaded:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as err:
        raise CheckpointError(f"{path} is not a zip archive: {err}") from err
    with archive:
        names = set(archive.namelist())
        if "policy.pth" not in names:
            raise CheckpointError(f"{path} has no policy.pth; is it a Stable-Baselines3 model "
                                  f"saved with model.save()? Members: {sorted(names)}")
        objects = {m: _torch_load(io.BytesIO(archive.read(m)), f"{path}:{m}")
                   for m in _SB3_WEIGHT_MEMBERS if m in names}
        notes = []
        if "data" in names:
            try:
                data = json.loads(archive.read("data"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                notes.append("SB3 'data' member is not JSON; not read.")
            else:
                policy = data.get("policy_class", {})
                name = policy.get("__module__", "?") if isinstance(policy, dict) else "?"
                notes.append(f"Stable-Baselines3 model, policy from {name}, "
                             f"{data.get('num_timesteps', '?')} timesteps trained.")
    return _Loaded("sb3_zip", objects, tuple(notes))


def _flatten(obj: Any, prefix: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    """``(dotted key, tensor)`` for every tensor in nested mappings and sequences."""
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _flatten(v, f"{prefix}.{i}" if prefix else str(i))


# ------------------------------------------------------------ layer kind inference
def _split(key: str) -> tuple[str, str]:
    prefix, _, last = key.rpartition(".")
    return prefix, last


def infer_init_rule(key: str, tensors: Mapping[str, torch.Tensor]
                    ) -> tuple[InitRule | None, bool]:
    """Layer kind of a raw state-dict tensor, from its name and its siblings' shapes.

    Parameters
    ----------
    key : str
        Dotted key, e.g. ``"encoder.lstm.bias_ih_l0"``.
    tensors : mapping of str to Tensor
        The whole (flattened) state dict of the same file.

    Returns
    -------
    rule : InitRule or None
        How to re-initialize it (seed 004's rules); None when the kind is unknown
        (scalars, free parameters such as ``log_std``).
    zero_by_design : bool
        True for tensors that are zero at initialization (normalization biases and
        running means, attention projection biases, single values of unknown kind
        such as a log-temperature).

    Notes
    -----
    - ``weight_hh_l{k}`` of shape (G*H, H) gives the gate count G: 4 is an LSTM,
      whose ``bias_ih`` gets forget-gate quarter 1; 3 a GRU; 1 a plain RNN.
    - A prefix with ``running_mean`` (BatchNorm) or with exactly a 1-D ``weight`` and
      ``bias`` of equal shape (LayerNorm, GroupNorm) is a normalization layer.
    - ``in_proj_bias`` and the ``out_proj.bias`` next to an ``in_proj_weight`` belong
      to multi-head attention.
    """
    t = tensors[key]
    shape = tuple(t.shape)
    prefix, last = _split(key)
    sib = {k.rpartition(".")[2]: v for k, v in tensors.items() if _split(k)[0] == prefix}
    m = _RNN_KEY.match(last)
    if m:
        suffix = (m.group(3) or "") + (m.group(5) or "")
        hh = sib.get(f"weight_hh{suffix}")
        hr = sib.get(f"weight_hr{suffix}")
        if hh is None or hh.ndim != 2:
            return _generic(shape, last), False
        hidden = int(hr.shape[1]) if hr is not None else int(hh.shape[1])
        gates = int(hh.shape[0]) // max(hidden, 1)
        if m.group(1) == "weight":
            return InitRule("fan_in_uniform", fan_in=hidden), False
        if gates == 4 and m.group(2) == "ih":
            return InitRule("lstm_bias_ih", hidden=hidden), False
        return InitRule("small_uniform"), False
    if "running_mean" in sib or (set(sib) <= {"weight", "bias"} and len(sib) == 2
                                 and sib["weight"].ndim == 1
                                 and sib["weight"].shape == sib["bias"].shape):
        if last in ("bias", "running_mean"):
            return InitRule("zeros"), True
        if last in ("weight", "running_var"):
            return InitRule("ones"), False
        return None, False
    if last == "in_proj_bias":
        return InitRule("zeros"), True
    if last == "in_proj_weight":
        return InitRule("xavier_uniform"), False
    parent_prefix, parent_last = _split(prefix)
    if (parent_last == "out_proj" and last == "bias"
            and (f"{parent_prefix}.in_proj_weight" if parent_prefix else "in_proj_weight")
            in tensors):
        return InitRule("zeros"), True
    rule = _generic(shape, last)
    # a lone value of unknown kind (SB3's log_ent_coef, log_alpha) is zero by design at init
    return rule, rule is None and t.numel() == 1


def _generic(shape: tuple[int, ...], last: str) -> InitRule | None:
    if len(shape) == 1 and last.startswith("bias"):
        return InitRule("small_uniform")
    if len(shape) >= 2 and last.startswith("weight"):
        return InitRule("fan_in_uniform", fan_in=math.prod(shape[1:]))
    return None


def _is_bias(key: str, t: torch.Tensor) -> bool:
    return t.ndim == 1 and _split(key)[1].startswith("bias")


# ---------------------------------------------------------------------- inspect
def _rows(file: str, obj: Any, config: HealthConfig, notes: list[str]) -> list[LayerRow]:
    flat = dict(_flatten(obj, "" if not isinstance(obj, torch.Tensor) else Path(file).stem))
    rows = []
    for key, t in flat.items():
        if not t.is_floating_point():
            continue
        _, by_design = infer_init_rule(key, flat)
        stat = tensor_stat(key, t, zero_ok=by_design)
        flags: list[str] = []
        severity = "ok"
        for f in tensor_findings(stat, config):
            flag = _FLAG_OF.get((f.kind, f.severity))
            if flag:
                flags.append(flag)
                if f.severity == "critical" or severity == "ok":
                    severity = f.severity
        if not by_design and _is_bias(key, t) and t.numel() and stat.zero_fraction == 1.0:
            flags.insert(0, "ZERO_BIAS")
            severity = "critical"
        rows.append(LayerRow(file=file, name=key, shape=stat.shape, numel=stat.numel,
                             zero_fraction=stat.zero_fraction, norm=stat.norm, min=stat.min,
                             max=stat.max, nonfinite=stat.nonfinite, flags=tuple(flags),
                             severity=severity))  # type: ignore[arg-type]
    if not flat:
        notes.append(f"{file} holds no tensors.")
    return rows


def inspect_checkpoint(path: Path | str, config: HealthConfig | None = None) -> CheckpointReport:
    """Per-layer health of a checkpoint.

    Parameters
    ----------
    path : Path or str
        A sacfolio version directory, a ``.pt``/``.pth`` state dict or an SB3 ``.zip``.
    config : HealthConfig, optional
        Thresholds (defaults: seed 004's).

    Returns
    -------
    CheckpointReport

    Raises
    ------
    CheckpointError
        The path is missing, holds no weights, or holds pickled objects.
    """
    path = Path(path)
    cfg = config or HealthConfig()
    loaded = _load(path)
    notes = list(loaded.notes)
    rows: list[LayerRow] = []
    for file, obj in loaded.objects.items():
        rows.extend(_rows(file, obj, cfg, notes))
    return CheckpointReport(path=str(path), kind=loaded.kind, rows=tuple(rows), notes=tuple(notes))


def inspect_state_dicts(objects: Mapping[str, Any], *, label: str = "memory",
                        config: HealthConfig | None = None) -> CheckpointReport:
    """Per-layer health of state dicts already in memory (file name -> state_dict).

    The same rows and verdict as :func:`inspect_checkpoint`; the registry's gate uses
    it on a candidate version before promoting it.
    """
    cfg = config or HealthConfig()
    notes: list[str] = []
    rows: list[LayerRow] = []
    for file, obj in objects.items():
        rows.extend(_rows(file, obj, cfg, notes))
    return CheckpointReport(path=label, kind="directory", rows=tuple(rows), notes=tuple(notes))


def render(report: CheckpointReport, console: Console | None = None) -> None:
    """Print the per-layer table and the summary of ``report`` with rich."""
    console = console or Console()
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
    console.print(table)
    critical = sum(r.severity == "critical" for r in report.rows)
    colour = {"healthy": "green", "warn": "yellow", "unhealthy": "bold red"}[report.verdict]
    console.print(f"{len(report.rows)} tensors, {report.total_params:,} parameters, "
                  f"{len(report.flagged)} flagged ({critical} critical): "
                  f"[{colour}]{report.verdict}[/{colour}]")
    for line in report.notes:
        console.print(f"note: {escape(line)}")
    for line in report.actions:
        console.print(f"repair: {escape(line)}")


# ----------------------------------------------------------------------- repair
def repair_checkpoint(path: Path | str, out: Path | str, seed: int = 0,
                      config: HealthConfig | None = None) -> CheckpointReport:
    """Write a copy of a checkpoint with its critically flagged tensors re-initialized.

    Rules (seed 004): LSTM ``bias_ih`` U(-0.01, 0.01) with forget gate 1; GRU, RNN,
    LSTM ``bias_hh`` and Linear biases U(-0.01, 0.01); normalization biases 0 and
    weights 1; Linear / Conv / recurrent weights U(±1/sqrt(fan_in)); attention input
    projections Xavier-uniform. Tensors whose kind cannot be inferred are left as
    they are and listed in the notes.

    Parameters
    ----------
    path : Path or str
        Checkpoint to repair (never modified).
    out : Path or str
        Where the copy goes, same layout as ``path`` (a directory, a ``.pt`` or a
        ``.zip``); must not exist.
    seed : int
        Seed of the fresh values.
    config : HealthConfig, optional

    Returns
    -------
    CheckpointReport
        Inspection of the repaired copy, with ``actions`` listing what was changed.
    """
    path, out = Path(path), Path(out)
    if out.exists():
        raise CheckpointError(f"Repair output {out} already exists; choose a new path.")
    cfg = config or HealthConfig()
    loaded = _load(path)
    before = inspect_checkpoint(path, cfg)
    bad = {(r.file, r.name) for r in before.rows if r.severity == "critical"}
    generator = torch.Generator().manual_seed(seed)
    actions: list[str] = []
    notes: list[str] = []
    for file, obj in loaded.objects.items():
        flat = dict(_flatten(obj, "" if not isinstance(obj, torch.Tensor) else Path(file).stem))
        for key, t in flat.items():
            if (file, key) not in bad:
                continue
            rule, _ = infer_init_rule(key, flat)
            if rule is None:
                notes.append(f"cannot repair {file}:{key}: layer kind unknown; left as is.")
                continue
            with torch.no_grad():
                t.copy_(init_values(rule, tuple(t.shape), generator).to(t.dtype))
            actions.append(f"{file}:{key} re-initialized ({rule.kind})")
    _write_like(path, out, loaded)
    after = inspect_checkpoint(out, cfg)
    return replace(after, notes=after.notes + tuple(notes), actions=tuple(actions))


def _write_like(src: Path, out: Path, loaded: _Loaded) -> None:
    """Write ``loaded`` to ``out`` in ``src``'s layout, atomically (temp + rename)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if loaded.kind == "directory":
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
        try:
            shutil.copytree(src, tmp, dirs_exist_ok=True)
            for file, obj in loaded.objects.items():
                torch.save(obj, tmp / file)
            os.replace(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}-", dir=out.parent)
    os.close(fd)
    tmp_file = Path(tmp_name)
    try:
        if loaded.kind == "state_dict":
            torch.save(next(iter(loaded.objects.values())), tmp_file)
        else:
            with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp_file, "w",
                                                             zipfile.ZIP_DEFLATED) as zout:
                for info in zin.infolist():
                    if info.filename in loaded.objects:
                        buf = io.BytesIO()
                        torch.save(loaded.objects[info.filename], buf)
                        zout.writestr(info.filename, buf.getvalue())
                    else:
                        zout.writestr(info, zin.read(info.filename))
        os.replace(tmp_file, out)
    except BaseException:
        tmp_file.unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------- command
def inspect_command(
    path: Annotated[Path, typer.Argument(
        help="Model version directory, .pt state dict, or Stable-Baselines3 .zip.")],
    repair: Annotated[Path | None, typer.Option(
        "--repair", help="Write a repaired copy here (same layout) and inspect it.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the values drawn by --repair.")] = 0,
) -> None:
    """Show per-layer health of a checkpoint; exit 1 when it is unhealthy."""
    console = Console()
    report = inspect_checkpoint(path)
    render(report, console)
    if repair is not None:
        report = repair_checkpoint(path, repair, seed=seed)
        console.print()
        render(report, console)
    if report.verdict == "unhealthy":
        raise typer.Exit(code=1)
