"""`fedcost keys init`: the key ceremony (CKKS secret context for hospitals, public for the coordinator)."""
from __future__ import annotations

import argparse
from fedcost.cli.groups import command_group

DESCRIPTION = """\
Make a TenSEAL CKKS context (poly modulus 8192, coefficient moduli
[60, 40, 40, 60], scale 2^40, no Galois keys) and write:

  DIR/hospital_secret.ctx     secret context: hand it to every hospital out of band
  DIR/coordinator_public.ctx  public context (no secret key, no relinearisation keys)
  DIR/fingerprint.txt         SHA-256 fingerprint of the public context

Every party compares the printed fingerprint (a hospital recomputes it with
`fedcost keys fingerprint DIR/hospital_secret.ctx`). Known limit: the
coordinator together with one colluding hospital could decrypt another
hospital's ciphertexts (they share one secret key)."""


def register(subparsers) -> None:
    sub = command_group(subparsers, "keys", "key ceremony and key fingerprints", DESCRIPTION)
    init = sub.add_parser("init", help="make a new secret/public CKKS context pair", description=DESCRIPTION,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    init.add_argument("--out", required=True, metavar="DIR", help="folder for the key files")
    init.add_argument("--force", action="store_true", help="replace keys already in DIR")
    init.set_defaults(func=_init)
    fp = sub.add_parser("fingerprint", help="print the fingerprint of a secret or public context file")
    fp.add_argument("path", metavar="FILE", help="hospital_secret.ctx or coordinator_public.ctx (or their folder)")
    fp.set_defaults(func=_fingerprint)


def _init(args) -> int:
    from fedcost.federation.crypto import init_keys

    out = init_keys(args.out, force=args.force)
    print(f"secret context (hospitals):   {out['secret']}  ({out['secret_bytes']:,} bytes, mode 600)")
    print(f"public context (coordinator): {out['public']}  ({out['public_bytes']:,} bytes)")
    print(f"fingerprint: {out['fingerprint']}")
    return 0


def _fingerprint(args) -> int:
    from pathlib import Path

    from fedcost.federation.crypto import PUBLIC_FILE, SECRET_FILE, PublicKeys, SecretKeys
    from fedcost.errors import DataError

    path = Path(args.path)
    if path.is_dir():
        path = path / SECRET_FILE if (path / SECRET_FILE).exists() else path / PUBLIC_FILE
    try:
        keys = SecretKeys.load(path)
    except DataError:
        keys = PublicKeys.load(path)
    print(keys.fingerprint)
    return 0
