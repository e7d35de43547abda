"""Run a parameterised report notebook with papermill.

    executed = execute("notebooks/policy_report.ipynb", {"lang": "zh", "results_dir": "..."}, out_dir)

The executed notebook (`out_dir/<name>.<lang>.ipynb`, with the parameters
papermill injected and every output) is the audit copy kept beside the
rendered report. A failing cell raises `NotebookExecutionError` naming the
cell (its `#| label:` or first line) and the error; the executed copy with the
full traceback is still written, for whoever debugs it.

Kernel: by default the notebook runs in *this* interpreter's environment,
through a private kernelspec for `sys.executable` made in a temporary folder
(whatever kernelspecs the user has lying around). `kernel_name=` or
$FEDCOST_KERNEL picks an installed one instead, e.g. the `fedcost` kernel
`make` installs (`python -m ipykernel install --sys-prefix --name fedcost`)
or the venv's `python3`.
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
import threading
from pathlib import Path

from fedcost.errors import FedcostError, UsageError
from fedcost.files import write_text
from fedcost.reporting.i18n import normalise_lang

PRIVATE_KERNEL = "fedcost-current"


class NotebookExecutionError(FedcostError):
    """A report notebook failed while executing; `.cell`, `.ename`, `.evalue`, `.executed` say where."""

    def __init__(self, message: str, *, notebook: Path, cell: int | None = None, label: str | None = None,
                 ename: str | None = None, evalue: str | None = None, executed: Path | None = None):
        super().__init__(message)
        self.notebook, self.cell, self.label = notebook, cell, label
        self.ename, self.evalue, self.executed = ename, evalue, executed


def _private_kernelspec() -> str:
    """A kernelspec for sys.executable in a temporary JUPYTER_PATH entry (this process only)."""
    root = Path(tempfile.gettempdir()) / f"fedcost-kernels-{os.getuid() if hasattr(os, 'getuid') else 'u'}"
    kdir = root / "kernels" / PRIVATE_KERNEL
    kdir.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                     "--IPKernelApp.log_level=ERROR"],
            "display_name": "fedcost (current interpreter)", "language": "python",
            "metadata": {"debugger": False}}
    text = json.dumps(spec, indent=1)
    target = kdir / "kernel.json"
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        write_text(target, text)  # atomic: concurrent report runs never read half a file
    paths = os.environ.get("JUPYTER_PATH", "")
    if str(root) not in paths.split(os.pathsep):
        os.environ["JUPYTER_PATH"] = os.pathsep.join([str(root)] + ([paths] if paths else []))
    return PRIVATE_KERNEL


def resolve_kernel(kernel_name: str | None = None) -> str:
    """The kernel to run report notebooks: `kernel_name`, $FEDCOST_KERNEL, or (default) a private
    kernelspec running this very interpreter, so the report sees the same fedcost whatever
    kernelspecs (`python3`, `fedcost`, a user's own) point elsewhere."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    name = kernel_name or os.environ.get("FEDCOST_KERNEL")
    if not name:
        return _private_kernelspec()
    ksm = KernelSpecManager()
    try:
        ksm.get_kernel_spec(name)
    except NoSuchKernel:
        raise UsageError(f"no Jupyter kernel named {name!r}; installed: "
                         f"{', '.join(sorted(ksm.find_kernel_specs())) or 'none'}") from None
    return name


def output_name(notebook: Path, lang: str) -> str:
    """'notebooks/_example_report.ipynb', 'zh' -> 'example_report.zh' (Quarto skips names starting '_')."""
    return f"{notebook.stem.lstrip('_') or notebook.stem}.{lang}"


def _cell_label(source: str) -> str:
    m = re.search(r"^#\|\s*label:\s*(\S+)", source, flags=re.M)
    if m:
        return m.group(1)
    for line in source.splitlines():
        if line.strip() and not line.startswith("#|"):
            return line.strip()[:70]
    return "empty cell"


def execute(notebook: str | Path, params: dict | None, out_dir: str | Path, *, name: str | None = None,
            kernel_name: str | None = None, timeout: int = 900, cwd: str | Path | None = None) -> Path:
    """Execute `notebook` with `params` (papermill) and write the executed copy into `out_dir`.

    params["lang"] (default 'en') names the output `<stem>.<lang>.ipynb` unless `name` is given.
    cwd: working folder of the kernel (default: the notebook's folder). timeout: seconds per cell.
    Returns the executed notebook's path; raises NotebookExecutionError naming the failing cell.
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    nb_path = Path(notebook)
    if not nb_path.is_file():
        raise UsageError(f"{nb_path}: no such notebook")
    params = dict(params or {})
    lang = normalise_lang(params.get("lang"))
    params.setdefault("lang", lang)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    executed = out / f"{name or output_name(nb_path, lang)}.ipynb"
    kernel = resolve_kernel(kernel_name)
    for logger in ("papermill", "papermill.translators", "traitlets", "nbclient"):
        logging.getLogger(logger).setLevel(logging.ERROR)
    _quiet_debugger(+1)
    try:
        papermill.execute_notebook(
            str(nb_path), str(executed), parameters=params, kernel_name=kernel, language="python",
            progress_bar=False, log_output=False, cwd=str(cwd or nb_path.parent.resolve()),
            execution_timeout=timeout, start_timeout=120)
    except PapermillExecutionError as exc:
        source = exc.source or ""
        try:
            # papermill puts an error banner cell at the top of the copy: find the cell by its count
            nb = nbformat.read(executed, as_version=4)
            code_cells = [c for c in nb.cells if c.cell_type == "code"
                          and "injected-parameters" not in c.metadata.get("tags", [])]
            hit = next(i for i, c in enumerate(code_cells)
                       if (exc.exec_count is not None and c.get("execution_count") == exc.exec_count)
                       or (exc.exec_count is None and c.source == source))
            number = f"code cell {hit + 1} of {len(code_cells)}"
        except Exception:  # noqa: BLE001 - describe as well as we can
            number = f"cell {exc.cell_index}"
        label = _cell_label(source)
        evalue = str(exc.evalue).strip().splitlines()[0] if str(exc.evalue).strip() else ""
        raise NotebookExecutionError(
            f"{nb_path.name}: {number} ({label}) failed: {exc.ename}: {evalue}\n"
            f"  the executed copy with the full traceback: {executed}",
            notebook=nb_path, cell=exc.cell_index, label=label, ename=exc.ename, evalue=evalue,
            executed=executed) from None
    except FedcostError:
        raise
    except Exception as exc:  # noqa: BLE001 - kernel start, unreadable notebook, ...
        msg = f"{type(exc).__name__}: {exc}".strip()
        if "kernel" in msg.lower():
            msg += ("; is ipykernel installed in this environment? "
                    "(`python -m ipykernel install --sys-prefix --name fedcost`)")
        raise NotebookExecutionError(f"{nb_path.name}: could not execute: {msg}", notebook=nb_path,
                                     executed=executed if executed.exists() else None) from None
    finally:
        _quiet_debugger(-1)
    return executed


_QUIET = {"count": 0, "backup": None}
_QUIET_LOCK = threading.Lock()


def _quiet_debugger(step: int) -> None:
    """Set PYDEVD_DISABLE_FILE_VALIDATION (quiets the debugger's frozen-modules note in the kernel) while any
    notebook runs, and restore it after the last: reports execute in parallel threads."""
    with _QUIET_LOCK:
        if step > 0 and _QUIET["count"] == 0:
            _QUIET["backup"] = os.environ.get("PYDEVD_DISABLE_FILE_VALIDATION")
            os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
        _QUIET["count"] += step
        if step < 0 and _QUIET["count"] == 0:
            if _QUIET["backup"] is None:
                os.environ.pop("PYDEVD_DISABLE_FILE_VALIDATION", None)
            else:
                os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = _QUIET["backup"]


def notebook_errors(path: str | Path) -> list[dict]:
    """Error outputs in an executed notebook: [{'cell': index, 'ename': ..., 'evalue': ...}]."""
    import nbformat
    nb = nbformat.read(str(path), as_version=4)
    errs = []
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if o.get("output_type") == "error":
                errs.append({"cell": i, "ename": o.get("ename"), "evalue": o.get("evalue")})
    return errs
