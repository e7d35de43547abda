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
"""
from __future__ import annotations

import hashlib
import hmac

import numpy as np

from fedcost.federation.crypto import SLOTS
from fedcost.federation.reasons import Refused

# CKKS decodes with an absolute error of ~1e-16 x the largest slot of a ciphertext. Sharing a ciphertext
# with statistics (sums of squared costs reach 1e12) put ~1e-4 of noise on a tag and failed an honest sum
# of the benchmark analysis through Flower. So the tag block has a ciphertext of its own (the first one,
# padded to SLOTS): its slots are at most 2, and what remains is CKKS' floor at scale 2^40, measured
# here at 1e-10 on a tag and up to 8e-9 on the empty slots. A forged tag is off by ~0.3 on average.
TOLERANCE = 1e-6


def tag(keys, run: str, name: str, state_digest: str, slot: int) -> float:
    """The tag of hospital ``slot`` for statistics computed from the state with ``state_digest``."""
    mac = hmac.new(keys.tag_key(), f"{run}|{name}|{state_digest}|{slot}".encode(), hashlib.sha256).digest()
    return 1.0 + int.from_bytes(mac[:7], "big") / 2 ** 56


def tagged(stats, keys, site: dict, name: str, state_digest: str) -> np.ndarray:
    """The hospital's tag block (its own slot tagged, every other zero), padded to one ciphertext, then ``stats``."""
    block = np.zeros(SLOTS)
    block[int(site["index"])] = tag(keys, site["run"], name, state_digest, int(site["index"]))
    return np.concatenate([block, np.asarray(stats, dtype=float)])


def check(total, keys, site: dict, name: str, state_digest: str, participants) -> np.ndarray:
    """The decrypted sum without its tag block, once the block shows exactly the declared participants."""
    total = np.asarray(total, dtype=float)
    count = int(site["count"])
    stats, block = total[SLOTS:], total[:count]
    if np.any(np.abs(total[count:SLOTS]) > TOLERANCE):
        raise Refused("forged_sum", f"analysis {name}: the sum's tag ciphertext holds values beyond the "
                                    f"{count} hospital slots")
    declared = sorted(int(j) for j in (participants if participants is not None else range(count)))
    if int(site["index"]) not in declared:
        raise Refused("forged_sum", f"analysis {name}: the sum declares participants {declared} without this "
                                    f"hospital (slot {site['index']})")
    if len(declared) < int(site["min_hospitals"]):
        raise Refused("forged_sum", f"analysis {name}: the sum declares {len(declared)} participants; this "
                                    f"hospital decrypts sums of at least {site['min_hospitals']}")
    expected = np.zeros(count)
    for j in declared:
        expected[j] = tag(keys, site["run"], name, state_digest, j)
    off = np.abs(block - expected)
    if np.any(off > TOLERANCE):
        bad = [j for j in range(count) if off[j] > TOLERANCE]
        raise Refused("forged_sum", f"analysis {name}: the sum's tags do not match the declared participants "
                                    f"{declared} of this round (slots {bad} off by up to {off.max():.3g})")
    return stats
