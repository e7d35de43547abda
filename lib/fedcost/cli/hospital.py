"""`fedcost hospital init|start`: a hospital's own client, on its own host, next to its data."""
from __future__ import annotations

import re
from pathlib import Path
from fedcost.cli.groups import command_group

DESCRIPTION = """\
A participating hospital's client: a Flower SuperNode that relays bytes, and
the hospital's worker, the only process that reads the data and the secret
CKKS context. Only ciphertexts and reason codes leave; the data, its path and
every plaintext statistic stay on this host.

  fedcost hospital init --name NAME --out DIR
      DIR/node.key   the SuperNode's authentication key (stays here, mode 600)
      DIR/node.pub   its public key: send it to the coordinator's operator
                     (`fedcost coordinator add-hospital NAME node.pub`)
      DIR/policy.yaml  this hospital's policy (commented): its own disclosure minima
  fedcost hospital start --data FILE --keys DIR --coordinator HOST:PORT --ca ca.crt \\
      --auth-key DIR/node.key --policy DIR/policy.yaml --workdir WORK
      validates FILE first (exit 1 naming file, row, column and rule if it is
      invalid: nothing is started), then answers studies until stopped
      (Ctrl-C or SIGTERM). KEYS holds hospital_secret.ctx from the key
      ceremony. What left the hospital is in WORK/work/audit.jsonl
      (`fedcost audit show|verify`).
  fedcost hospital approve [STUDY] --workdir WORK
      with `approval: manual`: list the studies waiting here, or show one (its
      plan, the columns it reads, its digest) and approve it
  fedcost hospital reject STUDY --workdir WORK

Exit codes: 0 stopped by a signal; 1 invalid data or a part failed; 2 usage error."""

POLICY_TEMPLATE = """\
# fedcost hospital policy for {name}: what this hospital lets leave its host.
# For every minimum the stricter of this file and the study's rules applies, never less:
# a coordinator or researcher can raise these minima, never lower them.
hospital: {name}
disclosure:
  # the fewest hospitals whose encrypted sum this hospital helps decrypt and release (at least 3)
  min_hospitals: 3
  # the fewest records of this hospital behind an analysis, and behind any released cell (at least 5)
  min_cell_records: 5
  # a model may have at most this many parameters per record (at most 0.2)
  max_parameter_fraction: 0.2
  # false: per-hospital indicators are released under pseudonyms only, whatever the study asks
  name_hospitals: false
# Lowering a minimum below the defaults needs this, stated on purpose:
# allow_below_defaults: true
studies:
  # The researchers whose signed studies this hospital answers: their researcher.pub
  # (a file, relative to this policy) or its hex line. Unsigned studies and studies
  # signed by anyone else are refused. Empty: this hospital answers no study yet.
  trusted_researchers: []
  # automatic: answer every trusted study; manual: each new study waits until the operator
  # runs `fedcost hospital approve STUDY --workdir WORK` (or `reject`)
  approval: automatic
# What a benchmark releases about this hospital (under a pseudonym unless name_hospitals);
# false withholds this hospital's own value (the federation's totals still include it).
per_hospital:
  oe: true              # observed/expected cost ratio, its interval and funnel position
  cmi: true             # case-mix index, cost per weighted case, adjusted cost coefficient
  per_case_cost: true   # per-case cost and the cost difference coefficient
"""


