"""The models: formulas, design matrices, GLM families, summed statistics, the one IRLS.

- ``formula``: the grammar every formula is checked against (never run as Python);
- ``design``: design matrices with the dictionary's levels, the same at every hospital;
- ``families``: GLM families and links; ``statistics``: the per-hospital sums;
- ``irls``: the one GLM algorithm, an analysis (``fedcost.contract``) whose
  statistics are summed in plaintext for the pooled fit and as ciphertexts in
  the federation;
- ``glm``: the researcher's estimator (``GLM``) and its results (``GLMResults``).

The maths knows nothing of Flower or crypto: must not import the federation,
engines, analyses, results (beyond its file helpers), reporting, Flower or TenSEAL.
The one seam is ``GLM.fit_federated``, which reaches ``fedcost.researcher``
when it is called (the estimator is the researcher's door to both fits).
"""
