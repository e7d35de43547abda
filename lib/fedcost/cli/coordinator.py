"""`fedcost coordinator start|add-hospital|status`: the coordinator's long-lived SuperLink."""
from __future__ import annotations

from fedcost.cli.groups import command_group

DESCRIPTION = """\
The coordinator of a federation: a Flower SuperLink with TLS and SuperNode
authentication, holding only the public CKKS context. Every study a
researcher submits (`fedcost run PLAN --coordinator HOST:PORT --ca ca.crt`)
runs there as one Flower run of fedcost's ServerApp.

  fedcost coordinator start --workdir DIR --address HOST:PORT --certs CERTS --public-keys KEYS
      runs until stopped (Ctrl-C or SIGTERM). CERTS from `fedcost certs init`;
      KEYS holds coordinator_public.ctx from `fedcost keys init` (a folder that
      also holds the hospitals' secret context is refused). Hospitals and
      researchers connect to HOST:PORT (open that one TCP port).
  fedcost coordinator add-hospital NAME PUBKEY --workdir DIR
      registers a hospital's SuperNode public key (the hospital's node.pub):
      only registered hospitals can connect.
  fedcost coordinator status --workdir DIR
      lists the registered hospitals and whether they are connected.

The coordinator's audit log (DIR/audit.jsonl; `fedcost audit verify`) records
every study: requester as stated, plan digest, rounds, bytes per hospital,
refusals, release digests.

Exit codes: 0 stopped by a signal or done; 1 a part failed (the message says
which); 2 usage error."""


def register(subparsers) -> None:
    sub = command_group(subparsers, "coordinator", "run a federation's coordinator (SuperLink)", DESCRIPTION)
    start = sub.add_parser("start", help="start the SuperLink and serve studies until stopped")
    start.add_argument("--workdir", required=True, metavar="DIR", help="the coordinator's own folder")
    start.add_argument("--address", required=True, metavar="HOST:PORT", help="where hospitals and researchers connect")
    start.add_argument("--certs", metavar="DIR", help="from `fedcost certs init` (ca.crt, server.crt, server.key)")
    start.add_argument("--public-keys", required=True, metavar="DIR",
                       help="folder (or file) with coordinator_public.ctx from the key ceremony")
    start.add_argument("--insecure", action="store_true", help="no TLS and no node authentication (tests only)")
    start.set_defaults(func=_start)
    add = sub.add_parser("add-hospital", help="register a hospital's SuperNode public key")
    add.add_argument("name", metavar="NAME")
    add.add_argument("pubkey", metavar="PUBKEY", help="the hospital's node.pub")
    add.add_argument("--workdir", required=True, metavar="DIR", help="the running coordinator's folder")
    add.set_defaults(func=_add)
    status = sub.add_parser("status", help="registered hospitals and whether they are connected")
    status.add_argument("--workdir", required=True, metavar="DIR")
    status.add_argument("--json", action="store_true", help="as JSON")
    status.set_defaults(func=_status)


def _start(args) -> int:
    from fedcost.engines.parties import start_coordinator
    from fedcost.errors import FederationError

    party = start_coordinator(args.workdir, args.address, args.certs, args.public_keys, insecure=args.insecure)
    print(f"coordinator listening on {args.address} ({'INSECURE' if args.insecure else 'TLS, node authentication'})"
          f"; audit log {party.workdir / 'audit.jsonl'}; Ctrl-C to stop", flush=True)
    try:
        why = party.wait()
    finally:
        party.stop()
    print(f"coordinator stopped ({why})", flush=True)
    if why.endswith("exited"):
        raise FederationError(f"the coordinator's {why}; see {party.workdir / 'logs'}")
    return 0


def _add(args) -> int:
    from fedcost.engines.parties import add_hospital

    add_hospital(args.workdir, args.name, args.pubkey)
    print(f"registered hospital {args.name}")
    return 0


def _status(args) -> int:
    import json

    from fedcost.engines.parties import coordinator_status

    rows = coordinator_status(args.workdir)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print("no hospital registered")
    for r in rows:
        print(f"{r['hospital']:<12} {r['status']:<11} node {r['node_id']}  online since {r['online_at']}")
    return 0
