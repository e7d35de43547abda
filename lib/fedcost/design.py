"""Design matrices from a formula, with categorical levels taken from the dictionary.

Every hospital must build the same columns in the same order, whatever levels
it happens to observe. So each categorical column is turned into a
`pd.Categorical` whose categories are the dictionary's full sorted code list
before patsy sees it: patsy (statsmodels' default formula engine) then names
columns exactly as statsmodels does (`C(drg_code)[T.FM11]`), with the first
code in sorted order as the reference level.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import patsy

from fedcost.dictionary import Dictionary
from fedcost.errors import UsageError

# Stateful transforms learn from the data they see: each hospital would learn
# different centres and scales, so the columns would not mean the same thing.
_STATEFUL = ("center(", "standardize(", "scale(", "bs(", "cr(", "cc(", "te(")


@dataclass
class Design:
    """One block of rows ready for the GLM statistics."""

    X: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    offset: np.ndarray
    columns: list[str]
    factor_slices: dict[str, tuple[int, int]]  # categorical main-effect terms -> column range
    n_dropped_missing: int

    @property
    def n(self) -> int:
        return self.X.shape[0]


def factor_codes(formula: str) -> list[str]:
    """The code of every factor of a formula (both sides), e.g. 'np.log(cost_total)', 'C(sex)'."""
    try:
        desc = patsy.ModelDesc.from_formula(formula)
    except patsy.PatsyError as exc:
        raise UsageError(f"cannot parse formula {formula!r}: {exc}") from None
    return [factor.code for side in (desc.lhs_termlist, desc.rhs_termlist) for term in side
            for factor in term.factors]


def formula_variables(formula: str, frame_columns) -> list[str]:
    """Columns of the frame that a formula mentions (used to check and to subset)."""
    codes = factor_codes(formula)
    return sorted({c for c in frame_columns for code in codes if _mentions(code, c)})


_FORMULA_NAMES = {"np", "numpy", "C", "I", "Q", "Treatment", "Sum", "Poly", "Diff", "Helmert", "log", "exp",
                  "sqrt", "abs", "center", "standardize", "scale", "bs", "cr", "cc", "te", "True", "False", "None",
                  "levels", "reference"}


def check_formula_fields(formula: str, dictionary: Dictionary) -> None:
    """Fail before any round if a formula names a column the dictionary does not define.

    Hospitals keep only dictionary fields, so such a column could never be
    found; saying so up front beats a NameError from every hospital.
    """
    import ast
    import builtins

    unknown = set()
    for code in factor_codes(formula):
        try:
            tree = ast.parse(code, mode="eval")
        except SyntaxError:
            continue
        unknown.update(node.id for node in ast.walk(tree)
                       if isinstance(node, ast.Name) and node.id not in dictionary.fields
                       and node.id not in _FORMULA_NAMES and not hasattr(builtins, node.id))
    if unknown:
        raise UsageError(f"formula {formula!r} uses {', '.join(sorted(unknown))}, not a field of data dictionary "
                         f"{dictionary.name} {dictionary.version}; its fields are: {', '.join(dictionary.fields)}")


def _mentions(code: str, column: str) -> bool:
    import re

    return re.search(rf"(?<![\w.]){re.escape(column)}(?!\w)", code) is not None


def prepare_frame(frame: pd.DataFrame, formula: str, dictionary: Dictionary | None,
                  extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """Columns the formula uses, categoricals with the dictionary's full level list."""
    if any(s in formula.replace(" ", "") for s in _STATEFUL):
        raise UsageError(f"formula {formula!r} uses a stateful transform (center, standardize, splines): "
                         "each hospital would transform its data differently; transform with fixed constants instead")
    used = formula_variables(formula, frame.columns) + [c for c in extra if c]
    missing = [c for c in extra if c and c not in frame.columns]
    if missing:
        raise UsageError(f"column(s) {', '.join(missing)} not found in the data")
    out = frame[list(dict.fromkeys(used))].copy()
    for col in out.columns:
        if _wrapped_in_c(formula, col) and not _is_dictionary_category(dictionary, col):
            out[col] = _integer_levels(out[col], col, dictionary)
        elif dictionary is not None and col in dictionary.fields and dictionary.fields[col].type == "category":
            levels = dictionary.levels(col)
            values = out[col].astype("object").where(out[col].notna(), None)
            out[col] = pd.Categorical(values, categories=levels)
        elif isinstance(out[col].dtype, pd.CategoricalDtype):
            continue
        elif out[col].dtype == object or isinstance(out[col].dtype, pd.StringDtype):
            raise UsageError(
                f"column {col} is text but not a category of the data dictionary: its levels would differ "
                "between hospitals; declare it as a category with a code list in the dictionary")
        elif isinstance(out[col].dtype, pd.BooleanDtype) or out[col].dtype == bool:
            out[col] = out[col].astype("float64")
        elif pd.api.types.is_extension_array_dtype(out[col].dtype):
            out[col] = out[col].astype("float64")  # nullable Int64 -> float with NaN for patsy
    return out


