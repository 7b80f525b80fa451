"""The package layout holds: imports point one way, serving reaches a model only
through ``model/``, and modules and functions stay small enough to read.

The order is the data flow of the architecture section in the README: a package
may import the packages before it in :data:`LAYERS`, never one after it.
``sacfolio.exceptions`` sits below everything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "sacfolio"

LAYERS = ("data", "broker", "strategies", "features", "env", "agents", "model", "diagnostics",
          "train", "evaluate", "registry", "workflows", "paper", "serve", "cli")
"""Bottom (imported by all above it) to top (imports what it needs, imported by none)."""

BASE = {"exceptions", "__init__", "__main__"}
"""Top-level modules: ``exceptions`` anyone may import; the package root and
``__main__`` sit above the layers (``__main__`` only starts the CLI)."""

SERVE_FORBIDDEN = ("sacfolio.agents.sac", "sacfolio.agents.ppo", "sacfolio.train")
"""Serving acts through a :mod:`sacfolio.model` bundle, never through a learner."""

SERVE_WORKFLOW_MODULES = {"serve/worker.py"}
"""The one serve module that may run a workflow: the training-job process."""

ONLY = {
    "registry": ("evaluate",),
    "evaluate": ("data", "broker", "strategies", "features", "env", "agents", "model"),
}
"""Packages narrower than the order allows: the registry is generic storage (it scores
versions with evaluate's metrics and knows no learner, env or features); evaluation
runs fixed policies and never trains."""

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


def _module_name(path: Path, root: Path = SRC) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["sacfolio", *parts])


def _imports(path: Path, root: Path = SRC) -> list[tuple[int, str]]:
    """Every ``sacfolio.*`` module ``path`` imports, lazily inside functions too."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = _module_name(path, root)
    is_pkg = path.name == "__init__.py"
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "sacfolio"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".") if is_pkg else here.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "sacfolio":
                continue
            if target == "sacfolio":  # from sacfolio import x: x is a package or module
                found += [(node.lineno, f"sacfolio.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, target))
                found += [(node.lineno, f"{target}.{a.name}") for a in node.names
                          if (SRC / Path(*target.split(".")[1:]) / a.name).exists()
                          or (SRC / Path(*target.split(".")[1:]) / f"{a.name}.py").exists()]
    return found


def _level(package: str) -> int | None:
    if package in LAYERS:
        return LAYERS.index(package)
    return None


def import_violations(root: Path = SRC) -> list[str]:
    """Imports that point the wrong way, as ``file:line imports target (why)``."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        pkg = path.relative_to(root).parts[0].removesuffix(".py")
        for line, target in _imports(path, root):
            tpkg = target.split(".")[1] if target.count(".") else "__init__"
            if tpkg == pkg or tpkg in BASE:
                continue
            own, other = _level(pkg), _level(tpkg)
            if pkg in ("__init__", "__main__"):
                continue
            if own is None:
                problems.append(f"{rel}:{line} is outside the layers {LAYERS} (move it into one)")
                continue
            if other is None:
                problems.append(f"{rel}:{line} imports {target}, which is outside the layers")
            elif other > own:
                problems.append(f"{rel}:{line} imports {target}: {pkg}/ may not import {tpkg}/ "
                                f"(above it)")
            if pkg in ONLY and tpkg not in ONLY[pkg] and other is not None and other < own:
                problems.append(f"{rel}:{line} imports {target}: {pkg}/ may import only "
                                f"{', '.join(ONLY[pkg])} of the packages below it")
            if pkg == "serve":
                if any(target == f or target.startswith(f + ".") for f in SERVE_FORBIDDEN):
                    problems.append(f"{rel}:{line} imports {target}: serving goes through model/")
                if tpkg == "workflows" and rel not in SERVE_WORKFLOW_MODULES:
                    problems.append(f"{rel}:{line} imports {target}: only the job worker runs workflows")
    return problems


def test_imports_point_one_way():
    problems = import_violations()
    assert not problems, "imports against the layer order:\n" + "\n".join(problems)


def test_the_checker_catches_an_upward_import(tmp_path):
    """The checker is not vacuous: an env module importing agents is reported."""
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "bad.py").write_text("from sacfolio.agents.sac import SAC\n")
    (tmp_path / "serve").mkdir()
    (tmp_path / "serve" / "bad.py").write_text("def f():\n    from sacfolio.train import loop\n")
    (tmp_path / "registry").mkdir()
    (tmp_path / "registry" / "bad.py").write_text("import sacfolio.agents.sac\n")
    problems = import_violations(tmp_path)
    assert any("env/bad.py:1" in p and "agents" in p for p in problems)
    assert any("registry/bad.py:1" in p and "may import only" in p for p in problems)
    assert any("serve/bad.py:2" in p and "through model/" in p for p in problems)


@pytest.mark.parametrize("path", _modules(), ids=_rel)
def test_module_is_small(path: Path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{_rel(path)} has {lines} lines; split it by concept"


def _body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from ``def`` to the function's last line, its docstring not counted."""
    total = node.end_lineno - node.lineno + 1
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        total -= first.end_lineno - first.lineno + 1
    return total


@pytest.mark.parametrize("path", _modules(), ids=_rel)
def test_functions_fit_a_screen(path: Path):
    tree = ast.parse(path.read_text())
    long = [f"{n.name} ({_body_lines(n)} lines, line {n.lineno})" for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and _body_lines(n) > MAX_FUNCTION_LINES]
    assert not long, f"{_rel(path)}: functions over {MAX_FUNCTION_LINES} lines: {', '.join(long)}"
