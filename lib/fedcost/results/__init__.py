"""One results model: what a study released, with its run's metadata, in memory and in a results folder.

- ``study``: ``StudyResult``, the single study-result class. The analyses fill
  it (each kind's ``tables``), ``fedcost run``/``demo`` write it, the report
  notebooks read it, and its canonical JSON is what digests are taken of.
- ``folder``: the results folder on disk (Parquet + CSV per table,
  ``results.json``, ``manifest.json``), written atomically.

May import analyses (their kinds own their tables), never the federation,
engines or reporting.
"""
from fedcost.results.study import StudyResult

__all__ = ["StudyResult"]
