"""Reading checkpoints into per-layer health reports.

Reads, without unpickling anything but tensors (``torch.load(weights_only=True)``):

- a sacfolio version directory (every ``*.pt`` in it),
- a single ``.pt`` / ``.pth`` state dict (nested dicts are flattened with dots),
- a Stable-Baselines3 ``.zip`` (its ``policy.pth`` and ``pytorch_variables.pth``;
  the ``data`` member is read as JSON for the step count, never unpickled).

Each floating-point tensor gets the statistics and flags of the training health
guard (:mod:`sacfolio.diagnostics.findings`): ``NONFINITE``, ``DEAD`` (more than
50 % exact zeros), ``MANY_ZEROS`` (more than 30 %), ``ZEROS`` (more than 10 %, a
warning), ``ZERO_BIAS`` (a bias that is entirely zero, the signature of training
at a far too large learning rate) and ``EXPLODING`` (a value beyond
``param_abs_max``). Normalization-layer and attention biases, which are zero by
design, are recognized from the tensor names and shapes of the state dict
(:func:`~sacfolio.diagnostics.init_rules.infer_init_rule`).
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal, Mapping

import torch

from sacfolio.diagnostics.findings import HealthConfig, json_safe_float, tensor_findings
from sacfolio.diagnostics.init_rules import infer_init_rule
from sacfolio.diagnostics.stats import tensor_stat
from sacfolio.exceptions import CheckpointError

__all__ = [
    "CheckpointKind",
    "CheckpointReport",
    "LayerRow",
    "LoadedCheckpoint",
    "checkpoint_tensors",
    "inspect_checkpoint",
    "inspect_state_dicts",
    "load_checkpoint",
]

CheckpointKind = Literal["directory", "state_dict", "sb3_zip"]
_SB3_WEIGHT_MEMBERS = ("policy.pth", "pytorch_variables.pth")
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field (non-finite statistics become ``"nan"`` / ``"inf"``)."""
        return {
            "file": self.file, "name": self.name, "shape": list(self.shape), "numel": self.numel,
            "zero_fraction": json_safe_float(self.zero_fraction), "norm": json_safe_float(self.norm),
            "min": json_safe_float(self.min), "max": json_safe_float(self.max),
            "nonfinite": self.nonfinite, "flags": list(self.flags), "severity": self.severity,
        }


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

    @property
    def status(self) -> Literal["ok", "warn", "critical"]:
        """Worst severity of any row, in the health report's words."""
        if self.verdict == "unhealthy":
            return "critical"
        return "warn" if self.verdict == "warn" else "ok"

    def to_json_dict(self) -> dict[str, Any]:
        """Everything, for machines (``sacfolio inspect --json``): the verdict and every row.

        Keys: ``path``, ``kind``, ``status`` (``ok`` / ``warn`` / ``critical``),
        ``verdict`` (``healthy`` / ``warn`` / ``unhealthy``), ``tensors``,
        ``total_params``, ``flagged``, ``critical`` (counts), ``rows`` (every
        :meth:`LayerRow.to_dict`), ``notes`` and ``actions``. Strict JSON: no NaN.
        """
        return {
            "path": self.path, "kind": self.kind, "status": self.status, "verdict": self.verdict,
            "tensors": len(self.rows), "total_params": self.total_params,
            "flagged": len(self.flagged),
            "critical": sum(r.severity == "critical" for r in self.rows),
            "rows": [r.to_dict() for r in self.rows],
            "notes": list(self.notes), "actions": list(self.actions),
        }


# ---------------------------------------------------------------------- loading
@dataclass(frozen=True)
class LoadedCheckpoint:
    """What :func:`load_checkpoint` read.

    Attributes
    ----------
    kind : {"directory", "state_dict", "sb3_zip"}
    objects : dict of str to object
        File name (``actor.pt``, ``policy.pth``) -> what ``torch.load`` returned.
    notes : tuple of str
        What was learned on the way (an SB3 model's step count).
    """

    kind: CheckpointKind
    objects: dict[str, Any]
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


def load_checkpoint(path: Path | str) -> LoadedCheckpoint:
    """Read a version directory, a ``.pt`` / ``.pth`` file or an SB3 ``.zip``, tensors only.

    Raises
    ------
    CheckpointError
        The path is missing, holds no weights, or holds pickled objects.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"Checkpoint {path} does not exist.")
    if path.is_dir():
        files = sorted(path.glob("*.pt"))
        if not files:
            raise CheckpointError(f"Directory {path} holds no *.pt files; is it a model version "
                                  "directory (models/<name>/<version>)?")
        return LoadedCheckpoint("directory", {f.name: _torch_load(f, str(f)) for f in files}, ())
    if path.suffix == ".zip":
        return _load_sb3_zip(path)
    return LoadedCheckpoint("state_dict", {path.name: _torch_load(path, str(path))}, ())


def _load_sb3_zip(path: Path) -> LoadedCheckpoint:
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
    return LoadedCheckpoint("sb3_zip", objects, tuple(notes))


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


def checkpoint_tensors(file: str, obj: Any) -> dict[str, torch.Tensor]:
    """Every tensor of one loaded file by dotted key (a bare tensor is named after the file)."""
    return dict(_flatten(obj, "" if not isinstance(obj, torch.Tensor) else Path(file).stem))


def _is_bias(key: str, t: torch.Tensor) -> bool:
    return t.ndim == 1 and key.rpartition(".")[2].startswith("bias")


# ---------------------------------------------------------------------- reports
def _rows(file: str, obj: Any, config: HealthConfig, notes: list[str]) -> list[LayerRow]:
    flat = checkpoint_tensors(file, obj)
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
        Thresholds (defaults: :class:`HealthConfig`'s).

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
    loaded = load_checkpoint(path)
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
