"""Bench e: federated rounds to convergence of a Gamma(log) cost GLM, counted in one run.

On the same synthetic hospitals (fedcost.data.synth), for the case-mix formula
(about 47 parameters) and a small one, it counts the rounds (one round = every
hospital sends one vector of sums and gets the total back) each method needs:

  fedcost local    GLMAnalysis as the federation runs it (start "local": each hospital
                   fits its own rows, then Newton steps with the observed information),
                   rounds as counted by fedcost.contract.run_prepared;
  fedcost naive    the same with start "naive" (mu0 = (y + ybar)/2, one WLS step, Newton);
  IRLS, R start    the federated IRLS of DataSHIELD's ds.glm / vantage6: each round every
                   hospital sends X'WX, X'Wz and its deviance at the current point and the
                   server takes one Fisher-scoring (expected information) step; round 1 is
                   at R's Gamma start mu = y; stop on R's rule |dev - dev_old| / (|dev| + 0.1)
                   < 1e-8 (the step of the last round is returned, as ds.glm does);
  IRLS, beta = 0   the same loop from ds.glm's literal start beta = 0 (no step halving);
  FedAvg E=k       each round every hospital takes k plain gradient steps on its mean
                   Gamma negative log-likelihood from the global coefficients, the server
                   averages them weighted by rows. Columns are standardised with the pooled
                   means and SDs, the intercept starts at log(ybar) (those moments would cost
                   one round, not counted). For Gamma(log) the expected Hessian per row is
                   the standardised Z'Z/N (no oracle needed); with its extreme eigenvalues
                   L and m the step c * 2/(L + m) is gradient descent's best constant step
                   (c = 1) on the quadratic model; c is the first of 1, 1/2, 1/4, 1/8 that does
                   not diverge. Stop when max_j |b_j - b_pooled_j| <= 1e-3 * max(|b_pooled_j|, se_j)
                   (original units, checked after every round); "> cap" if never reached.

The oracle is statsmodels GLM Gamma(log) on the concatenated rows. The error column is
max_j |b_j - b_pooled_j| / max(|b_pooled_j|, se_j), the README's precision measure.
Targets: fedcost local / IRLS (R start) <= 0.5, best FedAvg / fedcost local >= 10.

    .venv/bin/python bench/rounds.py [--hospitals 3] [--rows 20000] [--cap 5000] [--quick] [--json FILE]

--quick: 3000 rows per hospital and FedAvg E = 1, 5 (about 10 s); the default adds E = 2
(a few minutes: FedAvg runs that never converge run to the cap).
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

FORMULAS = {"casemix": "cost_total ~ age + los + comorbidity_score + C(drg_code) + C(hospital_level)",
            "small": "cost_total ~ age + los + C(sex)"}
TOL = 1e-8          # R's glm.control(epsilon)
FEDAVG_TOL = 1e-3   # FedAvg stops when max_j |b_j - b_pooled_j| <= FEDAVG_TOL * max(|b_pooled_j|, se_j): the
# precision measure of the other rows (in units of max(|b|, 1) an age coefficient of 0.005 would be met 20 % off)


def fedcost_fit(formula, frames, dictionary, start):
    from fedcost.contract import run_prepared
    from fedcost.models.irls import GLMAnalysis

    a = GLMAnalysis(formula, "gamma", start=start)
    blocks = [a.prepare(f, dictionary) for f in frames]
    out = run_prepared({"m": a}, {"m": blocks})
    res = out["results"]["m"]
    return out["rounds"]["m"], np.array([res["coef"][c] for c in res["columns"]]), res["columns"], blocks


def fisher_irls(blocks, kept, start, max_rounds=100):
    """Fisher scoring from per-hospital sums; one round per iteration. Returns (rounds, beta or None)."""
    from fedcost.models import statistics as st
    from fedcost.models.families import get_family

    fam, link = get_family("gamma")
    beta, dev_old = (None if start == "mu=y" else np.zeros(int(kept.sum()))), None
    for r in range(1, max_rounds + 1):
        xtwx, xtwz, dev = 0.0, 0.0, 0.0
        with np.errstate(all="ignore"):
            for d in blocks:
                X = d.X[:, kept]
                mu = d.y if beta is None else fam.clip_mu(link.inverse(X @ beta + d.offset))
                z, W = st.working_response(d, fam, link, mu)
                s = st.wls(X, z, W)
                xtwx, xtwz = xtwx + s["xtwx"], xtwz + s["xtwz"]
                dev += float((d.weights * fam.unit_deviance(d.y, mu)).sum())
        if not (np.isfinite(dev) and np.all(np.isfinite(xtwx)) and np.all(np.isfinite(xtwz))):
            return r, None  # diverged: ds.glm has no step halving
        beta = np.linalg.solve(xtwx, xtwz)
        if dev_old is not None and abs(dev - dev_old) / (abs(dev) + 0.1) < TOL:
            return r, beta
        dev_old = dev
    return max_rounds, None


def fedavg(blocks, kept, columns, b_ref, se_ref, local_steps, cap):
    """FedAvg rounds to FEDAVG_TOL. Returns (rounds or None if > cap, beta, step factor c, condition number L/m)."""
    from fedcost.models.families import get_family

    fam, link = get_family("gamma")
    Xs, ns = [d.X[:, kept] for d in blocks], np.array([d.n for d in blocks], float)
    N, icpt = ns.sum(), columns.index("Intercept")
    m = sum(X.sum(0) for X in Xs) / N
    s = np.sqrt(np.maximum(sum((X * X).sum(0) for X in Xs) / N - m * m, 0))
    m[icpt], s[icpt] = 0.0, 1.0
    s[s == 0] = 1.0
    Zs = [(X - m) / s for X in Xs]
    eig = np.linalg.eigvalsh(sum(Z.T @ Z for Z in Zs) / N)
    L, mu_min = eig[-1], max(eig[0], 1e-300)

    def to_beta(g):
        b = g / s
        b[icpt] = g[icpt] - np.delete(g * m / s, icpt).sum()
        return b

    tol = FEDAVG_TOL * np.maximum(np.abs(b_ref), se_ref)
    g0 = np.zeros(len(m))
    g0[icpt] = np.log(sum(d.y.sum() for d in blocks) / N)
    for c in (1.0, 0.5, 0.25, 0.125):
        g, lr, err0 = g0.copy(), c * 2 / (L + mu_min), np.max(np.abs(to_beta(g0) - b_ref) / tol)
        for r in range(1, cap + 1):
            new = np.zeros_like(g)
            with np.errstate(all="ignore"):
                for Z, d, n in zip(Zs, blocks, ns):
                    gk = g.copy()
                    for _ in range(local_steps):
                        eta = Z @ gk + d.offset
                        mu = fam.clip_mu(link.inverse(eta))
                        gk += lr * (Z.T @ (d.weights * (d.y - mu) * link.d1(eta) / fam.variance(mu))) / n
                    new += n / N * gk
            g = new
            err = np.max(np.abs(to_beta(g) - b_ref) / tol)
            if not np.isfinite(err) or err > 10 * err0:
                break  # diverged: try half the step
            if err <= 1:
                return r, to_beta(g), c, L / mu_min
        else:
            return None, to_beta(g), c, L / mu_min
    return None, to_beta(g), None, L / mu_min


def bench(formula, frames, dictionary, args, e_values):
    import statsmodels.api as sm

    r_local, b_local, cols, blocks = fedcost_fit(formula, frames, dictionary, "local")
    r_naive, b_naive, _, _ = fedcost_fit(formula, frames, dictionary, "naive")
    kept = np.array([c in cols for c in blocks[0].columns])
    X = np.vstack([d.X[:, kept] for d in blocks])
    ref = sm.GLM(np.concatenate([d.y for d in blocks]), X,
                 family=sm.families.Gamma(sm.families.links.Log())).fit(maxiter=200)
    b_ref, se_ref = np.asarray(ref.params), np.asarray(ref.bse)

    def err(b):
        return None if b is None else float(np.max(np.abs(b - b_ref) / np.maximum(np.abs(b_ref), se_ref)))

    rows = [("fedcost, start local (Newton, observed information)", r_local, err(b_local), ""),
            ("fedcost, start naive (Newton, observed information)", r_naive, err(b_naive), "")]
    r_irls, b_irls = fisher_irls(blocks, kept, "mu=y")
    rows.append(("federated IRLS (Fisher scoring), R start mu = y", r_irls if b_irls is not None else None,
                 err(b_irls), "" if b_irls is not None else "did not converge"))
    r0, b0 = fisher_irls(blocks, kept, "beta=0")
    rows.append(("federated IRLS (Fisher scoring), ds.glm start beta = 0", r0 if b0 is not None else None,
                 err(b0), "" if b0 is not None else f"diverged (non-finite deviance in round {r0})"))
    best, kappa = None, None
    for e in e_values:
        r, b, c, kappa = fedavg(blocks, kept, cols, b_ref, se_ref, e, args.cap)
        note = f"step {c:g} x 2/(L+m)" if c else "diverged at every step size"
        rows.append((f"FedAvg, E = {e} local gradient step(s)", r, err(b), note if r else f"> cap ({note})"))
        if r is not None:
            best = r if best is None else min(best, r)
    print(f"\n{formula}\n  {len(cols)} parameters, {len(blocks)} hospitals, {sum(d.n for d in blocks):,} rows, "
          f"condition number of standardised Z'Z/N: {kappa:.0f}")
    print(f"  {'method':<58}{'rounds':>8}  {'max|db|/max(|b|,se)':>20}")
    for name, r, e, note in rows:
        rs = str(r) if r is not None else (f">{args.cap}" if name.startswith("FedAvg") else "-")
        es = f"{e:.1e}" if e is not None else "-"
        print(f"  {name:<58}{rs:>8}  {es:>20}  {note}")
    ratio1 = r_local / r_irls if b_irls is not None else None
    fed = best if best is not None else args.cap
    ratio2 = fed / r_local
    print(f"  fedcost rounds / federated IRLS rounds: {r_local}/{r_irls} = "
          + (f"{ratio1:.2f} (target <= 0.5) {'PASS' if ratio1 <= 0.5 else 'MISS'}" if ratio1 else "n/a"))
    print(f"  FedAvg rounds / fedcost rounds: {'' if best else '>'}{fed}/{r_local} = {'' if best else '>'}"
          f"{ratio2:.0f}x (target >= 10) {'PASS' if ratio2 >= 10 else 'MISS'}")
    return {"formula": formula, "parameters": len(cols), "condition_number": kappa,
            "methods": [{"method": n, "rounds": r, "max_rel_diff": e, "note": t} for n, r, e, t in rows],
            "ratio_fedcost_over_irls": ratio1, "ratio_fedavg_over_fedcost": ratio2,
            "fedavg_reached": best is not None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hospitals", type=int, default=3)
    ap.add_argument("--rows", type=int, default=None, help="rows per hospital (default 20000, 3000 with --quick)")
    ap.add_argument("--cap", type=int, default=5000, help="most FedAvg rounds")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--quick", action="store_true", help="3000 rows per hospital, FedAvg E = 1 and 5 only")
    ap.add_argument("--json", type=Path, help="write the figures to this file")
    args = ap.parse_args()
    rows = args.rows or (3000 if args.quick else 20000)
    e_values = (1, 5) if args.quick else (1, 2, 5)

    from fedcost.data.dictionary import Dictionary
    from fedcost.data.synth import write
    from fedcost.data.validation import load_valid

    d = Dictionary.load()
    with tempfile.TemporaryDirectory() as tmp:
        write(Path(tmp), args.hospitals, rows, args.seed)
        frames = [load_valid(p, d) for p in sorted(Path(tmp).glob("H*.csv"))]
    print(f"rounds to convergence, Gamma(log) GLM: {args.hospitals} hospitals x {rows:,} rows (seed {args.seed})")
    out = {name: bench(f, frames, d, args, e_values) for name, f in FORMULAS.items()}
    if args.json:
        args.json.write_text(json.dumps({"hospitals": args.hospitals, "rows": rows, "cap": args.cap, **out},
                                        indent=2))


if __name__ == "__main__":
    main()
