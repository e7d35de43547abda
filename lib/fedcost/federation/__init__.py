"""The federated protocol, without Flower: what hospitals and the coordinator say.

`hospital.handle` runs at each hospital, `coordinator.serve` at the
coordinator; they talk through a transport (Flower's Grid in the engines, a
direct call in `local`). Only CKKS ciphertexts, sealed state and released
results cross; see DESIGN.md for the trust model.
"""
