"""Benchmarks: speed and memory ratios measured in one run (never timed unit tests).

Prints, for the same synthetic rows:
  * pooled Gamma GLM: fedcost's IRLS vs statsmodels (time ratio, equal estimates),
  * one hospital's statistics + CKKS encryption per round, and the coordinator's add,
  * the federated fit in-process (real CKKS, no Flower) per round.
Round latency over real Flower processes: bench/round_latency.py.

    .venv/bin/python bench/run.py [--rows 200000]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def timed(fn, repeat=1):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000, help="rows per hospital (3 hospitals)")
    ap.add_argument("--quick", action="store_true", help="20,000 rows per hospital")
    args = ap.parse_args()
    if args.quick:
        args.rows = 20_000

    import pandas as pd
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    from fedcost.models import statistics as st
    from fedcost.federation.crypto import PUBLIC_FILE, SECRET_FILE, PublicKeys, SecretKeys, init_keys
    from fedcost.models.design import build_design
    from fedcost.data.dictionary import Dictionary
    from fedcost.models.families import get_family
    from fedcost.researcher import run_study
    from fedcost.models.glm import GLM
    from fedcost.models.irls import GLMAnalysis
    from fedcost.data.synth import write
    from fedcost.data.validation import load_valid

    formula = "cost_total ~ age + los + comorbidity_score + C(drg_code) + C(hospital_level)"
    d = Dictionary.load()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write(tmp / "data", 3, args.rows, 11)
        paths = sorted((tmp / "data").glob("H*.csv"))
        frames = [load_valid(p, d) for p in paths]
        pooled = pd.concat(frames, ignore_index=True)
        n = len(pooled)
        print(f"rows: {n:,} (3 hospitals), formula: {formula}")

        t_ours, ours = timed(lambda: GLM(formula, "gamma").fit(frames).results_)
        t_sm, ref = timed(lambda: smf.glm(formula, pooled.assign(**{c: pooled[c].astype(str) for c in
                                                                   ("drg_code", "hospital_level")}),
                                          family=sm.families.Gamma(sm.families.links.Log())).fit())
        diff = np.max(np.abs(ours.params - ref.params[ours.params.index]) / np.abs(ref.params[ours.params.index]))
        print(f"pooled Gamma GLM: fedcost {t_ours:.2f}s, statsmodels {t_sm:.2f}s, "
              f"ratio statsmodels/fedcost {t_sm / t_ours:.1f}x, max rel diff {diff:.1e}")

        init_keys(tmp / "keys")
        sec, pub = SecretKeys.load(tmp / "keys" / SECRET_FILE), PublicKeys.load(tmp / "keys" / PUBLIC_FILE)
        fam, link = get_family("gamma")
        des = build_design(frames[0], formula, d)
        beta = np.asarray(list(ours.params.reindex(des.columns).fillna(0.0)))
        t_stat, point = timed(lambda: st.glm_point(des, fam, link, beta, None), repeat=3)
        vec = st.point_layout(len(beta)).pack(**point)
        t_enc, chunks = timed(lambda: sec.encrypt(vec), repeat=3)
        t_add, _ = timed(lambda: pub.add([chunks, chunks, chunks]), repeat=3)
        t_dec, _ = timed(lambda: sec.decrypt(chunks, len(vec)), repeat=3)
        print(f"one round at one hospital ({des.n:,} rows, {len(vec)} values, {len(chunks)} ciphertext(s), "
              f"{sum(map(len, chunks)):,} bytes): statistics {t_stat * 1e3:.0f} ms, encrypt {t_enc * 1e3:.0f} ms, "
              f"decrypt {t_dec * 1e3:.0f} ms; coordinator add of 3: {t_add * 1e3:.0f} ms")
        print(f"ratio statistics/encryption per round: {t_stat / t_enc:.1f}x")

        t_fed, study = timed(lambda: run_study({"m": GLMAnalysis(formula, "gamma")}, paths, engine="local",
                                               workdir=tmp / "run"))
        r = study.output["messages"]
        print(f"federated fit in-process (real CKKS, no Flower): {t_fed:.1f}s for {r} messages "
              f"({t_fed / r:.2f}s per round), {study.output['rounds']} rounds vs statsmodels "
              f"{ref.fit_history['iteration']} iterations")


if __name__ == "__main__":
    main()
