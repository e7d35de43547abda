"""The analysis contract: state machines over summed statistics, and the tables a kind releases."""
import numpy as np
import pandas as pd

from fedcost.contract import Analysis, Tables, run_pooled


class MeanAnalysis(Analysis):
    """Round 1: sum and count of x; then done with the mean. Hospital slots: each site's own count."""

    kind = "mean"

    def prepare(self, frame, dictionary):
        return frame["x"].to_numpy(float)

    def initial_state(self, sites):
        return {"sites": sites}

    def statistics(self, block, state, site):
        own = np.zeros(state["sites"])
        own[site] = len(block)
        return np.r_[block.sum(), len(block), own]

    def advance(self, state, total):
        return {"done": True, "result": {"mean": total[0] / total[1], "per_site": total[2:].tolist()}}


def test_pooled_run_sums_statistics_across_hospitals():
    frames = [pd.DataFrame({"x": [1.0, 2.0]}), pd.DataFrame({"x": [3.0, 4.0, 5.0]})]
    out = run_pooled({"m": MeanAnalysis()}, frames)
    # by hand: (1 + 2 + 3 + 4 + 5) / 5 = 3; hospital slots 2 and 3 records
    assert out["results"]["m"] == {"mean": 3.0, "per_site": [2.0, 3.0]}
    assert out["rounds"]["m"] == 1 and out["total_rounds"] == 1


def test_tables_skip_a_missing_headline():
    t = Tables()
    t.kpi("ok", 1.5, "share", "a")
    t.kpi("nan", float("nan"), "share", "a")
    t.kpi("none", None, "share", "a")
    assert [k["metric"] for k in t.kpis] == ["ok"]
