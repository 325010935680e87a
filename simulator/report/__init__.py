"""``simulate report``: what a finished run made, and how close it is to the real population.

``tables`` reads the run's tables (Parquet or CSV) with DuckDB; ``targets`` measures the
published targets of ``modules/targets.csv`` (shared with ``bench/module_targets.py``);
``sections/`` build the five sections from them; ``charts`` draws, ``page`` writes the HTML
page, the PNGs and ``report.json``; ``command`` is the command line. See docs/report.md.
"""
