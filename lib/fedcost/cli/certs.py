"""`fedcost certs init`: a CA and the coordinator's TLS certificate; `fedcost certs node-key`: a hospital's key."""
from __future__ import annotations

from fedcost.cli.groups import command_group

DESCRIPTION = """\
TLS for a federation, made with the `cryptography` package (no openssl needed):

  fedcost certs init --out DIR --host NAME [--host NAME ...]
      DIR/ca.crt       the CA certificate: hand it to every hospital (their SuperNodes trust it)
      DIR/ca.key       the CA key: keep it offline (mode 600)
      DIR/server.crt   the coordinator's certificate, valid for every --host (DNS name or IP)
      DIR/server.key   its key, for the SuperLink only (mode 600)

  fedcost certs node-key --out DIR --name HOSPITAL
      DIR/HOSPITAL.key  the hospital's SuperNode authentication key: it never leaves the hospital
      DIR/HOSPITAL.pub  its public key: the coordinator registers it (flwr supernode register)

Certificates are valid for 365 days. The one-machine federation of `fedcost demo`,
`fit` and `run` makes throw-away ones of its own for 127.0.0.1 every run."""


def register(subparsers) -> None:
    sub = command_group(subparsers, "certs", "TLS certificates and SuperNode keys for a federation", DESCRIPTION)
    init = sub.add_parser("init", help="a CA and the coordinator's server certificate")
    init.add_argument("--out", required=True, metavar="DIR", help="folder for the certificate files")
    init.add_argument("--host", action="append", required=True, metavar="NAME",
                      help="a DNS name or IP address hospitals connect to (repeatable)")
    init.add_argument("--force", action="store_true", help="replace certificates already in DIR")
    init.set_defaults(func=_init)
    key = sub.add_parser("node-key", help="a hospital's SuperNode authentication key pair")
    key.add_argument("--out", required=True, metavar="DIR")
    key.add_argument("--name", required=True, metavar="HOSPITAL", help="the hospital's label (file names)")
    key.set_defaults(func=_node_key)


def _init(args) -> int:
    from fedcost.engines.certs import init_certs

    files = init_certs(args.out, args.host, force=args.force)
    print(f"CA certificate (give to every hospital): {files['ca']}")
    print(f"CA key (keep offline, mode 600):         {files['ca_key']}")
    print(f"server certificate ({', '.join(args.host)}): {files['cert']}")
    print(f"server key (SuperLink only, mode 600):   {files['key']}")
    return 0


def _node_key(args) -> int:
    import re

    from fedcost.engines.certs import node_keys
    from fedcost.errors import UsageError

    if not re.fullmatch(r"[A-Za-z0-9_.-]+", args.name):
        raise UsageError(f"--name {args.name!r}: use letters, digits, '_', '-', '.'")
    private, public = node_keys(args.out, args.name)
    print(f"private key (stays at the hospital, mode 600): {private}")
    print(f"public key (the coordinator registers it):     {public}")
    return 0
