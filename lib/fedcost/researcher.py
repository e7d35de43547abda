"""Run a study (one or more analyses) over a federation of hospital files.

Used by `fedcost fit`, `fedcost run`, the demo and notebooks. For a local
federation (tests, the demo) it also performs the key ceremony in the run
folder; in real use the hospitals' SuperNodes already hold the secret context
and the coordinator passes its public one (`keys_dir`).
"""
from __future__ import annotations

import dataclasses
import getpass
import shutil
import socket
import tempfile
import uuid
from pathlib import Path

from fedcost import engines
from fedcost.engines.jobs import Node
from fedcost.federation.crypto import PUBLIC_FILE, SECRET_FILE, init_keys
from fedcost.federation.relay import stop_workers
from fedcost.federation import studies
from fedcost.models.design import check_formula_fields
from fedcost.data.dictionary import Dictionary
from fedcost.errors import UsageError
from fedcost.paths import git_commit
from fedcost.policy import Policy
from fedcost.contract import Analysis
from fedcost.results import StudyResult



def hospital_nodes(paths, secret_key: Path, workdir: Path, encoding: str | None = None,
                   dictionary: Dictionary | None = None) -> list[Node]:
    """One node description per hospital file: its data, its key, its dictionary, a private work folder."""
    nodes, seen = [], set()
    for p in paths:
        path = Path(p).resolve()
        if not path.is_file():
            raise UsageError(f"{p}: no such file")
        label = path.stem
        while label in seen:
            label += "_"
        seen.add(label)
        settings = {"encoding": encoding} if encoding else {}
        if dictionary is not None and dictionary.path is not None:
            settings["dictionary"] = str(Path(dictionary.path).resolve())
        nodes.append(Node(label, (workdir / "hospitals" / label).resolve(), path, Path(secret_key).resolve(),
                          settings=settings))
    return nodes


def study_job(analyses: dict[str, Analysis], dictionary: Dictionary, policy: Policy) -> dict:
    """What a study asks of the hospitals: the analyses, the dictionary it expects, the disclosure rules."""
    for analysis in analyses.values():
        if "formula" in analysis.params:
            check_formula_fields(analysis.params["formula"], dictionary)
    return {
        "analyses": {name: a.spec() for name, a in analyses.items()},
        "disclosure": policy.disclosure,
        "dictionary_fingerprint": dictionary.fingerprint,
        "dictionary_version": dictionary.version,
        "max_rounds": 60,
        "requester": f"{getpass.getuser()}@{socket.gethostname()} (as the submitter states it)",
    }


def signed(job: dict, sign_key, participants: list[str] | None = None,
           valid_days: float = studies.DEFAULT_DAYS) -> dict:
    """The job with its signed study (`federation.studies`): what hospitals that ask for signatures check."""
    key = sign_key if isinstance(sign_key, studies.Ed25519PrivateKey) else studies.load_key(sign_key)
    return {**job, "study": studies.sign(job, key, uuid.uuid4().hex, participants, valid_days)}


def submit_study(analyses: dict[str, Analysis], coordinator: str, ca: str | Path | None, hospitals: int = 3,
                 dictionary=None, policy: Policy | str | Path | None = None, workdir: str | Path | None = None,
                 progress=None, timeout: float = 1800, round_timeout: float = 120.0, insecure: bool = False,
                 plan_info: dict | None = None, sign_key: str | Path | None = None,
                 participants: list[str] | None = None, valid_days: float = studies.DEFAULT_DAYS) -> StudyResult:
    """Submit `analyses` to a running coordinator (``HOST:PORT``, trusting ``ca``); return what was released.

    The study travels inside the submission, signed with ``sign_key`` (from
    `fedcost researcher init`) for the hospitals named in ``participants``
    (None: any), valid for ``valid_days``; the hospitals answer from their own
    hosts. ``hospitals``: how many must be connected before it starts.
    """
    from fedcost.engines.remote import submit

    dictionary = dictionary if isinstance(dictionary, Dictionary) else Dictionary.load(dictionary)
    policy = policy if isinstance(policy, Policy) else Policy.load(policy)
    job = study_job(analyses, dictionary, policy)
    if sign_key is not None:
        job = signed(job, sign_key, participants, valid_days)
    keep = workdir is not None
    run_dir = Path(workdir) if keep else Path(tempfile.mkdtemp(prefix="fedcost-submit-"))
    try:
        output = submit(job, coordinator, ca, run_dir, expected_nodes=hospitals, timeout=timeout,
                        round_timeout=round_timeout, progress=progress, insecure=insecure)
        return StudyResult.from_output(output, analyses, engine="coordinator", dictionary=dictionary,
                                       workdir=run_dir if keep else None, policy=policy, plan=plan_info,
                                       git_sha=git_commit())
    finally:
        if not keep:
            shutil.rmtree(run_dir, ignore_errors=True)


def run_study(analyses: dict[str, Analysis], paths, engine: str = "deployment", dictionary=None,
              policy: Policy | str | Path | None = None, keys_dir: str | Path | None = None,
              workdir: str | Path | None = None, progress=None, encoding: str | None = None,
              timeout: float = 1800, plan_info: dict | None = None) -> StudyResult:
    """Run `analyses` concurrently over one hospital per path on a one-machine federation; return their result.

    The one-machine federation is the three parties started together on
    127.0.0.1: the engine starts the coordinator and one hospital per path
    (``fedcost.engines.roles``), with TLS and node authentication on.
    """
    run_engine = engines.get(engine)
    paths = list(paths)
    if not paths:
        raise UsageError("no hospital data files given")
    dictionary = dictionary if isinstance(dictionary, Dictionary) else Dictionary.load(dictionary)
    policy = policy if isinstance(policy, Policy) else Policy.load(policy)
    study = study_job(analyses, dictionary, policy)
    keep = workdir is not None
    run_dir = Path(workdir) if keep else Path(tempfile.mkdtemp(prefix="fedcost-run-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        if keys_dir is None:
            init_keys(run_dir / "keys", force=True)
            keys_dir = run_dir / "keys"
        keys_dir = Path(keys_dir)
        # The researcher's role signs the study with a throw-away key that every hospital of this
        # one-machine federation trusts, and nothing else: the same check as across machines.
        researcher = studies.Ed25519PrivateKey.generate()
        trust = {"trusted-researchers": studies.public_hex(researcher), "require-signed-study": True}
        if policy.raw.get("allow_below_defaults"):  # the researcher holds these rows: its policy is theirs
            trust.update({"allow-below-defaults": True, **{k.replace("_", "-"): policy.disclosure[k] for k in
                          ("min_hospitals", "min_cell_records", "max_parameter_fraction")}})
        nodes = [dataclasses.replace(n, settings={**n.settings, **trust})
                 for n in hospital_nodes(paths, (keys_dir / SECRET_FILE).resolve(), run_dir, encoding, dictionary)]
        job = {
            **signed(study, researcher),
            "public_key": str((keys_dir / PUBLIC_FILE).resolve()),
            "expected_hospitals": len(nodes),
            # the coordinator's own append-only log, kept across runs (not part of the cleared run state)
            "audit_log": str((run_dir / "coordinator" / "audit.jsonl").resolve()),
        }
        output = run_engine(job, nodes, run_dir, progress=progress, timeout=timeout, teardown=(stop_workers,))
        return StudyResult.from_output(output, analyses, engine=engine, dictionary=dictionary,
                                       workdir=run_dir if keep else None, policy=policy, plan=plan_info,
                                       git_sha=git_commit())
    finally:
        if not keep:
            shutil.rmtree(run_dir, ignore_errors=True)
