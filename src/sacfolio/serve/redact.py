"""What a job's log tail and error may show a client: no tracebacks, and no absolute paths
outside the registry home (a warning's ``/usr/lib/python3/site-packages/...`` says where and
how the service is installed)."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

__all__ = ["scrub"]

_PATH = re.compile(r"""(?<![\w.~:/-])/[^\s"'<>|,;()\[\]{}]+""")
_TRACE_START = "Traceback (most recent call last):"


def _without_tracebacks(text: str) -> str:
    """Drop each traceback's header and indented frame lines (the exception line stays)."""
    out: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.strip().startswith(_TRACE_START) or line.strip().startswith("During handling of the above"):
            inside = True
            continue
        if inside and (not line.strip() or line.startswith((" ", "\t")) or line.strip() in ("^", "~")):
            continue
        inside = False
        out.append(line)
    return "\n".join(out)


def scrub(text: str | None, home: str | None) -> str | None:
    """``text`` without tracebacks and with absolute paths outside ``home`` cut to ``.../<file>``."""
    if not text:
        return text
    root = str(PurePosixPath(home)) if home and home.startswith("/") else None

    def shorten(match: re.Match[str]) -> str:
        path = match.group()
        if root is not None and (path == root or path.startswith(root.rstrip("/") + "/")):
            return path
        return ".../" + path.rstrip("/").rsplit("/", 1)[-1]

    return _PATH.sub(shorten, _without_tracebacks(text))
