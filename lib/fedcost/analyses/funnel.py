"""Funnel-plot statistics (Spiegelhalter 2005) of ratios such as a hospital's observed/expected cost.

Pure functions of the ratios and their null standard errors: the benchmark
analysis computes them once when it finishes, and the tables, findings and
charts read what it released.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

Z95, Z998 = float(sps.norm.ppf(0.975)), float(sps.norm.ppf(0.999))


def flag(z: float) -> str:
    """Where an over-dispersion adjusted z-score lies: within, alert (95%) or alarm (99.8%), high or low."""
    if z > Z998:
        return "alarm_high"
    if z > Z95:
        return "alert_high"
    if z < -Z998:
        return "alarm_low"
    if z < -Z95:
        return "alert_low"
    return "within"


def adjusted_se(s, mode: str, tau2: float, phi_hat: float) -> np.ndarray:
    """A null standard error widened for over-dispersion: additive random effect ('random':
    sqrt(s^2 + tau^2)), multiplicative (s sqrt(phi_hat)), or unchanged ('none')."""
    s = np.asarray(s, float)
    if mode == "random":
        return np.sqrt(s ** 2 + tau2)
    if mode == "multiplicative":
        return s * math.sqrt(phi_hat)
    return s


def funnel_statistics(ratio, s, mode: str = "random", target: float = 1.0) -> dict:
    """Spiegelhalter (2005) funnel quantities for ratios with null standard errors s.

    z = (ratio - target) / s; phi_hat = mean of z^2 after replacing the
    floor(0.1 I) smallest and largest z by the next value inwards (10 %
    winsorisation); if phi_hat > 1 and mode is 'random':
    tau^2 = max(0, (I phi_hat - (I - 1)) / (sum w - sum w^2 / sum w)), w = 1/s^2,
    and every standard error becomes sqrt(s^2 + tau^2) ('multiplicative':
    s sqrt(phi_hat)). Limits are target +- z_a x that standard error.
    """
    ratio, s = np.asarray(ratio, float), np.asarray(s, float)
    I = len(ratio)
    z = (ratio - target) / s
    k = int(math.floor(0.1 * I))
    zs = np.sort(z)
    zw = np.clip(z, zs[k], zs[I - 1 - k]) if I else z
    phi_hat = float(np.mean(zw ** 2)) if I else float("nan")
    w = 1 / s ** 2
    denom = float(w.sum() - (w ** 2).sum() / w.sum()) if I else float("nan")
    tau2 = max(0.0, (I * phi_hat - (I - 1)) / denom) if I > 1 and denom > 0 else 0.0
    applied = mode != "none" and phi_hat > 1
    sd_adj = adjusted_se(s, mode if applied else "none", tau2, phi_hat)
    return {"z": z, "z_adjusted": (ratio - target) / sd_adj, "sd_adjusted": sd_adj, "phi_hat": phi_hat,
            "tau2": float(tau2), "applied": bool(applied), "k": k,
            "p_overdispersion": float(1 - sps.chi2.cdf(I * phi_hat, I - 1)) if I > 1 else float("nan"),
            "limit95": (target - Z95 * sd_adj, target + Z95 * sd_adj),
            "limit998": (target - Z998 * sd_adj, target + Z998 * sd_adj)}
