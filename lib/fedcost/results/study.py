"""``StudyResult``: the single study-result class, from a federated run to a results folder and back.

``StudyResult.from_output`` turns what the coordinator returned (each
analysis' status, rounds and released result) and the run's facts (engine,
dictionary, policy, fingerprints, privacy evidence) into one object; each
analysis kind's ``tables`` fills its tidy tables. ``write`` puts it in a
results folder, ``read`` brings it back for a notebook, ``result_json`` is the
``result.json`` contract of one fit, and ``canonical_json`` is the text digests
are taken of.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fedcost import __version__
from fedcost.analyses import cea
from fedcost.contract import Analysis, Tables
from fedcost.errors import FedcostError
from fedcost.files import canonical_json
from fedcost.results.folder import MANIFEST, RESULTS, read_tables, write_folder

# What result.json of one fit carries besides the fit itself (DESIGN.md, "Contracts").
METADATA_KEYS = ("engine", "dictionary_version", "dictionary_fingerprint", "fedcost_version", "git_sha",
                 "data_fingerprints", "hospital_labels", "refusals", "dropouts", "messages", "privacy")
PRIVACY_KEYS = ("server_public_context_only", "bytes_from_each_hospital", "plaintext_statistics_sent_to_server",
                "ciphertexts_checked", "key_fingerprint")


class ResultsNotFound(FileNotFoundError):
    """A folder that is not a results folder (no manifest.json)."""


@dataclass
class StudyResult:
    """What a study released. ``analyses``: name -> {kind, status, rounds, reason, result}."""

    run: dict
    analyses: dict
    specs: dict = field(default_factory=dict)
    plan: dict = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    output: dict | None = None       # the coordinator's raw output (in memory only, never written)
    workdir: Path | None = None      # the run folder, when kept
    folder: Path | None = None       # the results folder it was read from or written to

    # -- from a run ------------------------------------------------------------------------
    @classmethod
    def from_output(cls, output: dict, analyses: dict[str, Analysis], *, engine: str, dictionary,
                    workdir: Path | None = None, policy=None, plan: dict | None = None,
                    git_sha: str | None = None) -> "StudyResult":
        """The result of a finished run: statuses and released results filled into tables by their kinds."""
        priv = output["privacy"]
        entries = {}
        for name, a in analyses.items():
            o = output["analyses"].get(name, {})
            entries[name] = {"kind": a.kind, "status": o.get("status", "missing"), "rounds": o.get("rounds"),
                             "reason": o.get("reason", ""),
                             "result": o.get("result") if o.get("status") == "released" else None}
        run = {
            "engine": engine, "dictionary_version": dictionary.version,
            "dictionary_fingerprint": dictionary.fingerprint, "fedcost_version": __version__, "git_sha": git_sha,
            "data_fingerprints": output.get("data_fingerprints", {}), "hospital_labels": output["hospitals"],
            "refusals": output["refusals"], "messages": output["messages"],
            "dropouts": output.get("dropouts", []),
            "privacy": {k: priv[k] for k in PRIVACY_KEYS},
            "rounds": {n: e["rounds"] for n, e in entries.items()}, "total_rounds": output.get("messages"),
            "max_analysis_rounds": output.get("rounds"), "hospitals": output.get("hospitals"),
            "seconds": output.get("seconds"), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "policy": _policy_summary(policy),
        }
        tables, descriptions = _tables(analyses, entries, output.get("sites"))
        return cls(run=run, analyses=entries, specs={n: a.spec() for n, a in analyses.items()}, plan=plan or {},
                   tables=tables, descriptions=descriptions, output=output, workdir=workdir)

    # -- one analysis ----------------------------------------------------------------------
    def status(self, name: str) -> str:
        return self.analyses[name]["status"]

    def result(self, name: str) -> dict:
        """The released result of ``name``; a FedcostError saying why when it was not released."""
        a = self.analyses[name]
        if a["status"] != "released":
            raise FedcostError(f"analysis {name} was {a['status']}: {a.get('reason', '')}")
        return a["result"]

    def metadata(self) -> dict:
        return {k: self.run.get(k) for k in METADATA_KEYS}

    def result_json(self, name: str) -> dict:
        """The released result of one analysis with the run's metadata (the result.json contract)."""
        return {**self.result(name), "rounds": self.analyses[name]["rounds"], **self.metadata()}

    # -- tables ----------------------------------------------------------------------------
    def table(self, name: str, analysis: str | None = None) -> pd.DataFrame:
        df = self.tables.get(name)
        if df is None:
            return pd.DataFrame()
        if analysis is not None and "analysis" in df.columns:
            df = df[df["analysis"] == analysis]
        return df.reset_index(drop=True)

    def code_name(self, column: str, code, lang: str = "en") -> str | None:
        """The dictionary's name of a code ('FC11' -> 'Coronary artery bypass graft'), or None.

        The names come from the installed data dictionary, and only when it is the version the run used
        (same fingerprint): another version's code list could name a code differently.
        """
        if not hasattr(self, "_dictionary"):
            from fedcost.data.dictionary import Dictionary

            try:
                d = Dictionary.load()
            except Exception:  # noqa: BLE001 - no names rather than no report
                d = None
            wanted = self.run.get("dictionary_fingerprint")
            self._dictionary = d if d is not None and (wanted is None or d.fingerprint == wanted) else None
        d = self._dictionary
        if d is None or column not in d.fields or d.fields[column].type != "category":
            return None
        name = d.label(column, str(code), "zh" if lang == "zh" else "en")
        return None if name == str(code) else name

    def has(self, name: str) -> bool:
        return name in self.tables and len(self.tables[name]) > 0

    def kpi(self, metric: str):
        k = self.table("kpi")
        hit = k[k["metric"] == metric] if len(k) else k
        return float(hit["value"].iloc[0]) if len(hit) else None

    def cea_at(self, wtp: float | None = None) -> dict | None:
        """The incremental cost-effectiveness result, at ``wtp`` if given (the CEA kind's own rule)."""
        inc = self.table("cea_incremental")
        if not len(inc):
            return None
        r = inc.iloc[0].to_dict()
        if wtp is None:
            return r
        draws = self.table("ce_plane")
        return cea.at_wtp(r, draws.get("delta_cost", []), draws.get("delta_effect", []), wtp)

    # -- the folder ------------------------------------------------------------------------
    def document(self) -> dict:
        """results.json: the run, the plan, the specs and every analysis' status and result."""
        return {"run": self.run, "plan": self.plan, "specs": self.specs, "analyses": self.analyses}

    def canonical_json(self) -> bytes:
        """The document as canonical JSON (sorted keys, no spaces, NaN as null): what a digest is taken of."""
        return canonical_json(self.document())

    def write(self, folder: str | Path) -> Path:
        self.folder = write_folder(folder, self.tables, self.descriptions, self.document())
        return self.folder

    @classmethod
    def read(cls, folder: str | Path) -> "StudyResult":
        d = Path(str(folder)).expanduser()
        if not (d / MANIFEST).is_file():
            raise ResultsNotFound(
                f"{d.resolve()}: not a results folder (no {MANIFEST}). Make one with "
                f"`fedcost run plans/standard.toml --data H01.csv ... --out {d}` or `fedcost demo`, "
                f"and pass it as the results_dir parameter.")
        doc = json.loads((d / RESULTS).read_text(encoding="utf-8")) if (d / RESULTS).is_file() else {}
        manifest = json.loads((d / MANIFEST).read_text(encoding="utf-8"))
        return cls(run=doc.get("run") or {}, analyses=doc.get("analyses") or {}, specs=doc.get("specs") or {},
                   plan=doc.get("plan") or {}, tables=read_tables(d),
                   descriptions={n: i.get("description", "") for n, i in manifest["tables"].items()}, folder=d)


