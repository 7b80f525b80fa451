"""``python -m sacfolio.cli``: the same as the ``sacfolio`` command."""

from sacfolio.cli.app import main

main()
