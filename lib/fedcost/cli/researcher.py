"""`fedcost researcher init`: the signing key a researcher signs studies with."""
from __future__ import annotations

from fedcost.cli.groups import command_group

DESCRIPTION = """\
Hospitals answer only studies signed by a researcher their policy trusts
(Flower does not authenticate who submits a run). This makes the key pair:

  fedcost researcher init --out DIR
      DIR/researcher.key  the signing key (Ed25519, mode 600): it stays with you
      DIR/researcher.pub  the public key, one line of hex: send it to each hospital,
                          whose policy lists it under studies.trusted_researchers

Then sign what you submit: fedcost run PLAN --coordinator HOST:PORT --ca FILE
--sign-key DIR/researcher.key [--participants H01,H02,...] [--valid-days N].

Exit codes: 0 done; 2 usage error (a key exists already)."""


def register(subparsers) -> None:
    sub = command_group(subparsers, "researcher", "a researcher's study-signing key", DESCRIPTION)
    init = sub.add_parser("init", help="make a signing key pair")
    init.add_argument("--out", required=True, metavar="DIR")
    init.set_defaults(func=_init)


def _init(args) -> int:
    from fedcost.federation import studies

    key, pub = studies.init_researcher(args.out)
    print(f"signing key (stays with you, mode 600): {key}")
    print(f"public key (to every hospital):        {pub}")
    print(pub.read_text(encoding="utf-8").strip())
    return 0
