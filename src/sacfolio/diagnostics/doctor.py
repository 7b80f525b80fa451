"""Dependency doctor: is this installation able to train and serve?

An earlier system's agent was silently disabled for weeks because the installed
torch lacked ``torch.utils._pytree.register_pytree_node``; the error was logged
once at start-up and the system carried on without its model. The doctor checks, in well under a
second once the libraries are imported, that every required library imports at a
supported version, that the torch APIs sacfolio relies on exist and work, and that
the data and model directories are usable; each problem comes with the command that
fixes it. Optional extras are listed for information only. ``sacfolio doctor``
(:mod:`sacfolio.cli.doctor`) prints these checks; ``GET /health`` reports them.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import io
import re
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

__all__ = [
    "Check",
    "OPTIONAL_EXTRAS",
    "REQUIRED_PACKAGES",
    "check_api",
    "check_directory",
    "check_package",
    "failed",
    "run_checks",
]

#: Required distributions: (import name, distribution name, minimum version, import it?).
#: Importing catches import-time failures (a torch missing an API); heavy ones are only looked up.
REQUIRED_PACKAGES: tuple[tuple[str, str, tuple[int, ...], bool], ...] = (
    ("torch", "torch", (2, 2), True),
    ("numpy", "numpy", (1, 26), True),
    ("gymnasium", "gymnasium", (0, 29), True),
    ("skfolio", "skfolio", (0, 7), False),
    ("pandas", "pandas", (2, 1), False),
    ("scipy", "scipy", (1, 11), False),
)
#: Optional extras: (import name, pip extra or package that provides it, what it enables).
OPTIONAL_EXTRAS: tuple[tuple[str, str, str], ...] = (
    ("yfinance", "sacfolio[yfinance]", "downloading prices from Yahoo Finance"),
    ("huggingface_hub", "sacfolio[hf]", "pushing and pulling models on the Hugging Face Hub"),
    ("s3fs", "sacfolio[s3]", "model registry on S3"),
    ("transformers", "transformers", "FinBERT news sentiment"),
    ("stable_baselines3", "stable-baselines3", "comparing against Stable-Baselines3 agents"),
)


@dataclass(frozen=True, kw_only=True)
class Check:
    """Result of one check.

    Attributes
    ----------
    name : str
    ok : bool
    detail : str
        What was found (a version, a path, the error).
    fix : str
        What to do when ``ok`` is False (empty when ok).
    required : bool
        False for informational checks: they never fail the doctor.
    """

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def _version_tuple(text: str) -> tuple[int, ...]:
    """Leading numeric components of a version string: ``"2.13.0+cpu" -> (2, 13, 0)``."""
    parts = []
    for piece in text.split("."):
        m = re.match(r"\d+", piece)
        if not m:
            break
        parts.append(int(m.group()))
        if m.end() != len(piece):
            break
    return tuple(parts)


def check_python(minimum: tuple[int, int] = (3, 11)) -> Check:
    """Python interpreter version."""
    found = sys.version_info[:3]
    text = ".".join(map(str, found))
    ok = found[:2] >= minimum
    return Check(name="python", ok=ok, detail=text,
                 fix="" if ok else f"Install Python >= {'.'.join(map(str, minimum))} "
                                   "and recreate the virtual environment.")


@lru_cache(maxsize=None)
def check_package(module: str, dist: str, minimum: tuple[int, ...], do_import: bool = True
                  ) -> Check:
    """A required package: installed, importable (if ``do_import``), at ``minimum`` or newer.

    Cached: a package that imported once keeps importing in this process.
    """
    want = ".".join(map(str, minimum))
    fix = f"pip install '{dist}>={want}'"
    if importlib.util.find_spec(module) is None:
        return Check(name=dist, ok=False, detail="not installed", fix=fix)
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    if do_import:
        try:
            mod = importlib.import_module(module)
        except Exception as err:  # any import-time failure is the finding itself
            return Check(name=dist, ok=False,
                         detail=f"{version}: import fails: {type(err).__name__}: {err}",
                         fix=f"pip install --force-reinstall '{dist}>={want}'")
        version = str(getattr(mod, "__version__", version))
    if _version_tuple(version) < minimum:
        return Check(name=dist, ok=False, detail=f"{version} (need >= {want})", fix=fix)
    return Check(name=dist, ok=True, detail=version)


def check_api(dotted: str, *, fix: str, probe: Callable[[], None] | None = None,
              required: bool = True) -> Check:
    """An attribute path (``"torch.utils._pytree.register_pytree_node"``) exists and works.

    Parameters
    ----------
    dotted : str
        Module path followed by attribute names.
    fix : str
        Shown when the check fails.
    probe : callable, optional
        Exercises the API; any exception it raises fails the check.
    required : bool
    """
    parts = dotted.split(".")
    obj: object = None
    error = ""
    for i in range(len(parts), 0, -1):  # longest importable module prefix
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError as err:
            error = f"{type(err).__name__}: {err}"
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return Check(name=dotted, ok=False, detail=f"{type(obj).__name__} "
                             f"{getattr(obj, '__name__', '?')} has no attribute {attr!r}",
                             fix=fix, required=required)
            obj = getattr(obj, attr)
        break
    else:
        return Check(name=dotted, ok=False, detail=error, fix=fix, required=required)
    if probe is not None:
        try:
            probe()
        except Exception as err:  # the failing call is the finding
            return Check(name=dotted, ok=False, detail=f"{type(err).__name__}: {err}",
                         fix=fix, required=required)
    return Check(name=dotted, ok=True, detail="works" if probe else "present", required=required)


def check_directory(name: str, path: Path | str) -> Check:
    """A directory exists (or can be created) and a file can be written in it.

    Nothing is created: a missing directory is fine when its nearest existing
    ancestor is a writable directory. An existing directory is tested by writing
    and deleting a temporary file in it.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        return Check(name=name, ok=False, detail=f"{path} exists and is not a directory",
                     fix=f"Remove or rename {path}, or point sacfolio at another directory.")
    probe_dir = path
    while not probe_dir.exists():
        probe_dir = probe_dir.parent
    if not probe_dir.is_dir():
        return Check(name=name, ok=False, detail=f"{probe_dir} (ancestor of {path}) is not a "
                     "directory", fix=f"Choose a {name} path under a directory.")
    try:
        with tempfile.NamedTemporaryFile(dir=probe_dir, prefix=".sacfolio-doctor-"):
            pass
    except OSError as err:
        return Check(name=name, ok=False, detail=f"{probe_dir} is not writable: {err.strerror}",
                     fix=f"chmod u+w {probe_dir}, or choose another {name}.")
    detail = str(path) if probe_dir == path else f"{path} (will be created in {probe_dir})"
    return Check(name=name, ok=True, detail=detail)


