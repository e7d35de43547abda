"""Formulas are parsed against a small grammar, never run as arbitrary Python.

patsy evaluates every factor of a formula (``np.log(cost_total)``,
``C(drg_code)``) as Python code, with Python's builtins in reach. A formula
comes from whoever submits a study and is evaluated at every hospital, next to
the data, so ``I(__import__("os").system(...))`` would run there. Each hospital
therefore parses every factor with :mod:`ast` and checks it against the grammar
below before patsy sees it; anything else is refused with the reason. patsy
then evaluates the checked code in an environment that holds only the allowed
numpy functions (a second fence, not the first).

Grammar of one factor (patsy's own formula syntax, ``~ + - : * ( ) 0 1``,
joins factors and is parsed by patsy without evaluating anything)::

    factor := C(field) | expr
    expr   := field | number | np.F(expr) | I(arith)
    arith  := arith OP arith | -arith | arith CMP constant | field | number | np.F(arith)
    OP     := + - * /  |  ** with a literal exponent of at most 10 in size
    F      := log log1p log2 log10 exp expm1 sqrt abs square

where ``field`` is a column the data dictionary defines (or, without a
dictionary, a column of the frame) and ``np`` may be spelled ``numpy``.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import patsy
import patsy.builtins
import pandas as pd

from fedcost.errors import UsageError

NUMPY_FUNCTIONS = ("log", "log1p", "log2", "log10", "exp", "expm1", "sqrt", "abs", "square")
# Each hospital would learn its own centres, scales and knots: the columns would differ.
STATEFUL = ("center", "standardize", "scale", "bs", "cr", "cc", "te")
MAX_FORMULA_CHARS = 4000  # the longest real formula here is ~120; a bound stops pathological input early
MAX_EXPONENT = 10  # I(x ** 2) is a model term; I(x ** 10 ** 9) is a way to burn a hospital's CPU

_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_COMPARE = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)

def _categorical(data, contrast=None, levels=None):
    """patsy's C(), but a pandas categorical without a contrast or levels goes to patsy as it is.

    patsy codes a C(...)-wrapped column value by value in Python (its pandas fast path sees only the
    bare column): 2.4 s of a 1M-row design's 3.5 s. The dictionary has already given the column its
    full level list (`design.prepare_frame`), so the levels and the column names are the same.
    """
    if contrast is None and levels is None and isinstance(getattr(data, "dtype", None), pd.CategoricalDtype):
        return data
    return patsy.builtins.C(data, contrast, levels)


# What patsy may look up when it evaluates a checked factor (patsy adds I and the contrasts itself).
_SAFE_NUMPY = SimpleNamespace(**{name: getattr(np, name) for name in NUMPY_FUNCTIONS})
EVAL_ENV = patsy.EvalEnvironment([{"np": _SAFE_NUMPY, "numpy": _SAFE_NUMPY, "C": _categorical}])

ALLOWED_HELP = ("allowed: fields of the data dictionary, numbers, C(field), "
                f"np.{{{','.join(NUMPY_FUNCTIONS)}}}(...), I(...) of + - * / ** and comparisons over fields "
                "and numbers, and patsy's ~ + - : * ( ) 0 1")


@dataclass(frozen=True)
class Formula:
    """A checked formula: the text patsy gets and what it uses."""

    text: str
    fields: tuple[str, ...]        # every field named, both sides, sorted
    categorical: tuple[str, ...]   # fields wrapped in C(), sorted
    response: tuple[str, ...]      # fields on the left-hand side


def parse(formula: str, fields=None) -> Formula:
    """Check ``formula`` against the grammar with ``fields`` as the known columns; raise UsageError.

    With ``fields=None`` only the grammar is checked (an estimator built before
    it knows its data); every hospital checks again with its dictionary.
    """
    if not isinstance(formula, str) or not formula.strip():
        raise UsageError("the formula is empty")
    if len(formula) > MAX_FORMULA_CHARS:
        raise UsageError(f"the formula has {len(formula)} characters; at most {MAX_FORMULA_CHARS} are accepted")
    try:
        desc = patsy.ModelDesc.from_formula(formula)
    except patsy.PatsyError as exc:
        raise UsageError(f"cannot parse formula {formula!r}: {exc}") from None
    known = set(fields) if fields is not None else None
    used, categorical, response, unknown = set(), set(), set(), set()
    for side, terms in (("lhs", desc.lhs_termlist), ("rhs", desc.rhs_termlist)):
        for term in terms:
            for factor in term.factors:
                checker = _FactorChecker(formula, factor.code, known)
                checker.check()
                used |= checker.names
                unknown |= checker.unknown
                categorical |= checker.categorical
                if side == "lhs":
                    response |= checker.names
    if unknown:
        raise UsageError(f"formula {formula!r} uses {', '.join(sorted(unknown))}, not a field of the data "
                         f"dictionary; its fields are: {', '.join(sorted(known or ()))}")
    return Formula(formula, tuple(sorted(used)), tuple(sorted(categorical)), tuple(sorted(response)))


class _FactorChecker:
    """Walks one factor's syntax tree; every node must be one the grammar allows."""

    def __init__(self, formula: str, code: str, known: set[str] | None):
        self.formula, self.code, self.known = formula, code, known
        self.names: set[str] = set()
        self.unknown: set[str] = set()
        self.categorical: set[str] = set()

    def refuse(self, why: str):
        raise UsageError(f"formula {self.formula!r}: {self.code!r} is not allowed ({why}); {ALLOWED_HELP}")

    def check(self) -> None:
        try:
            tree = ast.parse(self.code.strip(), mode="eval")
        except SyntaxError:
            self.refuse("not an expression")
        node = tree.body
        if _call_name(node) == "C":
            if len(node.args) != 1 or node.keywords or not isinstance(node.args[0], ast.Name):
                self.refuse("C() takes exactly one field, e.g. C(drg_code)")
            self.field(node.args[0])
            self.categorical.add(node.args[0].id)
            return
        self.expr(node, inside_i=False)

    def field(self, node: ast.Name) -> None:
        if node.id.startswith("_"):
            self.refuse(f"the name {node.id} starts with an underscore")
        (self.names if self.known is None or node.id in self.known else self.unknown).add(node.id)

    def expr(self, node: ast.AST, inside_i: bool) -> None:
        if isinstance(node, ast.Name):
            return self.field(node)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                self.refuse(f"the constant {node.value!r} is not a number")
            return None
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name in STATEFUL:
                self.refuse(f"{name}() is a stateful transform: each hospital would transform its data "
                            "differently; transform with fixed constants instead")
            if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
                self.refuse("a function takes exactly one argument")
            if name == "I" and not inside_i:
                return self.expr(node.args[0], inside_i=True)
            if name in NUMPY_FUNCTIONS and _is_numpy_attribute(node.func):
                return self.expr(node.args[0], inside_i)
            self.refuse(f"the call {ast.unparse(node.func)}() is not one of C, I, np.{'/'.join(NUMPY_FUNCTIONS)}")
        if inside_i and isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            if isinstance(node.op, ast.Pow):
                self.exponent(node.right)
                return self.expr(node.left, inside_i)
            self.expr(node.left, inside_i)
            return self.expr(node.right, inside_i)
        if inside_i and isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return self.expr(node.operand, inside_i)
        if inside_i and isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], _COMPARE):
            self.expr(node.left, inside_i)
            right = node.comparators[0]
            if isinstance(right, ast.Constant) and isinstance(right.value, str):
                return None  # a code of a category field: I(sex == "F")
            return self.expr(right, inside_i)
        what = type(node).__name__
        self.refuse(f"{what} is outside the formula grammar" if not inside_i or what not in ("BinOp", "UnaryOp")
                    else "operator outside + - * / **")

    def exponent(self, node: ast.AST) -> None:
        value = node.operand if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) else node
        if not (isinstance(value, ast.Constant) and isinstance(value.value, (int, float))
                and not isinstance(value.value, bool) and abs(value.value) <= MAX_EXPONENT):
            self.refuse(f"an exponent must be a literal number of at most {MAX_EXPONENT} in size")


def _call_name(node: ast.AST) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _is_numpy_attribute(func: ast.AST) -> bool:
    return (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            and func.value.id in ("np", "numpy"))
