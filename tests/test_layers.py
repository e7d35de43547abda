"""The architecture as a test: what each layer may import (at load time or inside a function).

data < contract < models < analyses < results | federation < engines < researcher < reporting/cli.
The maths knows nothing of Flower or crypto; reporting reads results and knows nothing of the
analyses' internals or the federation; no module imports another module's private names.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib" / "fedcost"
LAYERS = ("data", "models", "analyses", "results", "federation", "engines", "reporting", "cli")
FORBIDDEN = {
    "data": {"models", "analyses", "results", "federation", "engines", "reporting", "researcher", "cli", "flwr",
             "tenseal"},
    "contract": {"data", "models", "analyses", "results", "federation", "engines", "reporting", "researcher", "cli",
                 "flwr", "tenseal"},
    "models": {"analyses", "results", "federation", "engines", "reporting", "cli", "flwr", "tenseal"},
    "analyses": {"results", "federation", "engines", "reporting", "researcher", "cli", "flwr", "tenseal"},
    "results": {"federation", "engines", "reporting", "researcher", "cli", "flwr", "tenseal"},
    "federation": {"results", "engines", "reporting", "researcher", "cli", "flwr"},
    "engines": {"analyses", "results", "reporting", "researcher", "cli"},
    "reporting": {"data", "models", "analyses", "federation", "engines", "researcher", "cli", "flwr", "tenseal"},
}
# The one seam, documented in fedcost/models/__init__.py: the researcher's estimator can fit federated.
ALLOWED = {("models/glm.py", "researcher")}


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import in the file, at any depth."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module, [a.name for a in node.names]))
    return out


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] in ("flwr", "tenseal"):
        return parts[0]
    if parts[0] != "fedcost" or len(parts) < 2:
        return None
    return parts[1]


def files():
    return sorted(p for p in LIB.rglob("*.py"))


@pytest.mark.parametrize("path", files(), ids=lambda p: str(p.relative_to(LIB)))
def test_layer_rules(path):
    rel = path.relative_to(LIB)
    own = rel.parts[0] if len(rel.parts) > 1 else rel.stem
    forbidden = FORBIDDEN.get(own, set())
    bad = sorted({layer_of(m) for m, _ in imports(path)} & forbidden
                 - {layer for (f, layer) in ALLOWED if f == str(rel)})
    assert not bad, f"{rel} ({own}) imports {bad}"


@pytest.mark.parametrize("path", files(), ids=lambda p: str(p.relative_to(LIB)))
def test_no_private_names_across_modules(path):
    private = [f"{m}.{n}" for m, names in imports(path) if m.startswith("fedcost") for n in names
               if n.startswith("_") and n != "__version__"]
    assert not private, f"{path.relative_to(LIB)} imports private names {private}"


def test_the_maths_imports_no_flower_or_crypto_even_indirectly():
    import subprocess
    import sys

    code = ("import sys, fedcost.models.glm, fedcost.models.irls, fedcost.analyses.kinds; "
            "print(sorted(m for m in ('flwr', 'tenseal', 'fedcost.federation.crypto') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
