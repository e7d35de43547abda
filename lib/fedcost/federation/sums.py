"""Sums the hospitals can verify: each contribution carries a keyed tag, so a forged sum is caught.

The coordinator holds the public CKKS context, which can encrypt: it could hand
the hospitals one hospital's ciphertext (plus an encrypted count) as "the sum",
or last round's sum again, and the others would decrypt and release it. So each
hospital puts before its statistics one slot per hospital of the study, all
zero but its own, which holds a tag: a number in [1, 2) derived by HMAC, under a key
only the hospitals hold (from their shared secret context), from the study, the
analysis, the keyed digest of the state the statistics were computed from, and
the hospital's slot. After decrypting, each hospital checks that the sum holds
exactly the declared participants' tags of this state and nothing in the other
slots, and that at least its minimum number of hospitals took part. The
coordinator cannot compute a tag, cannot leave a participant out, and cannot
replay another round's sum (other state, other tags).

The same block carries each hospital's per-hospital consent: after the tag
slots, one slot per hospital for each indicator group of
`policy.PER_HOSPITAL` (1: this hospital withholds its own value of that
group). The flags enter the hospital's tag, so the coordinator, which could
add or subtract an encrypted 1, cannot turn a withheld indicator into a
released one (or back) without breaking that hospital's tag. Every hospital
reads the same flags (`withheld`) and drops the same values at release.
"""
from __future__ import annotations

import hashlib
import hmac

import numpy as np

from fedcost.federation.crypto import SLOTS
from fedcost.federation.reasons import Refused
from fedcost.policy import PER_HOSPITAL

# CKKS decodes with an absolute error of ~1e-16 x the largest slot of a ciphertext. Sharing a ciphertext
# with statistics (sums of squared costs reach 1e12) put ~1e-4 of noise on a tag and failed an honest sum
# of the benchmark analysis through Flower. So the tag block has a ciphertext of its own (the first one,
# padded to SLOTS): its slots are at most 2, and what remains is CKKS' floor at scale 2^40, measured
# here at 1e-10 on a tag and up to 8e-9 on the empty slots. A forged tag is off by ~0.3 on average.
TOLERANCE = 1e-6


def tag(keys, run: str, name: str, state_digest: str, slot: int, flags: str = "0" * len(PER_HOSPITAL)) -> float:
    """The tag of hospital ``slot`` for statistics computed from the state with ``state_digest``, bound to
    its withholding ``flags`` (one '0'/'1' per group of `policy.PER_HOSPITAL`)."""
    mac = hmac.new(keys.tag_key(), f"{run}|{name}|{state_digest}|{slot}|{flags}".encode(), hashlib.sha256).digest()
    return 1.0 + int.from_bytes(mac[:7], "big") / 2 ** 56


def _flags(site: dict) -> str:
    """This hospital's withholding flags from ``site["withhold"]`` (the groups its policy withholds)."""
    withhold = set(site.get("withhold") or ())
    return "".join("1" if g in withhold else "0" for g in PER_HOSPITAL)


def tagged(stats, keys, site: dict, name: str, state_digest: str) -> np.ndarray:
    """The hospital's tag block (its own slot tagged, every other zero), padded to one ciphertext, then ``stats``."""
    block = np.zeros(SLOTS)
    i, count, flags = int(site["index"]), int(site["count"]), _flags(site)
    block[i] = tag(keys, site["run"], name, state_digest, i, flags)
    for g, f in enumerate(flags):
        block[count * (1 + g) + i] = float(f)
    return np.concatenate([block, np.asarray(stats, dtype=float)])


def check(total, keys, site: dict, name: str, state_digest: str, participants) -> np.ndarray:
    """The decrypted sum without its tag block, once the block shows exactly the declared participants."""
    total = np.asarray(total, dtype=float)
    count = int(site["count"])
    used = count * (1 + len(PER_HOSPITAL))
    stats, block = total[SLOTS:], total[:count]
    if np.any(np.abs(total[used:SLOTS]) > TOLERANCE):
        raise Refused("forged_sum", f"analysis {name}: the sum's tag ciphertext holds values beyond the "
                                    f"{count} hospital slots")
    declared = sorted(int(j) for j in (participants if participants is not None else range(count)))
    if int(site["index"]) not in declared:
        raise Refused("forged_sum", f"analysis {name}: the sum declares participants {declared} without this "
                                    f"hospital (slot {site['index']})")
    if len(declared) < int(site["min_hospitals"]):
        raise Refused("forged_sum", f"analysis {name}: the sum declares {len(declared)} participants; this "
                                    f"hospital decrypts sums of at least {site['min_hospitals']}")
    flags = _read_flags(total, count)
    if flags is None:
        raise Refused("forged_sum", f"analysis {name}: the sum's consent slots hold values other than 0 and 1")
    expected = np.zeros(count)
    for j in declared:
        expected[j] = tag(keys, site["run"], name, state_digest, j, flags[j])
    off = np.abs(block - expected)
    if np.any(off > TOLERANCE):
        bad = [j for j in range(count) if off[j] > TOLERANCE]
        raise Refused("forged_sum", f"analysis {name}: the sum's tags do not match the declared participants "
                                    f"{declared} of this round (slots {bad} off by up to {off.max():.3g})")
    return stats


def _read_flags(total, count: int) -> list[str] | None:
    """Each slot's withholding flags as '0'/'1' strings, or None if a consent slot is neither."""
    region = np.asarray(total[count:count * (1 + len(PER_HOSPITAL))], dtype=float).reshape(len(PER_HOSPITAL), count)
    bits = np.round(region)
    if np.any(np.abs(region - bits) > TOLERANCE) or not np.isin(bits, (0.0, 1.0)).all():
        return None
    return ["".join(str(int(bits[g, j])) for g in range(len(PER_HOSPITAL))) for j in range(count)]


def withheld(total, count: int) -> dict[str, list[int]]:
    """Group -> the site slots that withhold it, from a sum `check` has verified."""
    flags = _read_flags(total, count) or ["0" * len(PER_HOSPITAL)] * count
    return {g: [j for j in range(count) if flags[j][k] == "1"] for k, g in enumerate(PER_HOSPITAL)}