def _tables(analyses: dict[str, Analysis], entries: dict, labels) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Each released result's tables (by its own kind), the headline indicators and the status table."""
    acc = Tables()
    for name, a in analyses.items():
        if entries[name]["result"] is not None:
            acc.extend(a.tables(name, entries[name]["result"], labels))
    out = {t: pd.concat(dfs, ignore_index=True) if len(dfs) > 1 else dfs[0] for t, dfs in acc.frames.items()}
    out["kpi"] = pd.DataFrame(acc.kpis, columns=["metric", "value", "unit", "analysis", "description"])
    out["status"] = pd.DataFrame([{"analysis": n, "kind": e["kind"], "status": e["status"], "rounds": e["rounds"],
                                   "reason": e["reason"]} for n, e in entries.items()],
                                 columns=["analysis", "kind", "status", "rounds", "reason"])
    descriptions = {**acc.descriptions,
                    "kpi": "Headline indicators (metric, value, unit) drawn from the other tables",
                    "status": "Each analysis: released, withheld by the disclosure rules, or failed, with rounds used"}
    return out, {t: descriptions.get(t, "") for t in out}


def _policy_summary(policy) -> dict | None:
    if policy is None:
        return None
    return {"path": str(policy.path) if policy.path else None, "version": policy.raw.get("version"),
            "disclosure": policy.disclosure, "alerts": policy.section("alerts"),
            "benchmark": policy.section("benchmark"), "cost_effectiveness": policy.section("cost_effectiveness")}
