"""Analyses as deterministic state machines over summed statistics.

An analysis never sees rows from more than one hospital at a time. Each round
every hospital computes a vector of statistics from its own rows and the
current state; the vectors are summed (in plaintext for the pooled reference,
as CKKS ciphertexts in the federation); `advance` turns the state and the
decrypted sum into the next state. Because `advance` is deterministic, every
hospital that decrypts the same sum reaches the same state, which is how
hospitals stay in step without a trusted party holding the model.

The pooled reference and the federated run share this code: only the
summation differs (`run_pooled` here, `fedcost.federation` there).

Each kind also owns what its released result means: ``tables`` turns it into
tidy tables with every derived statistic (z, p, intervals, limits, decisions)
computed once, so notebooks, findings and charts read them and never
recompute them (``fedcost.results`` writes and reads them).
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd


@dataclass
class Tables:
    """What one released result contributes to a study's tables: frames, headline indicators, descriptions."""

    frames: dict[str, list[pd.DataFrame]] = field(default_factory=dict)
    kpis: list[dict] = field(default_factory=list)
    descriptions: dict[str, str] = field(default_factory=dict)

    def add(self, table: str, df: pd.DataFrame, description: str | None = None) -> None:
        self.frames.setdefault(table, []).append(df)
        if description:
            self.descriptions[table] = description

    def kpi(self, metric: str, value, unit: str, analysis: str, description: str = "") -> None:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return
        self.kpis.append({"metric": metric, "value": float(value), "unit": unit, "analysis": analysis,
                          "description": description})

    def extend(self, other: "Tables") -> None:
        for table, dfs in other.frames.items():
            self.frames.setdefault(table, []).extend(dfs)
        self.kpis += other.kpis
        self.descriptions.update(other.descriptions)


def tidy(columns: dict, **constant) -> pd.DataFrame:
    """A table from columns, with constant columns (e.g. analysis=name) first."""
    df = pd.DataFrame(columns)
    for k, v in reversed(list(constant.items())):
        df.insert(0, k, v)
    return df


class Analysis(ABC):
    """Base class. Subclasses store their parameters (sklearn style) and set `kind`."""

    kind: str = "analysis"

    def __init__(self, **params):
        self.params = params

    # -- identity --------------------------------------------------------------
    def spec(self) -> dict:
        """JSON-serialisable description sent to hospitals; `fedcost.analyses.kinds.from_spec` rebuilds it."""
        return {"kind": self.kind, **self.params}

    # -- hospital side -----------------------------------------------------------
    @abstractmethod
    def prepare(self, frame: pd.DataFrame, dictionary) -> Any:
        """Turn a hospital's validated frame into what `statistics` needs (cached per process)."""

    def records(self, block) -> int:
        """How many records this hospital contributes (checked against the per-hospital minimum)."""
        return int(block.n) if hasattr(block, "n") else len(block)

    @abstractmethod
    def initial_state(self, sites: int) -> dict:
        """State before the first round (the same at every hospital); ``sites`` hospitals take part."""

    @abstractmethod
    def statistics(self, block, state: dict, site: int) -> np.ndarray:
        """This hospital's statistics for the round, as one float vector.

        ``site`` is this hospital's slot (0 .. sites-1), for statistics reported
        per hospital (a hospital writes into its own slot and zeros elsewhere;
        only the sum, decrypted by the hospitals, reveals the slots).
        """

    @abstractmethod
    def advance(self, state: dict, total: np.ndarray) -> dict:
        """Next state from the summed statistics. A finished state has done=True and a result."""

    def local_report(self, frame: pd.DataFrame, result: dict) -> pd.DataFrame | None:
        """What this hospital alone should see once the analysis is released (never sent).

        The hospital writes it into its own work folder; e.g. its own payment
        surplus next to the region's pooled figures.
        """
        return None

    def tables(self, name: str, result: dict, labels: list[str] | None = None) -> Tables:
        """The released ``result`` of analysis ``name`` as tidy tables (``labels``: hospital slot -> label)."""
        return Tables()

    def check_own_rows(self, block, result: dict, disclosure: dict) -> None:
        """Check a finished result against this hospital's own rows before it is released.

        Runs at each hospital only, with its prepared ``block``; raise
        `fedcost.errors.DisclosureError` to withhold (a model term that rests on
        a few of this hospital's records, whatever the pooled counts say).
        """

    def disclose(self, result: dict, disclosure: dict) -> dict:
        """Apply the disclosure rules to a finished result before it leaves the hospitals.

        Raise `fedcost.errors.DisclosureError` to withhold it; return a (possibly
        suppressed) copy to release it.
        """
        return result


def run_pooled(analyses: dict[str, Analysis], frames: list[pd.DataFrame], dictionary=None,
               on_round: Callable[[int, list[str]], None] | None = None, max_rounds: int = 100) -> dict:
    """Run analyses on frames in one process, summing statistics in plaintext.

    Each frame plays one hospital (so clustered quantities cluster by frame).
    Returns {"results": {name: result}, "rounds": {name: rounds used}, "total_rounds": n}.
    """
    blocks = {name: [a.prepare(f, dictionary) for f in frames] for name, a in analyses.items()}
    return run_prepared(analyses, blocks, on_round=on_round, max_rounds=max_rounds)


def run_prepared(analyses: dict[str, Analysis], blocks: dict[str, list], on_round=None, max_rounds: int = 100) -> dict:
    """`run_pooled` on blocks already prepared by each analysis (one block per hospital)."""
    states = {name: a.initial_state(len(blocks[name])) for name, a in analyses.items()}
    rounds = {name: 0 for name in analyses}
    r = 0
    while any(not s.get("done") for s in states.values()):
        r += 1
        if r > max_rounds:
            raise RuntimeError(f"analyses did not finish within {max_rounds} rounds")
        running = [n for n, s in states.items() if not s.get("done")]
        if on_round:
            on_round(r, running)
        for name in running:
            a = analyses[name]
            total = 0.0
            for i, b in enumerate(blocks[name]):
                total = total + np.asarray(a.statistics(b, states[name], i), dtype=float)
            states[name] = a.advance(states[name], total)
            rounds[name] += 1
    return {"results": {n: s["result"] for n, s in states.items()}, "rounds": rounds, "total_rounds": r}