def _wrapped_in_c(formula: str, column: str) -> bool:
    import re

    return re.search(rf"\bC\(\s*{re.escape(column)}\s*[,)]", formula) is not None


def _is_dictionary_category(dictionary, column: str) -> bool:
    return dictionary is not None and column in dictionary.fields and dictionary.fields[column].type == "category"


def _integer_levels(values: pd.Series, column: str, dictionary) -> pd.Categorical:
    """C(x) of an integer field: levels min..max from the dictionary, the same at every hospital.

    patsy would take the levels a hospital happens to observe, so hospitals
    would build different columns; statsmodels' pooled names are kept because
    levels no hospital observed are dropped after the first round.
    """
    f = dictionary.fields.get(column) if dictionary is not None else None
    if f is None or f.type not in ("integer", "boolean") or (f.type == "integer" and (f.min is None or f.max is None)):
        raise UsageError(f"C({column}): {column} is not a category of the data dictionary, so its levels would "
                         "differ between hospitals; declare it as a category (with a code list) or as an integer "
                         "with min and max in the dictionary")
    lo, hi = (0, 1) if f.type == "boolean" else (int(f.min), int(f.max))
    if hi - lo > 500:
        raise UsageError(f"C({column}): the dictionary allows {hi - lo + 1} integer values; declare it as a category")
    numbers = pd.to_numeric(values, errors="coerce")
    return pd.Categorical(numbers.astype("Int64").astype(object).where(numbers.notna(), None),
                          categories=list(range(lo, hi + 1)))


def build_design(frame: pd.DataFrame, formula: str, dictionary: Dictionary | None = None,
                 weights: str | None = None, offset: str | None = None) -> Design:
    """Design matrix, response, prior weights and offset for one block of rows.

    Rows with a missing value in any used column are dropped, as statsmodels does.
    """
    data = prepare_frame(frame, formula, dictionary, extra=(weights or "", offset or ""))
    keep = pd.Series(True, index=data.index)
    for col in (weights, offset):
        if col:
            keep &= data[col].notna()
    data = data[keep]
    try:
        y, X = patsy.dmatrices(formula, data, NA_action="drop", return_type="dataframe")
    except patsy.PatsyError as exc:
        raise UsageError(f"formula {formula!r}: {exc}") from None
    if y.shape[1] != 1:
        raise UsageError(f"formula {formula!r}: the response must be one numeric column")
    rows = X.index
    n_dropped = len(frame) - len(rows)
    info = X.design_info
    slices = {}
    for term in info.terms:
        if len(term.factors) == 1 and info.factor_infos[term.factors[0]].type == "categorical":
            sl = info.slice(term)
            slices[term.name()] = (sl.start, sl.stop)
    w = data.loc[rows, weights].to_numpy(float) if weights else np.ones(len(rows))
    off = data.loc[rows, offset].to_numpy(float) if offset else np.zeros(len(rows))
    return Design(X=np.ascontiguousarray(X.to_numpy(float)), y=y.to_numpy(float).ravel(), weights=w, offset=off,
                  columns=list(X.columns), factor_slices=slices, n_dropped_missing=n_dropped)
