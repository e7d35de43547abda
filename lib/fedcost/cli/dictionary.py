"""`fedcost dictionary show|render|init`: read, publish and draft data dictionaries.

Why: the dictionary is the contract between hospitals; people need to read
it (show), publish it with reports in English and Chinese (render), and start
their own from a table they already have (init).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from fedcost.errors import UsageError
from fedcost.cli.groups import command_group

EXIT_CODES = """\
exit codes:
  0  done
  1  bad input (an unreadable dictionary or data file)
  2  usage error (no such folder/file, a bad option, a non-empty --out without --force)
"""


def register(subparsers) -> None:
    sub = command_group(subparsers, "dictionary", "show, render or draft a data dictionary",
                        "Work with data dictionaries (a folder with dictionary.yaml "
                                          "and codes/*.csv).", epilog=EXIT_CODES)

    show = sub.add_parser("show", help="print a dictionary in the terminal", epilog=EXIT_CODES,
                          formatter_class=argparse.RawDescriptionHelpFormatter,
                          description="Print every field (type, unit, required, range or codes, "
                                      "description), the code lists and the rules.")
    show.add_argument("dir", metavar="DIR", nargs="?", default=None,
                      help="dictionary folder (default: the project's data_dictionary/)")
    show.add_argument("--lang", choices=("en", "zh", "both"), default="both",
                      help="language of descriptions (default both)")
    show.set_defaults(func=run_show)

    render = sub.add_parser("render", help="write the dictionary as a Markdown or HTML page", epilog=EXIT_CODES,
                            formatter_class=argparse.RawDescriptionHelpFormatter,
                            description="Render every field, code list (the DRG list with weights), rule and "
                                        "the version to a readable page. The format follows --out's "
                                        "extension; the file is written to a temporary file and renamed.")
    render.add_argument("dir", metavar="DIR", nargs="?", default=None,
                        help="dictionary folder (default: the project's data_dictionary/)")
    render.add_argument("--out", metavar="FILE", required=True, help="output file ending in .md or .html")
    render.add_argument("--lang", choices=("en", "zh", "both"), default="both",
                        help="en, zh, or both side by side (default both)")
    render.set_defaults(func=run_render)

    init = sub.add_parser("init", help="draft a dictionary from a CSV or Parquet file", epilog=EXIT_CODES,
                          formatter_class=argparse.RawDescriptionHelpFormatter,
                          description="Infer a draft dictionary from a table: types (integer, number, date, "
                                      "category when <= 50 distinct values and fewer than half the rows, "
                                      "string), observed ranges widened by 10%% of their width (dates: whole "
                                      "years), code lists in codes/*.csv, required = no missing values, "
                                      "descriptions 'TODO: describe'. The draft validates the source file; "
                                      "edit it before use.")
    init.add_argument("--from", dest="source", metavar="FILE", required=True, help="the CSV or Parquet file")
    init.add_argument("--out", metavar="DIR", required=True, help="folder to write (must be empty or new)")
    init.add_argument("--name", metavar="N", default=None, help="dictionary name (default: the file's stem)")
    init.add_argument("--encoding", metavar="ENC", default=None, help="text encoding of a CSV (default: detect)")
    init.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
    init.set_defaults(func=run_init)


def _load(folder):
    from fedcost.data.dictionary import Dictionary
    if folder is not None and not Path(folder).is_dir():
        raise UsageError(f"{folder}: no such dictionary folder")
    return Dictionary.load(folder)


def run_show(args) -> int:
    from fedcost.data.dictionary_render import render_text
    print(render_text(_load(args.dir), args.lang), end="")
    return 0


def run_render(args) -> int:
    from fedcost.data.dictionary_render import render_file
    if Path(args.out).suffix.lower() not in (".md", ".html", ".htm"):
        raise UsageError(f"--out {args.out}: must end in .md or .html")
    d = _load(args.dir)
    out = render_file(d, args.out, args.lang)
    print(f"wrote {out} ({d.name} {d.version}, {args.lang})")
    return 0


def run_init(args) -> int:
    from fedcost.cli.validate import exit_if_command
    return exit_if_command(_run_init(args))


def _run_init(args) -> int:
    from fedcost.data.dictionary_draft import write_draft
    from fedcost.data.readers import check_path
    check_path(args.source)
    d = write_draft(args.source, args.out, name=args.name, encoding=args.encoding, force=args.force)
    kinds = {}
    for f in d.fields.values():
        kinds[f.type] = kinds.get(f.type, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    print(f"wrote draft dictionary {d.name} to {args.out}: {len(d.fields)} fields ({summary}), "
          f"{len(d.code_lists)} code lists, {len(d.rules)} rules. Edit the TODO descriptions before use.")
    return 0
