"""Reason codes: a refusal leaves a hospital as a fixed code and text; its details stay behind."""
from __future__ import annotations

import pytest

from fedcost.errors import DataError, DisclosureError, FederationError, UsageError
from fedcost.federation.reasons import REASONS, Refused, code_for, entry


def test_a_refusal_says_its_code_and_keeps_its_detail_apart():
    exc = Refused("invalid_data", "/data/H01.csv: row 17 has an age of 140")
    assert exc.code == "invalid_data" and exc.detail.startswith("/data/H01.csv")
    assert str(exc) == "invalid_data: the hospital's data do not validate against the data dictionary"
    assert "H01" not in str(exc)
    with pytest.raises(AssertionError):
        Refused("no_such_code")


@pytest.mark.parametrize("exc, default, code", [
    (Refused("key_mismatch"), "internal_error", "key_mismatch"),
    (Refused("forged_sum"), "analysis_failed", "forged_sum"),   # its own code wins over the default
    (UsageError("bad formula"), "internal_error", "refused_query"),
    (DataError("singular"), "internal_error", "analysis_failed"),
    (DataError("singular"), "invalid_data", "invalid_data"),
    (DisclosureError("too few"), "internal_error", "internal_error"),
    (FederationError("x"), "audit_log", "audit_log"),
    (KeyError("path"), "internal_error", "internal_error"),
])
def test_code_for_an_exception(exc, default, code):
    assert code_for(exc, default) == code


def test_an_entry_holds_status_code_and_fixed_text_only():
    assert entry("withheld", "withheld") == {"status": "withheld", "code": "withheld",
                                             "reason": "the disclosure rules withhold this result"}
    assert entry("refused", "too_few_records")["reason"] == REASONS["too_few_records"]
    with pytest.raises(KeyError):
        entry("refused", "whatever")
    # fixed texts: no placeholders that a caller could fill with data
    assert not [c for c, text in REASONS.items() if "{" in text or "%" in text]
