"""The hospital runs only the handler the installed package fixes, whatever the run config says.

`hospital_reply` is what the ClientApp (federated/client_app.py) calls with the
message payload, the SuperNode's node config and the run's run config; the
run config here is written by a hostile submitter.
"""
from __future__ import annotations

import json

import pytest

from fedcost.engines.entrypoints import coordinator_serve, hospital_handle, hospital_reply
from fedcost.errors import UsageError


def hostile_run_config() -> dict:
    # What the ClientApp used to import and call: `module:function` from the run config.
    return {"hospital": "os:system", "hospital-entry": "builtins:exec", "coordinator": "os:system",
            "protocol": "os:system", "nodes-file": ""}


def test_a_hostile_run_config_cannot_choose_the_hospital_handler(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "H01.csv"
    data.write_text("id,cost\n1,10\n2,20\n")
    node = {"hospital": "H01", "data-path": str(data), "protocol": "echo", "work-dir": str(tmp_path / "w")}
    out = hospital_reply(b"touch pwned", node, hostile_run_config())
    # the echo handler (the node's own protocol) failed to parse the payload as its JSON request: only a
    # reason code leaves (no exception text, no traceback)
    assert out == {"hospital": "H01", "error": "internal_error: an internal error at the hospital"}
    out = hospital_reply(json.dumps({"round": 1, "number": 1000}).encode(), node, hostile_run_config())
    assert json.loads(out["payload"])["value"] == 1002
    assert not (tmp_path / "pwned").exists()


def test_the_hospital_protocol_is_a_name_from_a_fixed_table(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = hospital_reply(b"touch pwned", {"hospital": "H01", "protocol": "os:system"}, {})
    assert out["error"].startswith("internal_error") and "os:system" not in out["error"] and out["hospital"] == "H01"
    assert not (tmp_path / "pwned").exists()
    assert "unknown protocol 'os:system'" in capsys.readouterr().out  # the details stay in the SuperNode's log


def test_the_default_hospital_handler_is_the_relay_to_the_worker():
    assert hospital_handle().__module__ == "fedcost.federation.relay"


def test_the_coordinator_entry_is_a_name_from_a_fixed_table():
    assert coordinator_serve("fedcost").__module__ == "fedcost.federation.coordinator"
    with pytest.raises(UsageError, match="unknown protocol"):
        coordinator_serve("fedcost.federation.coordinator:serve")
