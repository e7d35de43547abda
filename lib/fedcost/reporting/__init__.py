"""Policy reports: parameterised notebooks executed by papermill, rendered to HTML and PDF.

- `execute.execute(notebook, params, out_dir) -> Path`: run a notebook (papermill), keep the
  executed copy (the audit copy) in out_dir.
- `render.render(executed, out_dir, formats=("html", "pdf"), lang=None) -> {fmt: Path}`: quarto if
  on PATH, else the embedded pandoc + typst renderer.
- `build.build_reports(params, out_dir, notebooks=...)`: both, for several notebooks and languages,
  atomically, with an index page (what `fedcost report` runs).
- `theme`: the figure theme; `plots` and `charts`: the standard figures; `view`, `findings`,
  `panels`, `format` (with `content` as the notebooks' one import); `tables.md_table`: tables for notebooks;
  `i18n`: labels in English and Chinese; `fonts`: CJK font discovery.

Submodules are imported lazily: a notebook importing `fedcost.reporting.theme` pays for nothing else.

Reporting reads results (`fedcost.results`, through `view.StudyView`) and must
not import the data side, the models, the analyses, the federation or the
engines: every statistic it shows was computed by an analysis kind.
"""
from __future__ import annotations

import importlib

__all__ = ["build_reports", "load_params", "md_table", "apply_theme"]

# (`execute` and `render` are submodules: `from fedcost.reporting.execute import execute`)
_LAZY = {
    "build_reports": ("fedcost.reporting.build", "build_reports"),
    "load_params": ("fedcost.reporting.build", "load_params"),
    "md_table": ("fedcost.reporting.tables", "md_table"),
    "apply_theme": ("fedcost.reporting.theme", "apply_theme"),
}


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'fedcost.reporting' has no attribute {name!r}")
