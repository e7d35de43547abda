"""`fedcost audit verify|show`: check and read a party's hash-chained audit log."""
from __future__ import annotations

from fedcost.cli.groups import command_group

DESCRIPTION = """\
Every party keeps an append-only audit log (JSON lines): the coordinator of
every study it ran (requester, plan digest, analyses and parameters,
participants, rounds, bytes per hospital, refusals, the digest of what was
released), each hospital of what it sent. Each entry carries the hash of the
one before; the latest head is kept apart in LOG.head.

  fedcost audit verify LOG [--head FILE]   exit 0 if untouched; exit 1 naming every entry
                                           edited, removed, inserted or moved, and a cut end
  fedcost audit show LOG                   the log, one line an entry"""


def register(subparsers) -> None:
    sub = command_group(subparsers, "audit", "verify or show a hash-chained audit log", DESCRIPTION)
    v = sub.add_parser("verify", help="check the chain and the head; exit 1 listing what was tampered with")
    v.add_argument("log", metavar="LOG", help="the audit log (JSON lines)")
    v.add_argument("--head", metavar="FILE", default=None,
                   help="the head kept apart from the log (default LOG.head); pass your own copy")
    v.set_defaults(func=_verify)
    s = sub.add_parser("show", help="print the log for a person")
    s.add_argument("log", metavar="LOG")
    s.set_defaults(func=_show)


def _verify(args) -> int:
    from pathlib import Path

    from fedcost.errors import DataError, UsageError
    from fedcost.federation import audit

    if not Path(args.log).is_file():
        raise UsageError(f"{args.log}: no such audit log")
    problems = audit.verify(args.log, args.head)
    if problems:
        raise DataError("the audit log does not verify:\n  " + "\n  ".join(problems))
    entries = audit.read(args.log)
    print(f"{args.log}: {len(entries)} entries, chain and head intact (head entry {entries[-1]['seq'] if entries else 0})")
    return 0


def _show(args) -> int:
    from pathlib import Path

    from fedcost.errors import UsageError
    from fedcost.federation import audit

    if not Path(args.log).is_file():
        raise UsageError(f"{args.log}: no such audit log")
    print(audit.show(args.log))
    return 0