def register(subparsers) -> None:
    sub = command_group(subparsers, "hospital", "a hospital's client: node key, policy, SuperNode and worker", DESCRIPTION)
    init = sub.add_parser("init", help="a node key pair and a commented policy file")
    init.add_argument("--name", required=True, metavar="NAME", help="the hospital's label in the federation")
    init.add_argument("--out", required=True, metavar="DIR")
    init.set_defaults(func=_init)
    start = sub.add_parser("start", help="validate the data, then answer studies until stopped")
    start.add_argument("--data", required=True, metavar="FILE", help="this hospital's records (CSV or Parquet)")
    start.add_argument("--keys", required=True, metavar="DIR", help="folder with hospital_secret.ctx")
    start.add_argument("--coordinator", required=True, metavar="HOST:PORT")
    start.add_argument("--ca", metavar="FILE", help="the federation's CA certificate")
    start.add_argument("--auth-key", metavar="FILE", help="this hospital's node.key")
    start.add_argument("--policy", required=True, metavar="FILE", help="this hospital's policy.yaml")
    start.add_argument("--workdir", required=True, metavar="DIR", help="the hospital's own working folder")
    start.add_argument("--name", metavar="NAME", help="label (default: the policy's `hospital`)")
    start.add_argument("--dictionary", metavar="DIR", help="data dictionary folder (default: data_dictionary/)")
    start.add_argument("--encoding", help="text encoding of a CSV file (default: detected)")
    start.add_argument("--relay-user", metavar="USER",
                       help="run the SuperNode, and every ClientApp a study brings, as USER, who can read "
                            "neither the data nor the keys (needs root)")
    start.add_argument("--worker-user", metavar="USER",
                       help="run the worker, the only reader of the data and the secret key, as USER (needs "
                            "root; USER must be able to read them)")
    start.add_argument("--insecure", action="store_true", help="no TLS and no node authentication (tests only)")
    start.set_defaults(func=_start)
    approve = sub.add_parser("approve", help="list the studies waiting for approval, or approve one")
    approve.add_argument("study", nargs="?", metavar="STUDY", help="a digest prefix or study id (none: list)")
    approve.add_argument("--workdir", required=True, metavar="DIR", help="the hospital's working folder")
    approve.add_argument("--dictionary", metavar="DIR", help="the hospital's data dictionary (default: data_dictionary/)")
    approve.set_defaults(func=_decide, verdict="approved")
    reject = sub.add_parser("reject", help="reject a study waiting for approval")
    reject.add_argument("study", metavar="STUDY", help="a digest prefix or study id")
    reject.add_argument("--workdir", required=True, metavar="DIR", help="the hospital's working folder")
    reject.add_argument("--dictionary", metavar="DIR", help="the hospital's data dictionary (default: data_dictionary/)")
    reject.set_defaults(func=_decide, verdict="rejected")


def _init(args) -> int:
    from fedcost.engines.certs import node_keys
    from fedcost.errors import UsageError

    if not re.fullmatch(r"[A-Za-z0-9_.-]+", args.name):
        raise UsageError(f"--name {args.name!r}: use letters, digits, '_', '-', '.'")
    out = Path(args.out)
    policy = out / "policy.yaml"
    if (out / "node.key").exists():
        raise UsageError(f"{out / 'node.key'} exists already: a hospital keeps one node key")
    private, public = node_keys(out, "node")
    if not policy.exists():
        policy.write_text(POLICY_TEMPLATE.format(name=args.name), encoding="utf-8")
    print(f"node key (stays here, mode 600):            {private}")
    print(f"public key (to the coordinator's operator): {public}")
    print(f"policy (read it, adjust it):                {policy}")
    return 0


def hospital_policy(path: str | Path) -> tuple[str | None, dict]:
    """(label, node settings) of a hospital policy file: its disclosure minima and the studies it answers."""
    from fedcost.errors import DataError
    from fedcost.policy import Policy

    policy = Policy.load(path)
    settings = dict(policy.disclosure)
    if policy.raw.get("allow_below_defaults"):
        settings["allow_below_defaults"] = True
    section = policy.section("studies")
    keys = []
    for item in section.get("trusted_researchers") or []:
        text = str(item).strip()
        file = Path(text) if Path(text).is_absolute() else Path(path).parent / text
        if file.is_file():
            text = file.read_text(encoding="utf-8").strip()
        if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
            raise DataError(f"{path}: studies.trusted_researchers: {item!r} is neither a researcher.pub file "
                            "nor its 64-digit hex key")
        keys.append(text.lower())
    approval = section.get("approval", "automatic")
    if approval not in ("automatic", "manual"):
        raise DataError(f"{path}: studies.approval must be automatic or manual, not {approval!r}")
    settings.update(trusted_researchers=",".join(keys), require_signed_study=section.get("require_signature", True),
                    approval=approval, withhold_per_hospital=",".join(_withheld(path, policy.section("per_hospital"))))
    return policy.raw.get("hospital"), settings


