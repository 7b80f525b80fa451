"""Dependency doctor: required packages, the torch APIs sacfolio relies on, directories."""

from __future__ import annotations

import time
from pathlib import Path

from sacfolio.diagnostics.doctor import (_version_tuple, check_api, check_directory,
                                         check_package, failed, run_checks)


def test_this_installation_passes_every_required_check(tmp_path: Path) -> None:
    checks = run_checks(data_dir=tmp_path / "data", models_dir=tmp_path)
    assert failed(checks) == [], [(c.name, c.detail) for c in failed(checks)]
    names = {c.name for c in checks}
    assert {"python", "torch", "numpy", "gymnasium", "skfolio",
            "torch.utils._pytree.register_pytree_node", "torch.load",
            "data dir", "models dir"} <= names
    torch_check = next(c for c in checks if c.name == "torch")
    import torch
    assert torch_check.detail == torch.__version__
    assert any(c.name.startswith("extra:") and not c.required for c in checks)


def test_run_checks_is_cheap_once_imported() -> None:
    run_checks()
    start = time.perf_counter()
    run_checks()
    assert time.perf_counter() - start < 1.0


def test_missing_api_fails_with_the_fix() -> None:
    check = check_api("torch.utils._pytree.register_pytree_node_v0", fix="upgrade torch")
    assert not check.ok and check.required and check.fix == "upgrade torch"
    assert "register_pytree_node_v0" in check.detail
    assert not check_api("no_such_module_xyz.f", fix="install it").ok


def test_api_whose_probe_raises_fails() -> None:
    def probe() -> None:
        import torch
        torch.optim.Adam([torch.nn.Parameter(torch.ones(1))], lr=-1.0)

    check = check_api("torch.optim.Adam", probe=probe, fix="fix the call")
    assert not check.ok and "Invalid learning rate" in check.detail


def test_too_old_or_missing_package_fails() -> None:
    old = check_package("numpy", "numpy", (99, 0))
    assert not old.ok and old.fix == "pip install 'numpy>=99.0'"
    missing = check_package("no_such_pkg_xyz", "no-such-pkg", (1,))
    assert not missing.ok and missing.detail == "not installed"


def test_directory_checks(tmp_path: Path) -> None:
    assert check_directory("data dir", tmp_path).ok
    later = check_directory("data dir", tmp_path / "a" / "b")
    assert later.ok and "will be created" in later.detail
    assert not (tmp_path / "a").exists()  # the check creates nothing
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for path in (a_file, a_file / "sub"):
        check = check_directory("models dir", path)
        assert not check.ok and check.fix


def test_version_parsing() -> None:
    assert _version_tuple("2.13.0+cpu") == (2, 13, 0)
    assert _version_tuple("1.26.4") == (1, 26, 4)
    assert _version_tuple("0.29.0rc1") == (0, 29, 0)
    assert _version_tuple("2.2.0a0") == (2, 2, 0)
