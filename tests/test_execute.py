"""Executing report notebooks with papermill: parameters, the audit copy, kernels, failures."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from fedcost.errors import UsageError
from fedcost.reporting.execute import NotebookExecutionError, execute, resolve_kernel

sys.path.insert(0, str(Path(__file__).parent))
from reader import notebook_errors, write_notebook  # noqa: E402

pytestmark = pytest.mark.slow  # each test starts a Jupyter kernel


def _tiny(tmp_path, fail=False):
    return write_notebook(tmp_path / "nb" / "_tiny.ipynb", [
        ("code", 'lang = "en"\nanswer = 1', ["parameters"]),
        ("code", "#| label: the-answer\nprint('answer', answer * 2, lang)"),
        ("code", "#| label: may-fail\nif answer < 0:\n    raise ValueError('negative answer')" if fail
         else "x = 1"),
        ("code", "print('done')"),
    ], front_matter='title: "Tiny"')


def test_parameters_reach_the_notebook_and_the_audit_copy_is_kept(tmp_path):
    nb = _tiny(tmp_path)
    out = execute(nb, {"answer": 21, "lang": "zh"}, tmp_path / "out")
    assert out == tmp_path / "out" / "tiny.zh.ipynb"
    data = json.loads(out.read_text(encoding="utf-8"))
    tags = [c["metadata"].get("tags", []) for c in data["cells"]]
    assert ["injected-parameters"] in tags
    printed = "".join("".join(o.get("text", "")) for c in data["cells"] for o in c.get("outputs", []))
    assert "answer 42 zh" in printed
    assert data["metadata"]["papermill"]["parameters"] == {"answer": 21, "lang": "zh"}
    assert notebook_errors(out) == []


def test_a_failing_cell_is_named_in_a_clear_error(tmp_path):
    nb = _tiny(tmp_path, fail=True)
    with pytest.raises(NotebookExecutionError) as err:
        execute(nb, {"answer": -1}, tmp_path / "out")
    msg = str(err.value)
    assert "code cell 3 of 4" in msg and "may-fail" in msg
    assert "ValueError: negative answer" in msg
    assert "Traceback" not in msg
    assert err.value.executed.is_file()            # the executed copy keeps the traceback
    assert notebook_errors(err.value.executed)[0]["ename"] == "ValueError"


def test_installed_kernelspecs_work_too(tmp_path):
    """papermill's default `python3` kernelspec of the venv (and `fedcost`, which `make` installs)."""
    from jupyter_client.kernelspec import KernelSpecManager
    specs = KernelSpecManager().find_kernel_specs()
    names = [n for n in ("python3", "fedcost") if n in specs]
    if not names:
        pytest.skip("no python3/fedcost kernelspec installed")
    nb = _tiny(tmp_path)
    for name in names:
        out = execute(nb, {"answer": 5}, tmp_path / name, kernel_name=name)
        assert notebook_errors(out) == []


def test_default_kernel_runs_this_interpreter():
    from jupyter_client.kernelspec import KernelSpecManager
    name = resolve_kernel()
    spec = KernelSpecManager().get_kernel_spec(name)
    assert spec.argv[0] == sys.executable


def test_unknown_kernel_and_missing_notebook_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="no Jupyter kernel named 'nope'"):
        resolve_kernel("nope")
    with pytest.raises(UsageError, match="no such notebook"):
        execute(tmp_path / "missing.ipynb", {}, tmp_path)
