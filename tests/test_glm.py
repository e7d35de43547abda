"""The researcher's estimator: GLM(...).fit(frames) and its results' summary."""
from __future__ import annotations

import pandas as pd

from fedcost.models.glm import GLM
from oracle import statsmodels_fit


def test_summary_names_the_baseline_when_the_reference_level_is_absent(hospital_paths, dictionary):
    """Reported: with no primary hospital the summary said secondary was 'Dropped (no data)' (4,966 rows)."""
    frames = [pd.read_csv(p) for p in hospital_paths]
    frames = [f.assign(hospital_level=f["hospital_level"].replace("primary", "secondary")) for f in frames]
    formula = "cost_total ~ age + los + C(hospital_level)"
    model = GLM(formula, family="gamma", dictionary=dictionary).fit(frames)
    ref = statsmodels_fit(formula, "gamma", pd.concat(frames, ignore_index=True))
    assert list(model.results_.params.index) == list(ref.params.index)  # statsmodels' own baseline
    text = model.results_.summary()
    assert "Baseline level: C(hospital_level) = secondary" in text
    assert ("Dropped: C(hospital_level)[T.secondary] (baseline: the reference level primary has no records, "
            "so secondary is the level the others are compared with)") in text
    assert "no data" not in text
    assert model.results_.result["baselines"] == {"C(hospital_level)": "secondary"}


def test_summary_states_the_usual_baseline(hospital_paths, dictionary):
    frames = [pd.read_csv(p) for p in hospital_paths]
    text = GLM("cost_total ~ age + C(sex)", family="gamma", dictionary=dictionary).fit(frames).results_.summary()
    assert f"Baseline level: C(sex) = {dictionary.levels('sex')[0]}" in text and "Dropped" not in text
