"""Reason codes: all that leaves a hospital about a refusal or an error.

A refusal's details (a file path, a row, an exact count below the minimum, a
traceback) would tell the coordinator and the researcher about the hospital's
data. So a hospital sends only a fixed code and its fixed short text; the
details stay in the hospital's own audit log, where its operator reads them
(``fedcost audit show WORK/audit.jsonl``).
"""
from __future__ import annotations

from fedcost.errors import DataError, FedcostError, UsageError

REASONS = {
    "unreadable_request": "the request is not a fedcost message this hospital can read",
    "key_mismatch": "the study's key is not the one this hospital holds",
    "dictionary_mismatch": "the study uses another data dictionary version than this hospital",
    "invalid_data": "the hospital's data do not validate against the data dictionary",
    "too_few_records": "fewer records than the disclosure minimum for this analysis",
    "refused_query": "the query asks for something hospitals do not run (formula or parameters)",
    "analysis_failed": "the analysis could not be computed from the summed statistics",
    "withheld": "the disclosure rules withhold this result",
    "forged_sum": "the sum the coordinator sent is not the sum of this round's declared participants",
    "audit_log": "the hospital cannot write its audit log, so it sends nothing",
    "unsigned_study": "this hospital answers only studies signed by a researcher it trusts",
    "untrusted_study": "the study is not signed by a researcher this hospital trusts",
    "study_expired": "the signed study has expired",
    "not_a_participant": "the signed study does not name this hospital",
    "not_signed": "the request asks for something the researcher did not sign",
    "awaiting_approval": "the study waits for the approval of this hospital's operator",
    "study_rejected": "this hospital's operator rejected the study",
    "differencing": "a result over nearly the same hospitals was released before: this one would reveal the "
                    "difference",
    "internal_error": "an internal error at the hospital",
}


class Refused(FedcostError):
    """A refusal with its code (sent) and its details (kept at the hospital)."""

    def __init__(self, code: str, detail: str = ""):
        assert code in REASONS, code
        super().__init__(f"{code}: {REASONS[code]}")
        self.code, self.detail = code, detail


def code_for(exc: BaseException, default: str = "internal_error") -> str:
    """The code of an exception raised while answering: its own, or by its kind."""
    if isinstance(exc, Refused):
        return exc.code
    if isinstance(exc, UsageError):
        return "refused_query"
    if isinstance(exc, DataError):
        return default if default != "internal_error" else "analysis_failed"
    return default


def entry(status: str, code: str) -> dict:
    """What a reply says of a refusal: the status, the code and its fixed text; nothing else."""
    return {"status": status, "code": code, "reason": REASONS[code]}
