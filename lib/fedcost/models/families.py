"""GLM families and links with the derivatives that Newton steps need.

statsmodels' families do not expose the second derivative of the inverse link
or the derivative of the variance function, which the observed information of
a non-canonical link (Gamma with log link) needs. Newton steps with the
observed information converge quadratically there, where Fisher scoring
converges linearly, and in a federation every iteration costs a round.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import special

_EPS = np.finfo(float).eps


@dataclass(frozen=True)
class Link:
    """eta = g(mu); `inverse`, `d1`, `d2` are mu(eta) and its first two derivatives."""

    name: str
    link: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[[np.ndarray], np.ndarray]
    d1: Callable[[np.ndarray], np.ndarray]
    d2: Callable[[np.ndarray], np.ndarray]


def _logit_d1(eta):
    p = special.expit(eta)
    return p * (1 - p)


def _logit_d2(eta):
    p = special.expit(eta)
    return p * (1 - p) * (1 - 2 * p)


LINKS = {
    "identity": Link("identity", lambda m: m, lambda e: e, np.ones_like, np.zeros_like),
    "log": Link("log", np.log, np.exp, np.exp, np.exp),
    "logit": Link("logit", special.logit, special.expit, _logit_d1, _logit_d2),
    "inverse": Link("inverse", lambda m: 1 / m, lambda e: 1 / e, lambda e: -1 / e**2, lambda e: 2 / e**3),
    "sqrt": Link("sqrt", np.sqrt, lambda e: e**2, lambda e: 2 * e, lambda e: 2 * np.ones_like(e)),
}


@dataclass(frozen=True)
class Family:
    """Variance function V(mu), its derivative, unit deviance and a valid-mu clip."""

    name: str
    default_link: str
    allowed_links: tuple[str, ...]
    variance: Callable[[np.ndarray], np.ndarray]
    variance_d1: Callable[[np.ndarray], np.ndarray]
    unit_deviance: Callable[[np.ndarray, np.ndarray], np.ndarray]
    starting_mu: Callable[[np.ndarray, float], np.ndarray]
    has_dispersion: bool
    statsmodels_name: str

    def clip_mu(self, mu: np.ndarray) -> np.ndarray:
        if self.name == "binomial":
            return np.clip(mu, _EPS, 1 - _EPS)
        if self.name in ("gamma", "poisson"):
            return np.maximum(mu, _EPS)
        return mu

    def check_response(self, y: np.ndarray) -> str | None:
        """A message if y is outside the family's support, else None."""
        if not np.all(np.isfinite(y)):
            return "the response has missing or infinite values"
        if self.name == "gamma" and np.any(y <= 0):
            return "the gamma family needs a strictly positive response (use a two-part model for zero costs)"
        if self.name == "poisson" and np.any(y < 0):
            return "the poisson family needs a non-negative response"
        if self.name == "binomial" and np.any((y < 0) | (y > 1)):
            return "the binomial family needs a response between 0 and 1"
        return None


def _xlogy_ratio(y, mu):
    # y * log(y / mu) with 0 * log(0) = 0
    return special.xlogy(y, y) - special.xlogy(y, mu)


FAMILIES = {
    "gaussian": Family(
        "gaussian", "identity", ("identity", "log", "inverse"),
        variance=np.ones_like, variance_d1=np.zeros_like,
        unit_deviance=lambda y, mu: (y - mu) ** 2,
        starting_mu=lambda y, ybar: (y + ybar) / 2,
        has_dispersion=True, statsmodels_name="Gaussian"),
    "gamma": Family(
        "gamma", "log", ("log", "inverse", "identity"),
        variance=lambda mu: mu**2, variance_d1=lambda mu: 2 * mu,
        unit_deviance=lambda y, mu: 2 * (-np.log(y / mu) + (y - mu) / mu),
        starting_mu=lambda y, ybar: (y + ybar) / 2,
        has_dispersion=True, statsmodels_name="Gamma"),
    "poisson": Family(
        "poisson", "log", ("log", "identity", "sqrt"),
        variance=lambda mu: mu, variance_d1=np.ones_like,
        unit_deviance=lambda y, mu: 2 * (_xlogy_ratio(y, mu) - (y - mu)),
        starting_mu=lambda y, ybar: (y + ybar) / 2,
        has_dispersion=False, statsmodels_name="Poisson"),
    "binomial": Family(
        "binomial", "logit", ("logit", "log"),
        variance=lambda mu: mu * (1 - mu), variance_d1=lambda mu: 1 - 2 * mu,
        unit_deviance=lambda y, mu: 2 * (_xlogy_ratio(y, mu) + _xlogy_ratio(1 - y, 1 - mu)),
        starting_mu=lambda y, ybar: (y + 0.5) / 2,
        has_dispersion=False, statsmodels_name="Binomial"),
}


def get_family(name: str, link: str | None = None) -> tuple[Family, Link]:
    """Family and link by name; the link defaults to the family's usual one."""
    from fedcost.errors import UsageError

    fam = FAMILIES.get(name)
    if fam is None:
        raise UsageError(f"unknown family {name!r}; choose one of {', '.join(FAMILIES)}")
    link = link or fam.default_link
    if link not in fam.allowed_links:
        raise UsageError(f"family {name} does not support link {link!r}; choose one of {', '.join(fam.allowed_links)}")
    return fam, LINKS[link]