def _withheld(path, section: dict) -> list[str]:
    from fedcost.errors import DataError
    from fedcost.policy import PER_HOSPITAL

    unknown = set(section) - set(PER_HOSPITAL)
    if unknown or not all(isinstance(v, bool) for v in section.values()):
        raise DataError(f"{path}: per_hospital takes true/false for {', '.join(PER_HOSPITAL)}"
                        + (f", not {', '.join(sorted(unknown))}" if unknown else ""))
    return [g for g in PER_HOSPITAL if section.get(g, True) is False]


def _decide(args) -> int:
    from fedcost.data.dictionary import Dictionary
    from fedcost.errors import FedcostError
    from fedcost.federation import studies

    work = studies.work_folder(args.workdir)
    if args.study is None:
        waiting = studies.pending(work)
        if not waiting:
            print(f"no study waits for approval in {work}")
        for e in waiting:
            plan = e["study"]
            print(f"{e['digest'][:12]}  study {plan.get('study_id')}  from {plan.get('requester')}  "
                  f"asked {e['first_asked']}  analyses: {', '.join(plan.get('analyses') or {})}")
        return 0
    entry = studies.find(work, args.study)
    plan = entry["study"]
    print(f"study {plan.get('study_id')} (digest {entry['digest']})")
    print(f"  requester: {plan.get('requester')}; signed by key {entry['key']}")
    print(f"  issued {plan.get('issued')}, expires {plan.get('expires')}; participants: "
          f"{', '.join(plan.get('participants') or []) or 'any hospital'}")
    print(f"  disclosure asked: {plan.get('disclosure')}")
    for name, spec in (plan.get("analyses") or {}).items():
        print(f"  analysis {name}: {spec}")
    try:
        columns = ", ".join(studies.columns_used(plan, Dictionary.load(args.dictionary).fields))
    except FedcostError as exc:  # a formula this hospital's grammar refuses: say so, the study can still be rejected
        columns = f"(cannot read: {exc})"
    print(f"  columns: {columns}")
    target = studies.decide(work, entry, args.verdict)
    print(f"{args.verdict}: {target}")
    return 0


def _start(args) -> int:
    from fedcost.data.dictionary import Dictionary
    from fedcost.data.validation import validate_file
    from fedcost.engines.parties import start_hospital, wait_connected
    from fedcost.errors import DataError, FederationError, UsageError

    label, disclosure = hospital_policy(args.policy)
    name = args.name or label
    if not name:
        raise UsageError(f"{args.policy}: no `hospital:` name; give --name")
    if not Path(args.data).is_file():
        raise UsageError(f"--data {args.data}: no such file")
    report = validate_file(args.data, Dictionary.load(args.dictionary), encoding=args.encoding)
    if not report.ok:
        for line in report.lines():
            print(line)
        raise DataError(f"{args.data}: INVALID ({report.n_problems_total} problem(s)); nothing was started")
    print(f"{args.data}: valid, {report.n_rows} records", flush=True)
    party = start_hospital(name, args.data, args.keys, args.coordinator, args.ca, args.auth_key, args.workdir,
                           disclosure=disclosure, dictionary=args.dictionary, encoding=args.encoding,
                           insecure=args.insecure, relay_user=args.relay_user,
                           worker_user=args.worker_user)
    try:
        wait_connected(party)
        print(f"hospital {name} connected to {args.coordinator}; answering studies; Ctrl-C to stop", flush=True)
        why = party.wait()
    finally:
        party.stop()
    print(f"hospital {name} stopped ({why})", flush=True)
    if why.endswith("exited"):
        raise FederationError(f"hospital {name}: {why}; see {Path(args.workdir) / 'logs'}")
    return 0
