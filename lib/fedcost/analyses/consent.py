"""Which hospitals' per-hospital indicators are blanked at release, so a withheld one cannot be rebuilt.

A hospital may withhold any group of its indicators (`policy.PER_HOSPITAL`:
its O/E, its case-mix index, its per-case cost). Blanking only its own cells
is not enough, because what is released beside them gives them back:

* Closure: the per-case cost is the O/E's observed mean, O/E x expected mean,
  and CMI x cost per weighted case. Withholding it withholds the whole O/E and
  CMI groups of that hospital too.
* Complement: every group ties its hospitals together through a released
  federation figure (the reference per-case cost sum O / sum n, the pooled
  O/E sum O / sum E, the overall CMI sum W / sum n) whose other terms are the
  other hospitals' released values and n. If one hospital alone is blanked in
  a group, that figure minus the others gives its value back. So a group
  never has exactly one blanked hospital: a second one, the smallest by n
  (ties: the lower slot; n is released, so every hospital picks the same),
  is blanked too, as `suppression` does with cells. Then O and E of the two
  are known only as sums.
* Spread statistics (CV across hospitals, hospitals outside the band) and the
  funnel (over-dispersion, tau^2, limits) are functions of every hospital's
  value. They are recomputed over the hospitals shown (`benchmark.disclose`).

The choice depends only on the released n and the verified withholding flags,
so every hospital computes the same release and the same digest.
"""
from __future__ import annotations

from fedcost.policy import PER_HOSPITAL

# What withholding a group withholds with it (see the module docstring).
CLOSURE = {"per_case_cost": ("per_case_cost", "oe", "cmi"), "oe": ("oe",), "cmi": ("cmi",)}


def blanked(sites: list[int], n: list[int], withheld: dict[str, list[int]]) -> dict[str, set[int]]:
    """Group -> the sites whose values of that group are blanked: their own wish, its closure, a complement."""
    size = dict(zip(sites, n))
    out = {g: set() for g in PER_HOSPITAL}
    for group, slots in (withheld or {}).items():
        for g in CLOSURE.get(group, ()):
            out[g] |= set(slots) & set(size)
    changed = True
    while changed:  # a complement's per-case cost blanks its O/E and CMI: sweep until nothing changes
        changed = False
        for g in PER_HOSPITAL:
            if len(out[g]) == 1 and len(size) > 1:
                out[g].add(min((s for s in size if s not in out[g]), key=lambda s: (size[s], s)))
                changed = True
            for h in CLOSURE[g]:
                if not out[g] <= out[h]:
                    out[h] |= out[g]
                    changed = True
    return out
