"""What one model version holds, how it becomes bytes and back, and layout checks.

A version is a set of files: torch ``state_dict`` files (``*.pt``), JSON documents
(``*.json``), ``metadata.json`` and a ``manifest.json`` with the SHA-256 of every
other file. Tensors are loaded with ``torch.load(weights_only=True)`` and documents
with :mod:`json`: nothing read from a registry can run code.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import platform
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import sacfolio
from sacfolio.exceptions import CorruptArtifactError, InvalidArtifactError, LayoutMismatchError

__all__ = [
    "METADATA_FILE",
    "MANIFEST_FILE",
    "RESERVED_FILES",
    "ModelArtifacts",
    "environment_metadata",
    "check_layout",
    "tensors_to_bytes",
    "tensors_from_bytes",
    "document_to_bytes",
    "document_from_bytes",
    "sha256",
]

METADATA_FILE = "metadata.json"
MANIFEST_FILE = "manifest.json"
#: Files the registry writes itself; artifacts may not use these names.
RESERVED_FILES = frozenset({METADATA_FILE, MANIFEST_FILE})
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(kw_only=True)
class ModelArtifacts:
    """Everything stored for one model version.

    Attributes
    ----------
    tensors : dict of str to dict of str to torch.Tensor
        File name (``"actor.pt"``) to a ``state_dict``. The SAC agent stores
        ``actor.pt``, ``critic.pt``, ``critic_target.pt`` and ``log_alpha.pt``.
    documents : dict of str to JSON-able
        File name (``"config.json"``, ``"scaler.json"``, ``"symbol_order.json"``)
        to a value :func:`json.dumps` accepts (finite floats only).
    metadata : dict
        Written as ``metadata.json``: data window, universe, metrics, seed,
        package versions (see :func:`environment_metadata`), git commit, parent
        version, training mode. On save the registry adds ``version``,
        ``created_at``, ``name`` and ``parent``.
    """

    tensors: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    documents: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for fname, state in self.tensors.items():
            _check_file_name(fname, ".pt")
            if not isinstance(state, Mapping):
                raise InvalidArtifactError(
                    f"{fname}: expected a state_dict (dict of str to Tensor), got {type(state).__name__}"
                )
            for key, value in state.items():
                if not isinstance(key, str) or not isinstance(value, torch.Tensor):
                    raise InvalidArtifactError(
                        f"{fname}: entry {key!r} is {type(value).__name__}; a state_dict may hold only "
                        "tensors keyed by str (store other values in a JSON document)"
                    )
        for fname in self.documents:
            _check_file_name(fname, ".json")
        clash = set(self.tensors) & set(self.documents)
        if clash:
            raise InvalidArtifactError(f"file names used twice: {sorted(clash)}")
        if not isinstance(self.metadata, Mapping):
            raise InvalidArtifactError(f"metadata must be a dict, got {type(self.metadata).__name__}")

    @property
    def files(self) -> list[str]:
        """Names of the files this version is made of (without ``manifest.json``)."""
        return sorted([*self.tensors, *self.documents, METADATA_FILE])

    @property
    def version(self) -> str | None:
        """Version id once saved or loaded, else None."""
        return self.metadata.get("version")

    @property
    def parent(self) -> str | None:
        """Version this one was finetuned from, or None."""
        return self.metadata.get("parent")


def _check_file_name(fname: object, suffix: str) -> None:
    if not isinstance(fname, str) or not _FILE_NAME.match(fname) or not fname.endswith(suffix):
        raise InvalidArtifactError(
            f"artifact file name {fname!r} must be a plain name ending in {suffix!r} "
            "(letters, digits, '_', '-', '.'; no directories)"
        )
    if fname in RESERVED_FILES:
        raise InvalidArtifactError(f"{fname!r} is written by the registry itself; pick another name")


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def tensors_to_bytes(state: Mapping[str, torch.Tensor]) -> bytes:
    """Serialize a ``state_dict`` (tensors moved to CPU, values unchanged bit for bit)."""
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in state.items()}, buffer)
    return buffer.getvalue()


def tensors_from_bytes(data: bytes, *, path: str) -> dict[str, torch.Tensor]:
    """Load a ``state_dict`` with ``weights_only=True``; anything else is corrupt.

    Parameters
    ----------
    data : bytes
        Content of a ``.pt`` file.
    path : str
        Where it came from, for the error message.

    Raises
    ------
    CorruptArtifactError
        The file is not a torch archive, holds objects other than tensors (a pickled
        class would need code execution, which ``weights_only`` refuses), or is not a
        ``dict`` of str to Tensor.
    """
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError...
        raise CorruptArtifactError(
            f"{path} cannot be loaded as tensors with weights_only=True "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
            "the file is damaged or holds objects other than tensors"
        ) from exc
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise CorruptArtifactError(f"{path} does not hold a state_dict (dict of str to Tensor)")
    return state


def document_to_bytes(value: Any, *, name: str) -> bytes:
    """Serialize a JSON document strictly (no NaN/Infinity), UTF-8, indented."""
    try:
        text = json.dumps(value, indent=2, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidArtifactError(
            f"{name} is not strict JSON ({exc}); convert arrays with .tolist(), "
            "NaN/inf to None, and other objects to str"
        ) from exc
    return (text + "\n").encode("utf-8")


def document_from_bytes(data: bytes, *, path: str) -> Any:
    """Parse a JSON document; a parse failure is a :class:`CorruptArtifactError`."""
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptArtifactError(f"{path} is not valid JSON ({exc})") from exc


def _git(*args: str, cwd: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def environment_metadata() -> dict[str, Any]:
    """Versions of Python, torch, numpy and sacfolio and the git commit of the source.

    Returns
    -------
    dict
        ``python``, ``torch``, ``numpy``, ``sacfolio``, ``platform``, ``git_commit``
        (None when git or the repository is not available, e.g. an installed
        wheel) and ``git_dirty`` (None likewise). Never raises for a missing git.
    """
    source = Path(sacfolio.__file__).resolve().parent
    commit = _git("rev-parse", "HEAD", cwd=source)
    dirty = None
    if commit:
        status = _git("status", "--porcelain", "--untracked-files=no", cwd=source)
        dirty = None if status is None else bool(status)
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "sacfolio": sacfolio.__version__,
        "platform": platform.platform(),
        "git_commit": commit or None,
        "git_dirty": dirty,
    }


def _normalize(value: Any) -> Any:
    """JSON view of a value, so tuples compare equal to the lists a file holds."""
    return json.loads(json.dumps(value, allow_nan=True, default=str))


def _json_diff(model: Any, data: Any, where: str, out: list[str]) -> None:
    if isinstance(model, dict) and isinstance(data, dict):
        for key in sorted(set(model) | set(data), key=str):
            sub = f"{where}.{key}" if where else str(key)
            if key not in data:
                out.append(f"  {sub}: model has {model[key]!r}, data has nothing")
            elif key not in model:
                out.append(f"  {sub}: data has {data[key]!r}, model has nothing")
            else:
                _json_diff(model[key], data[key], sub, out)
    elif isinstance(model, list) and isinstance(data, list) and len(model) == len(data):
        for i, (a, b) in enumerate(zip(model, data)):
            _json_diff(a, b, f"{where}[{i}]", out)
    elif model != data and not (
        isinstance(model, float) and isinstance(data, float) and math.isnan(model) and math.isnan(data)
    ):
        out.append(f"  {where or 'value'}: model {model!r} != data {data!r}")


def _symbols_of(artifacts: ModelArtifacts) -> list[str] | None:
    doc = artifacts.documents.get("symbol_order.json")
    if isinstance(doc, Mapping):
        doc = doc.get("symbols")
    return None if doc is None else [str(s) for s in doc]


def check_layout(
    artifacts: ModelArtifacts,
    symbols: Sequence[str],
    state_layout: Any | None = None,
    *,
    layout_key: str = "state_layout",
    max_lines: int = 12,
) -> None:
    """Refuse to apply a model to data whose symbols or state layout differ.

    Parameters
    ----------
    artifacts : ModelArtifacts
        A loaded model; its ``symbol_order.json`` (a list, or ``{"symbols": [...]}``)
        and ``config.json[layout_key]`` are compared.
    symbols : sequence of str
        Symbol order of the data the model is about to see.
    state_layout : JSON-able, optional
        Layout of the state the data produces (e.g. block names and sizes); not
        compared when None.
    layout_key : str
        Key of the layout inside ``config.json``.
    max_lines : int
        At most this many difference lines in the message.

    Raises
    ------
    LayoutMismatchError
        With a line per difference: symbols missing on either side, the first
        position where the order differs, and each layout entry that differs.
        Nothing is reordered silently.
    """
    where = artifacts.version or "unsaved model"
    model_symbols = _symbols_of(artifacts)
    if model_symbols is None:
        raise LayoutMismatchError(f"model {where} has no symbol_order.json; cannot check the symbol order")
    lines: list[str] = []
    data_symbols = [str(s) for s in symbols]
    if model_symbols != data_symbols:
        missing = [s for s in model_symbols if s not in data_symbols]
        extra = [s for s in data_symbols if s not in model_symbols]
        if missing:
            lines.append(f"  symbols in the model but not in the data: {missing}")
        if extra:
            lines.append(f"  symbols in the data but not in the model: {extra}")
        if not missing and not extra:
            i = next(i for i, (a, b) in enumerate(zip(model_symbols, data_symbols)) if a != b)
            lines.append(
                f"  same symbols in another order: position {i} is {model_symbols[i]!r} in the "
                f"model and {data_symbols[i]!r} in the data"
            )
    if state_layout is not None:
        config = artifacts.documents.get("config.json")
        if not isinstance(config, Mapping) or layout_key not in config:
            lines.append(f"  config.json has no {layout_key!r} to compare with the data's layout")
        else:
            diff: list[str] = []
            _json_diff(_normalize(config[layout_key]), _normalize(state_layout), layout_key, diff)
            lines.extend(diff)
    if lines:
        shown = lines[:max_lines] + ([f"  ... {len(lines) - max_lines} more"] if len(lines) > max_lines else [])
        raise LayoutMismatchError(
            f"model {where} does not match the data:\n" + "\n".join(shown)
            + "\nRetrain on this universe or select the data the model was trained on."
        )
