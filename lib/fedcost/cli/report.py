"""`fedcost report`: execute the report notebooks with parameters and render HTML + PDF."""
from __future__ import annotations

import argparse

DESCRIPTION = """\
Execute each report notebook (notebooks/NAME.ipynb) with papermill, using the
parameters in --params, and render it to a self-contained HTML page and an A4
PDF, in each language asked for (en, zh). DIR gets, per report and language,
NAME.LANG.html, NAME.LANG.pdf and NAME.LANG.ipynb (the executed notebook: the
audit copy with the parameters and every output), plus index.html listing
every report in DIR and reports.json.

Rendering uses `quarto` when it is on PATH, else the embedded renderer
(pandoc + typst; no LaTeX needed). Reports in Chinese need a CJK font
(e.g. apt-get install fonts-noto-cjk).

Everything is made in a staging folder and moved into DIR only when all
reports succeeded: a failure leaves DIR as it was.

The parameters file is YAML; every key is passed to every notebook, except
  lang: en | zh | [en, zh]     report language(s) (default en)
  notebooks: [NAME, ...]       notebooks to run when --notebook is not given
  per_notebook: {NAME: {...}}  parameters for one notebook only
Relative paths in keys ending in _dir, _file, _path or _folder are taken
from the parameters file's folder."""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="execute report notebooks and render HTML + PDF with an index",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", required=True, metavar="FILE", help="parameters YAML file")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    p.add_argument("--notebook", action="append", metavar="NAME", default=None,
                   help="notebook to run: a name in the notebooks folder or a path to an .ipynb "
                        "(repeatable; default: the params file's `notebooks`, else every notebook there)")
    p.add_argument("--lang", action="append", choices=("en", "zh"), default=None,
                   help="report language (repeatable; default: the params file's `lang`, else en)")
    p.add_argument("--format", action="append", choices=("html", "pdf"), default=None, dest="formats",
                   help="output format (repeatable; default both)")
    p.add_argument("--notebooks-dir", metavar="DIR", default=None,
                   help="folder of report notebooks (default: the project's notebooks/)")
    p.add_argument("--kernel", metavar="NAME", default=None,
                   help="Jupyter kernel to execute with (default: this Python environment)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from fedcost.errors import UsageError
    from fedcost.reporting.build import build_reports, load_params

    params = load_params(args.params)
    if args.notebooks_dir and not Path(args.notebooks_dir).is_dir():
        raise UsageError(f"{args.notebooks_dir}: no such notebooks folder")
    built = build_reports(params, args.out, notebooks=args.notebook, languages=args.lang,
                          formats=tuple(args.formats or ("html", "pdf")), notebooks_dir=args.notebooks_dir,
                          kernel_name=args.kernel, progress=lambda m: print(m, flush=True))
    print("written:")
    for rep in built:
        for fmt in ("html", "pdf", "ipynb"):
            if fmt in rep.files:
                print(f"  {rep.files[fmt]}")
    print(f"  {Path(args.out) / 'index.html'}")
    return 0
