"""The federated protocol, without Flower: what hospitals and the coordinator say.

`hospital.handle` runs at each hospital, `coordinator.serve` at the
coordinator; they talk through a transport (Flower's Grid in the engines, a
direct call in `local`). Only CKKS ciphertexts, sealed state, released
results and reason codes (`reasons`) cross; `crypto` holds the CKKS keys,
`wire` the message format, `audit` each party's hash-chained log, and the
hospital's long-lived `worker` sits behind the ClientApp's `relay`. See
DESIGN.md for the trust model.

Must not import Flower, engines, results, reporting or the researcher's API:
the engines carry these bytes, this package only says them.
"""
