"""``python -m sacfolio.serve``: the same as ``sacfolio serve``."""

import sys

import typer

from sacfolio.exceptions import SacfolioError
from sacfolio.serve.command import serve_command


def main() -> None:
    """Run :func:`serve_command`; a user error exits 2 with its message."""
    try:
        typer.run(serve_command)
    except SacfolioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
