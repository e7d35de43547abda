"""GLM families and links: derivatives, variances and deviances against statsmodels and finite differences."""
from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from fedcost.errors import UsageError
from fedcost.models.families import FAMILIES, LINKS, get_family

SM_LINKS = {"identity": sm.families.links.Identity(), "log": sm.families.links.Log(),
            "logit": sm.families.links.Logit(), "inverse": sm.families.links.InversePower(),
            "sqrt": sm.families.links.Sqrt()}
SM_FAMILIES = {"gaussian": sm.families.Gaussian(), "gamma": sm.families.Gamma(), "poisson": sm.families.Poisson(),
               "binomial": sm.families.Binomial()}
# eta values where mu(eta) is valid for every link (inverse and sqrt need eta > 0)
ETA = np.array([0.3, 0.7, 1.1, 1.9])


@pytest.mark.parametrize("name", sorted(LINKS))
def test_link_derivatives_match_statsmodels_and_finite_differences(name):
    link, ref = LINKS[name], SM_LINKS[name]
    mu = link.inverse(ETA)
    np.testing.assert_allclose(link.link(mu), ETA, rtol=1e-12)
    np.testing.assert_allclose(mu, ref.inverse(ETA), rtol=1e-12)
    np.testing.assert_allclose(link.d1(ETA), ref.inverse_deriv(ETA), rtol=1e-10)
    np.testing.assert_allclose(link.d2(ETA), ref.inverse_deriv2(ETA), rtol=1e-8, atol=1e-12)
    h = 1e-5  # central differences: error O(h^2)
    np.testing.assert_allclose(link.d1(ETA), (link.inverse(ETA + h) - link.inverse(ETA - h)) / (2 * h), rtol=1e-7)
    np.testing.assert_allclose(link.d2(ETA), (link.d1(ETA + h) - link.d1(ETA - h)) / (2 * h), rtol=1e-6,
                               atol=1e-9)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_variance_and_deviance_match_statsmodels(name):
    fam, ref = FAMILIES[name], SM_FAMILIES[name]
    mu = np.array([0.2, 0.45, 0.6, 0.9])
    y = {"binomial": np.array([0.0, 1.0, 1.0, 0.0]), "poisson": np.array([0.0, 1.0, 2.0, 0.0])}.get(
        name, np.array([0.1, 0.5, 1.3, 0.7]))
    np.testing.assert_allclose(fam.variance(mu), ref.variance(mu), rtol=1e-12)
    h = 1e-6
    np.testing.assert_allclose(fam.variance_d1(mu), (fam.variance(mu + h) - fam.variance(mu - h)) / (2 * h),
                               rtol=1e-6, atol=1e-9)
    # y = 0 (poisson, binomial) goes through 0 log 0 = 0
    assert fam.unit_deviance(y, mu).sum() == pytest.approx(ref.deviance(y, mu), rel=1e-10)
    np.testing.assert_allclose(fam.unit_deviance(mu, mu), 0.0, atol=1e-15)
    assert fam.statsmodels_name == type(ref).__name__
    assert fam.has_dispersion == (name in ("gaussian", "gamma"))


def test_clip_mu_keeps_means_in_the_support():
    eps = np.finfo(float).eps
    np.testing.assert_array_equal(FAMILIES["binomial"].clip_mu(np.array([-0.1, 0.5, 1.2])), [eps, 0.5, 1 - eps])
    np.testing.assert_array_equal(FAMILIES["gamma"].clip_mu(np.array([-3.0, 0.0, 2.0])), [eps, eps, 2.0])
    np.testing.assert_array_equal(FAMILIES["gaussian"].clip_mu(np.array([-3.0, 2.0])), [-3.0, 2.0])


@pytest.mark.parametrize("family, y, message", [
    ("gamma", [1.0, 0.0], "strictly positive"),
    ("gamma", [1.0, np.nan], "missing or infinite"),
    ("poisson", [1.0, -1.0], "non-negative"),
    ("binomial", [0.0, 1.5], "between 0 and 1"),
    ("gaussian", [-5.0, np.inf], "missing or infinite"),
])
def test_responses_outside_the_support_are_named(family, y, message):
    assert message in FAMILIES[family].check_response(np.array(y))


def test_responses_inside_the_support_pass():
    assert FAMILIES["gaussian"].check_response(np.array([-5.0, 0.0])) is None
    assert FAMILIES["poisson"].check_response(np.array([0.0, 3.0])) is None
    assert FAMILIES["binomial"].check_response(np.array([0.0, 0.25, 1.0])) is None


def test_get_family_defaults_and_refusals():
    fam, link = get_family("gamma")
    assert fam.name == "gamma" and link.name == "log"
    assert get_family("binomial")[1].name == "logit" and get_family("gaussian", "log")[1].name == "log"
    with pytest.raises(UsageError, match="family gamma does not support link 'logit'"):
        get_family("gamma", "logit")
    with pytest.raises(UsageError, match="unknown family 'tweedie'"):
        get_family("tweedie")
