"""Re-initializing dead, zeroed or exploding tensors, in a live learner or a saved checkpoint.

Each tensor is drawn afresh by the rule of its layer kind
(:mod:`sacfolio.diagnostics.init_rules`) from a seeded generator, so a repair is
reproducible. :func:`repair_parameters` works on a learner's modules during
training and drops the optimizer state of what it re-initialized (stale Adam
moments would push the fresh values straight back); :func:`repair_checkpoint`
writes a repaired copy of a checkpoint in the layout it was read from.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Mapping, NamedTuple

import torch
from torch import nn

from sacfolio.diagnostics.checkpoint import (CheckpointReport, LoadedCheckpoint, checkpoint_tensors,
                                             inspect_checkpoint, load_checkpoint)
from sacfolio.diagnostics.findings import HealthConfig
from sacfolio.diagnostics.init_rules import infer_init_rule, init_values, module_init_rule
from sacfolio.exceptions import CheckpointError

__all__ = ["REPAIRABLE_KINDS", "ParameterRepair", "repair_checkpoint", "repair_parameters"]

#: Finding kinds that re-initializing the tensor can cure.
REPAIRABLE_KINDS = frozenset({"nonfinite", "dead", "zeros", "exploding"})


class ParameterRepair(NamedTuple):
    """What :func:`repair_parameters` did.

    Attributes
    ----------
    actions : list of str
        One line per re-initialized tensor, then one per optimizer state dropped.
    fresh : dict of str to Tensor
        A copy of each re-initialized tensor's new values by full name
        (``"actor.net.0.bias"``), taken right after it was drawn.
    """

    actions: list[str]
    fresh: dict[str, torch.Tensor]


def repair_parameters(
    modules: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    tensors: Iterable[str],
    generator: torch.Generator,
) -> ParameterRepair:
    """Re-initialize the named parameters in place and drop their optimizer state.

    Parameters
    ----------
    modules : mapping of str to Module
        The learner's modules by name (``{"actor": ..., "critic": ...}``).
    optimizers : mapping of str to Optimizer
    tensors : iterable of str
        Full names, module name first (``"actor.net.0.bias"``).
    generator : torch.Generator
        Source of the fresh values, drawn in ``named_modules`` order.

    Returns
    -------
    ParameterRepair
    """
    wanted = set(tensors)
    repaired: dict[int, str] = {}
    fresh: dict[str, torch.Tensor] = {}
    actions: list[str] = []
    for mname, module in modules.items():
        for sub_name, sub in module.named_modules():
            for local, p in sub.named_parameters(recurse=False):
                full = ".".join(x for x in (mname, sub_name, local) if x)
                if full not in wanted:
                    continue
                rule = module_init_rule(sub, local, tuple(p.shape))
                with torch.no_grad():
                    p.copy_(init_values(rule, tuple(p.shape), generator))
                fresh[full] = p.detach().clone()
                repaired[id(p)] = full
                actions.append(f"repaired {full} ({type(sub).__name__}, {rule.kind})")
    for oname, opt in optimizers.items():
        for p in [p for p in list(opt.state) if id(p) in repaired]:
            del opt.state[p]
            actions.append(f"reset {oname} optimizer state of {repaired[id(p)]}")
    return ParameterRepair(actions=actions, fresh=fresh)


def repair_checkpoint(path: Path | str, out: Path | str, seed: int = 0,
                      config: HealthConfig | None = None) -> CheckpointReport:
    """Write a copy of a checkpoint with its critically flagged tensors re-initialized.

    Rules (:mod:`~sacfolio.diagnostics.init_rules`): LSTM ``bias_ih`` U(-0.01, 0.01)
    with forget gate 1; GRU, RNN, LSTM ``bias_hh`` and Linear biases U(-0.01, 0.01);
    normalization biases 0 and weights 1; Linear / Conv / recurrent weights
    U(±1/sqrt(fan_in)); attention input projections Xavier-uniform. Tensors whose
    kind cannot be inferred are left as they are and listed in the notes.

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
    loaded = load_checkpoint(path)
    before = inspect_checkpoint(path, cfg)
    bad = {(r.file, r.name) for r in before.rows if r.severity == "critical"}
    generator = torch.Generator().manual_seed(seed)
    actions: list[str] = []
    notes: list[str] = []
    for file, obj in loaded.objects.items():
        flat = checkpoint_tensors(file, obj)
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


def _write_like(src: Path, out: Path, loaded: LoadedCheckpoint) -> None:
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
