"""Where registry files live: a local directory or an fsspec URL (``s3://``, ``hf://``, ``memory://``).

Both stores offer the same few operations on paths relative to the registry root.
They differ in how a version becomes visible:

* local: files are written into ``<name>/.tmp-<version>-<pid>`` and the directory is
  renamed into place (atomic on one filesystem); ``current`` is replaced with
  ``os.replace``; writers of one name hold a file lock on ``<name>/.lock``.
* object stores: there is no rename of a prefix, so files are written in place and
  ``manifest.json`` is written last as the completion marker; a single-object put
  is atomic, which makes the ``current`` replacement atomic too. Object stores have
  no lock: run one writer per model name there (a training job or the service).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import filelock

from sacfolio.exceptions import RegistryError

__all__ = ["Store", "LocalStore", "FsspecStore", "open_store", "TEMP_PREFIX"]

#: Prefix of half-written version directories (local store).
TEMP_PREFIX = ".tmp-"

_EXTRAS = {
    "s3": "s3fs (pip install 'sacfolio[s3]')",
    "s3a": "s3fs (pip install 'sacfolio[s3]')",
    "hf": "huggingface_hub (pip install 'sacfolio[hf]')",
    "gs": "gcsfs (pip install gcsfs)",
    "gcs": "gcsfs (pip install gcsfs)",
    "az": "adlfs (pip install adlfs)",
    "abfs": "adlfs (pip install adlfs)",
}


class Store:
    """File operations on paths relative to a registry root (``"name/version/file"``)."""

    url: str
    #: True where versions are staged in a temp directory and renamed into place.
    stages_versions: bool = False

    def full(self, rel: str) -> str:
        """Absolute path or URL of ``rel``, for messages."""
        raise NotImplementedError

    def read_bytes(self, rel: str) -> bytes:
        """Content of a file; :class:`FileNotFoundError` when absent."""
        raise NotImplementedError

    def write_file(self, rel: str, data: bytes) -> None:
        """Write a new file (durably where the store allows it)."""
        raise NotImplementedError

    def replace_file(self, rel: str, data: bytes) -> None:
        """Replace a file atomically: readers see the old or the new content, never a mix."""
        raise NotImplementedError

    def append_line(self, rel: str, line: str) -> None:
        """Append one line of text (the caller holds the name's lock)."""
        raise NotImplementedError

    def exists(self, rel: str) -> bool:
        """Whether a file or directory exists."""
        raise NotImplementedError

    def list_dir(self, rel: str) -> list[str]:
        """Names of the entries directly under ``rel``; empty when it does not exist."""
        raise NotImplementedError

    def remove_tree(self, rel: str) -> None:
        """Delete a directory (or prefix) and everything under it."""
        raise NotImplementedError

    def lock(self, name: str, timeout: float) -> contextlib.AbstractContextManager[None]:
        """Exclusive writer lock of one model name."""
        raise NotImplementedError

    def stage(self, name: str, version: str) -> str:
        """Directory to write a new version into."""
        raise NotImplementedError

    def publish(self, staged: str, final: str) -> None:
        """Make a fully written staged version visible under ``final``."""
        raise NotImplementedError

    def write_version(self, name: str, version: str, files: Mapping[str, bytes],
                      on_file_written: Callable[[str], None] | None = None) -> None:
        """Write ``files`` in order (the last completes the version), staged, then publish.

        A failure removes the staged files and re-raises; ``on_file_written`` is called
        with each file name once it is written.
        """
        staged = self.stage(name, version)
        try:
            for fname, data in files.items():
                self.write_file(f"{staged}/{fname}", data)
                if on_file_written is not None:
                    on_file_written(fname)
            self.publish(staged, f"{name}/{version}")
        except OSError as exc:  # a full disk, a quota, a lost mount: nothing was saved
            self.remove_tree(staged)
            raise RegistryError(
                f"could not save version {version} of {name!r} under {self.full(name)}: "
                f"{exc.strerror or exc}; nothing was saved and the current version is unchanged"
            ) from exc
        except BaseException:
            self.remove_tree(staged)
            raise


class LocalStore(Store):
    """A registry in a local directory."""

    stages_versions = True

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser()
        self.url = str(self.root)

    def _p(self, rel: str) -> Path:
        return self.root / rel

    def full(self, rel: str) -> str:
        return str(self._p(rel))

    def read_bytes(self, rel: str) -> bytes:
        return self._p(rel).read_bytes()

    def write_file(self, rel: str, data: bytes) -> None:
        path = self._p(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    def replace_file(self, rel: str, data: bytes) -> None:
        path = self._p(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(path.parent)

    def append_line(self, rel: str, line: str) -> None:
        """Append with one ``write`` after cutting off a torn last line (a crashed append)."""
        path = self._p(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = (line.rstrip("\n") + "\n").encode("utf-8")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                tail = os.pread(fd, min(size, 1 << 20), max(0, size - (1 << 20)))
                os.ftruncate(fd, size - len(tail) + tail.rfind(b"\n") + 1)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)

    def exists(self, rel: str) -> bool:
        return self._p(rel).exists()

    def list_dir(self, rel: str) -> list[str]:
        path = self._p(rel)
        return sorted(p.name for p in path.iterdir()) if path.is_dir() else []

    def remove_tree(self, rel: str) -> None:
        path = self._p(rel)
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def lock(self, name: str, timeout: float) -> Iterator[None]:
        path = self._p(name) / ".lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        # An flock: the kernel releases it when the holder dies, even by SIGKILL.
        lock = filelock.FileLock(str(path), timeout=timeout)
        try:
            lock.acquire()
        except filelock.Timeout as exc:
            raise RegistryError(
                f"could not lock {path} within {timeout:g} s: another process is writing "
                f"model {name!r}; retry when it is done"
            ) from exc
        try:
            yield
        finally:
            lock.release()

    def stage(self, name: str, version: str) -> str:
        staged = f"{name}/{TEMP_PREFIX}{version}-{os.getpid()}"
        self._p(staged).mkdir(parents=True, exist_ok=False)
        return staged

    def publish(self, staged: str, final: str) -> None:
        src, dst = self._p(staged), self._p(final)
        _fsync_dir(src)
        if dst.exists():
            raise RegistryError(f"{dst} already exists; version ids must be unique")
        os.rename(src, dst)
        _fsync_dir(dst.parent)


def _fsync_dir(path: Path) -> None:
    """Persist a directory entry change (no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class FsspecStore(Store):
    """A registry under an fsspec URL (``s3://bucket/prefix``, ``hf://user/repo``, ``memory://x``)."""

    def __init__(self, url: str, fs: Any, base: str) -> None:
        self.url, self.fs, self.base = url, fs, base.rstrip("/")
        self._protocol = url.split("://", 1)[0]

    def _p(self, rel: str) -> str:
        return f"{self.base}/{rel}" if rel else self.base

    def full(self, rel: str) -> str:
        return f"{self._protocol}://{self._p(rel).lstrip('/')}"

    def read_bytes(self, rel: str) -> bytes:
        return self.fs.cat_file(self._p(rel))

    def write_file(self, rel: str, data: bytes) -> None:
        self.fs.pipe_file(self._p(rel), data)

    def replace_file(self, rel: str, data: bytes) -> None:
        self.fs.pipe_file(self._p(rel), data)  # one PUT: atomic on object stores

    def append_line(self, rel: str, line: str) -> None:
        try:
            old = self.read_bytes(rel)
        except FileNotFoundError:
            old = b""
        self.replace_file(rel, old + (line.rstrip("\n") + "\n").encode("utf-8"))

    def exists(self, rel: str) -> bool:
        self.fs.invalidate_cache(self._p(rel))
        return bool(self.fs.exists(self._p(rel)))

    def list_dir(self, rel: str) -> list[str]:
        path = self._p(rel)
        self.fs.invalidate_cache(path)
        try:
            entries = self.fs.ls(path, detail=False)
        except FileNotFoundError:
            return []
        return sorted({e.rstrip("/").rsplit("/", 1)[-1] for e in entries} - {""})

    def remove_tree(self, rel: str) -> None:
        try:
            self.fs.rm(self._p(rel), recursive=True)
        except FileNotFoundError:
            pass
        self.fs.invalidate_cache(self._p(rel))

    @contextlib.contextmanager
    def lock(self, name: str, timeout: float) -> Iterator[None]:
        yield  # object stores offer no lock; see the module docstring

    def stage(self, name: str, version: str) -> str:
        return f"{name}/{version}"

    def publish(self, staged: str, final: str) -> None:
        assert staged == final, (staged, final)  # written in place; the manifest completes it


def open_store(root: str | os.PathLike[str], storage_options: Mapping[str, Any] | None = None) -> Store:
    """The store for a registry root: a path (or ``file://``) is local, any other URL uses fsspec.

    Raises
    ------
    RegistryError
        The URL's protocol is unknown, or its fsspec implementation is not installed
        (the message names the package to install).
    """
    text = os.fspath(root)
    if "://" not in text:
        return LocalStore(text)
    protocol = text.split("://", 1)[0]
    if protocol in ("file", "local"):
        return LocalStore(text.split("://", 1)[1])
    import fsspec  # a core dependency; imported here to keep `import sacfolio` light

    try:
        fs, base = fsspec.core.url_to_fs(text, **dict(storage_options or {}))
    except ImportError as exc:
        need = _EXTRAS.get(protocol, f"the fsspec implementation of {protocol}://")
        raise RegistryError(f"registry root {text} needs {need}: {exc}") from exc
    except ValueError as exc:
        raise RegistryError(f"registry root {text}: {exc}") from exc
    return FsspecStore(text, fs, base)
