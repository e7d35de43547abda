"""The data side: what a hospital's file must look like, and checking that it does.

- ``dictionary``: the data dictionary (fields, code lists, rules), the single
  source of truth for validation and for categorical levels;
  ``dictionary_draft`` drafts one from a file, ``dictionary_render`` prints it.
- ``readers``: CSV/Parquet read in chunks, any encoding; ``validation``:
  pandera checks reported as PATH:ROW:COLUMN lines; ``quality``: the data-quality
  summary gathered in the same pass.
- ``synth``: synthetic hospitals with a known truth.

Must not import: models, the federation, engines, analyses, results, reporting,
Flower or TenSEAL. Everything above reads data through here.
"""
