"""The report of a walk-forward run: files (HTML page, charts, CSV, JSON) and the terminal summary.

:mod:`.write` writes the files, :mod:`.page` builds the HTML, :mod:`.charts` the
figures, :mod:`.summary` prints the terminal tables, :mod:`.edge` computes the
bootstrap edge over 1/N, :mod:`.columns` holds what they share.
"""

from sacfolio.evaluate.report.edge import edge_summary
from sacfolio.evaluate.report.summary import print_summary, slice_since
from sacfolio.evaluate.report.write import ReportPaths, write_report

__all__ = ["ReportPaths", "edge_summary", "print_summary", "slice_since", "write_report"]
