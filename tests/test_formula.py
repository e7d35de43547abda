"""Formulas are checked against a grammar at every hospital: injected code is refused and never runs.

Each hostile formula below tries to create a canary file. They are refused at
three depths: the grammar (`fedcost.models.formula.parse`), a hospital building its
design matrix (`build_design`, what runs next to the data), and an analysis
spec arriving from the wire (`Analysis.from_spec`). The canary must not exist
afterwards: a refusal that came after the code ran would still fail the test.
"""
from __future__ import annotations

import pandas as pd
import pytest

from fedcost.models import formula
from fedcost.models.design import build_design
from fedcost.errors import UsageError
from fedcost.analyses import kinds


def hostile(canary: str) -> list[str]:
    touch = f'__import__("os").system("touch {canary}")'
    return [
        f"cost_total ~ age + I({touch} * 0 + los)",                          # the reported hole
        f'cost_total ~ I(open("{canary}", "w"))',                              # builtin open
        f"cost_total ~ I(eval('{touch}'))",                                    # eval
        f'cost_total ~ I(exec("open(\'{canary}\', \'w\')"))',                  # exec
        f'cost_total ~ I((lambda: open("{canary}", "w"))())',                  # lambda
        f'cost_total ~ I([open("{canary}", "w") for _ in (1,)])',              # comprehension
        f'cost_total ~ I(sum(open("{canary}", "w") for _ in (1,)))',           # generator
        "cost_total ~ I(age.__class__.__mro__[1].__subclasses__())",           # dunder attributes
        f'cost_total ~ np.os.system("touch {canary}")',                        # attribute of np
        f'cost_total ~ I(getattr(np, "os").system("touch {canary}"))',         # getattr
        "cost_total ~ I(globals())",                                           # frames and globals
        "cost_total ~ I(__builtins__)",                                        # dunder name
        f'cost_total ~ np.save("{canary}", age)',                              # numpy outside the list
        f'cost_total ~ I(age if open("{canary}", "w") else los)',              # conditional expression
        f"cost_total ~ I(f\"{{open('{canary}', 'w')}}\")",                     # f-string
        f'{touch} ~ age',                                                      # left-hand side
        f'cost_total ~ C(drg_code, open("{canary}", "w"))',                    # extra argument to C
        "cost_total ~ I(age ** 10 ** 9)",                                      # CPU bomb
        'cost_total ~ I(x := 1)',                                              # assignment expression
        'cost_total ~ I(age)[0]',                                              # subscript
    ]


@pytest.fixture
def canary(tmp_path):
    path = tmp_path / "pwned"
    yield path
    assert not path.exists(), "injected code ran"


def frame():
    return pd.DataFrame({"cost_total": [100.0, 200.0, 300.0], "age": [30, 40, 50], "los": [1, 2, 3],
                         "drg_code": ["FM11", "FM11", "GS11"], "sex": ["F", "M", "F"]})


def test_the_grammar_refuses_every_injection(canary):
    formulas = hostile(str(canary))
    assert len(formulas) >= 10
    for f in formulas:
        with pytest.raises(UsageError, match="not allowed|not a field|cannot parse"):
            formula.parse(f, frame().columns)


def test_a_hospital_building_its_design_refuses_every_injection(canary, dictionary):
    for f in hostile(str(canary)):
        with pytest.raises(UsageError):
            build_design(frame(), f, dictionary)


def test_a_spec_from_the_wire_is_refused_before_any_data_is_touched(canary):
    for f in hostile(str(canary)):
        with pytest.raises(UsageError):
            kinds.from_spec({"kind": "glm", "formula": f, "family": "gaussian"})


def test_the_refusal_says_what_is_allowed():
    with pytest.raises(UsageError) as err:
        formula.parse('cost_total ~ I(open("x"))', ["cost_total"])
    assert "open" in str(err.value) and "allowed: fields of the data dictionary" in str(err.value)


def test_stateful_transforms_are_explained():
    with pytest.raises(UsageError, match="stateful"):
        formula.parse("cost_total ~ center(age)", ["cost_total", "age"])


def test_the_grammar_keeps_what_models_need(dictionary):
    f = ('np.log(cost_total) ~ age + I(age ** 2) + I(los * comorbidity_score) + np.log1p(los) + C(drg_code)'
         ' + age:los + I(sex == "F") + I(-age / 10) - 1')
    checked = formula.parse(f, dictionary.fields)
    assert checked.fields == ("age", "comorbidity_score", "cost_total", "drg_code", "los", "sex")
    assert checked.categorical == ("drg_code",)
    assert checked.response == ("cost_total",)
    df = frame().assign(comorbidity_score=[0, 1, 2])
    d = build_design(df, f, dictionary)
    assert "I(age ** 2)" in d.columns and "age:los" in d.columns
    assert d.X[:, d.columns.index("I(age ** 2)")].tolist() == [900.0, 1600.0, 2500.0]
    assert d.X[:, d.columns.index('I(sex == "F")[T.True]')].tolist() == [1.0, 0.0, 1.0]


def test_unknown_fields_are_listed():
    with pytest.raises(UsageError, match="uses agee, not a field"):
        formula.parse("cost_total ~ agee", ["cost_total", "age"])