def _probe_fused_adam() -> None:
    import torch
    p = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.Adam([p], lr=1e-3, fused=True)
    p.grad = torch.ones(2)
    opt.step()


def _probe_weights_only_load() -> None:
    import torch
    buf = io.BytesIO()
    torch.save({"w": torch.arange(3.0)}, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)
    if not torch.equal(loaded["w"], torch.arange(3.0)):
        raise RuntimeError("round trip changed the tensor")


def _api_checks() -> list[Check]:
    upgrade = "pip install --upgrade 'torch>=2.2'"
    return [
        check_api("torch.utils._pytree.register_pytree_node",
                  fix=f"{upgrade} (without it pytorch-forecasting and the agent "
                      "fail to initialize)."),
        check_api("torch.load", probe=_probe_weights_only_load,
                  fix=f"{upgrade}: artifacts are loaded with weights_only=True, never unpickled."),
        check_api("torch.optim.Adam", probe=_probe_fused_adam, required=False,
                  fix="pip install --upgrade 'torch>=2.4' for fused Adam on CPU (about 19% of "
                      "update time); training falls back to the foreach implementation."),
        check_api("torch._foreach_lerp_", required=False,
                  fix=f"{upgrade}; the target-network update falls back to a per-tensor loop."),
    ]


@lru_cache(maxsize=1)
def _cached_api_checks() -> tuple[Check, ...]:
    return tuple(_api_checks())


def _optional_checks() -> list[Check]:
    out = []
    for module, source, purpose in OPTIONAL_EXTRAS:
        present = importlib.util.find_spec(module) is not None
        out.append(Check(name=f"extra: {module}", ok=present, required=False,
                         detail=("installed" if present else "not installed") + f" ({purpose})",
                         fix="" if present else f"pip install '{source}'"))
    return out


def run_checks(data_dir: Path | str | None = None, models_dir: Path | str | None = None
               ) -> list[Check]:
    """Run every check; cheap enough (< 1 s after the first call) for ``/health``.

    Parameters
    ----------
    data_dir, models_dir : Path or str, optional
        Directories to check for use; not checked when None.

    Returns
    -------
    list of Check
        Python, required packages, torch APIs, directories, then optional extras.
    """
    checks = [check_python()]
    checks += [check_package(m, d, v, imp) for m, d, v, imp in REQUIRED_PACKAGES]
    torch_ok = checks[1].ok
    if torch_ok:
        checks += list(_cached_api_checks())
    else:
        checks.append(Check(name="torch APIs", ok=False, detail="skipped: torch unusable",
                            fix=checks[1].fix))
    if data_dir is not None:
        checks.append(check_directory("data dir", data_dir))
    if models_dir is not None:
        checks.append(check_directory("models dir", models_dir))
    checks += _optional_checks()
    return checks


def failed(checks: list[Check]) -> list[Check]:
    """The required checks that did not pass."""
    return [c for c in checks if c.required and not c.ok]
