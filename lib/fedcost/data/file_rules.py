"""Rules that span a whole file, checked chunk by chunk with bounded memory: unique keys, one value.

A hospital's file may not fit in memory, so the validator reads it in chunks;
these trackers remember what a rule needs across chunks (12 bytes a record for
`unique`, one value for `one_value`), never whole rows.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


class OneValueTracker:
    """The value of a file's first record in a column, and the rows that carry another one."""

    def __init__(self):
        self.value: str | None = None
        self.row: int | None = None

    def check(self, values: pd.Series, rows: np.ndarray) -> tuple[np.ndarray, list[str], int]:
        """(positions in the chunk whose value differs, their values, n values checked)."""
        present = values.notna().to_numpy()
        if not present.any():
            return np.empty(0, np.int64), [], 0
        text = values.astype("str").to_numpy()
        if self.value is None:
            first = int(np.flatnonzero(present)[0])
            self.value, self.row = str(text[first]), int(rows[first])
        other = np.flatnonzero(present & (text != self.value))
        return other, [str(v) for v in text[other]], int(present.sum())


class UniqueTracker:
    """Duplicate keys across chunks: per chunk a sorted run of 64-bit key hashes with the row
    that first held each (12 bytes a record; runs are merged now and then to keep lookups fast)."""

    MAX_RUNS = 64

    def __init__(self):
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []

    def check(self, keys: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, int]:
        """(positions of duplicates in the chunk, the rows they repeat, n keys checked)."""
        present = keys.notna().all(axis=1).to_numpy()
        if not present.any():
            return np.empty(0, np.int64), np.empty(0, np.int64), 0
        sub = keys[present]
        h = pd.util.hash_pandas_object(sub.astype("str"), index=False).to_numpy()
        pos = np.flatnonzero(present)
        order = np.argsort(h, kind="stable")
        hs, rs = h[order], sub.index.to_numpy()[order]
        first_in_chunk = np.r_[True, hs[1:] != hs[:-1]]
        # within the chunk a repeat points to the first row of its run of equal hashes
        first_row = rs[np.maximum.accumulate(np.where(first_in_chunk, np.arange(len(hs)), 0))]
        earlier = np.zeros(len(hs), dtype=bool)
        for run_h, run_r in self.runs:  # oldest first: the first hit is the first occurrence
            at = np.minimum(np.searchsorted(run_h, hs), len(run_h) - 1)
            hit = (run_h[at] == hs) & ~earlier
            first_row[hit] = run_r[at[hit]]
            earlier |= hit
        dup = earlier | ~first_in_chunk
        new = first_in_chunk & ~earlier
        if new.any():
            self.runs.append((hs[new], rs[new].astype(np.uint32)))
        if len(self.runs) > self.MAX_RUNS:
            allh = np.concatenate([r[0] for r in self.runs])
            allr = np.concatenate([r[1] for r in self.runs])
            o = np.argsort(allh, kind="stable")
            self.runs = [(allh[o], allr[o])]
        return pos[order][dup], first_row[dup].astype(np.int64), int(present.sum())
