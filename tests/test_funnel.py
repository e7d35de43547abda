"""Funnel-plot limits (Spiegelhalter 2005) against hand-computed examples."""
from __future__ import annotations

import math

import numpy as np
import pytest

from fedcost.analyses.funnel import Z95, Z998, funnel_statistics


def test_constants():
    assert Z95 == pytest.approx(1.959964, abs=1e-6)
    assert Z998 == pytest.approx(3.090232, abs=1e-6)


def test_five_hospitals_random_effects_by_hand():
    ratio = [1.3, 0.9, 1.1, 1.0, 0.7]
    s = [0.1, 0.05, 0.2, 0.1, 0.08]
    f = funnel_statistics(ratio, s, "random")
    # z-scores by hand: (1.3-1)/0.1 = 3, (0.9-1)/0.05 = -2, 0.1/0.2 = 0.5, 0, -0.3/0.08 = -3.75
    assert f["z"] == pytest.approx([3.0, -2.0, 0.5, 0.0, -3.75])
    # I = 5: floor(0.5) = 0 values winsorised; phi = (9 + 4 + 0.25 + 0 + 14.0625) / 5
    assert f["k"] == 0
    phi = (9 + 4 + 0.25 + 0 + 14.0625) / 5
    assert f["phi_hat"] == pytest.approx(phi)
    assert phi == pytest.approx(5.4625)
    # w = 1/s^2 = 100, 400, 25, 100, 156.25; sum 781.25; sum w^2 = 10000+160000+625+10000+24414.0625
    sw, sw2 = 781.25, 205039.0625
    tau2 = (5 * phi - 4) / (sw - sw2 / sw)
    assert f["tau2"] == pytest.approx(tau2)
    assert f["applied"]
    # limits for the first hospital: 1 +- z sqrt(0.01 + tau2)
    sd = math.sqrt(0.01 + tau2)
    assert f["limit95"][0][0] == pytest.approx(1 - 1.959964 * sd, abs=1e-6)
    assert f["limit95"][1][0] == pytest.approx(1 + 1.959964 * sd, abs=1e-6)
    assert f["limit998"][1][0] == pytest.approx(1 + 3.090232 * sd, abs=1e-6)
    assert f["z_adjusted"][0] == pytest.approx(0.3 / sd)


def test_winsorising_twenty_hospitals():
    rng = np.random.default_rng(1)
    s = rng.uniform(0.05, 0.2, 20)
    z = rng.normal(0, 2, 20)
    ratio = 1 + z * s
    f = funnel_statistics(ratio, s, "multiplicative")
    assert f["k"] == 2
    zs = np.sort(z)
    zw = np.clip(z, zs[2], zs[17])  # the 2 lowest and 2 highest pulled in to the 3rd value from each end
    phi = np.mean(zw ** 2)
    assert f["phi_hat"] == pytest.approx(phi)
    assert f["applied"] == (phi > 1)
    np.testing.assert_allclose(f["sd_adjusted"], s * math.sqrt(phi))


def test_no_overdispersion_keeps_plain_limits():
    ratio = [1.01, 0.99, 1.0, 1.02]
    s = [0.1, 0.1, 0.1, 0.1]
    f = funnel_statistics(ratio, s, "random")
    assert f["phi_hat"] < 1 and not f["applied"] and f["tau2"] == 0.0
    np.testing.assert_allclose(f["limit95"][1], 1 + Z95 * np.asarray(s))
