"""Reports of a campaign: the status table, the end-of-run summary, and the HTML report.

``write_campaign_report(run_dir)`` writes ``RUN_DIR/report/report.html`` (self-contained,
figures inline) with the figures as PNG/PDF and each discovery as CIF/extxyz beside it; it only
reads the run, so it works while a campaign runs. ``write_benchmark_report(folder, output)``
renders ``benchmarks/results/*.json`` in the same style. The figure functions (``fig_*``
modules) are pure functions of arrays, usable from a notebook.
"""

from qaware.report.benchmarks import write_benchmark_report
from qaware.report.build import write_campaign_report

__all__ = ["write_benchmark_report", "write_campaign_report"]
