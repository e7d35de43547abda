"""The ClientApp's relay to a long-lived hospital worker answers exactly as the hospital does."""
import os
import time


from fedcost.federation.crypto import PUBLIC_FILE, SECRET_FILE, init_keys
from fedcost.federation import relay, wire
from fedcost.federation.coordinator import serve
from fedcost.models.irls import GLMAnalysis
from fedcost.policy import Policy


class RelayTransport:
    def __init__(self, nodes):
        self._nodes = {i + 1: n for i, n in enumerate(nodes)}

    def nodes(self):
        return list(self._nodes)

    def exchange(self, requests):
        return {k: relay.handle(v, self._nodes[k]) for k, v in requests.items()}


def test_relay_runs_a_fit_through_workers_and_stops_them(hospital_paths, dictionary, tmp_path):
    init_keys(tmp_path / "keys")
    nodes = [{"data-path": str(p), "key-path": str(tmp_path / "keys" / SECRET_FILE),
              "work-dir": str(tmp_path / "w" / p.stem), "hospital": p.stem} for p in hospital_paths]
    job = {"analyses": {"m": GLMAnalysis("cost_total ~ age + los", "gamma").spec()},
           "public_key": str(tmp_path / "keys" / PUBLIC_FILE), "disclosure": Policy.default().disclosure,
           "dictionary_path": str(dictionary.path), "dictionary_fingerprint": dictionary.fingerprint}
    try:
        out = serve(job, RelayTransport(nodes))
        assert out["analyses"]["m"]["status"] == "released"
        pid_files = sorted((tmp_path / "w").rglob("worker.pid"))
        assert len(pid_files) == 3  # one worker per hospital, reused across rounds
        pids = [int(p.read_text()) for p in pid_files]
        assert all(os.path.exists(f"/proc/{pid}") for pid in pids)
    finally:
        relay.stop_workers(tmp_path)
    time.sleep(0.2)
    assert not list((tmp_path / "w").rglob("worker.pid"))
    for pid in pids:
        if os.path.exists(f"/proc/{pid}/stat"):
            assert open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] == "Z"


def test_relay_falls_back_in_process(hospital_paths, tmp_path, monkeypatch):
    monkeypatch.setenv("FEDCOST_NO_WORKER", "1")
    reply = relay.handle(b"not a message", {"work-dir": str(tmp_path), "hospital": "H09"})
    header, _ = wire.unpack(reply)
    assert header["status"] == "refused" and header["hospital"] == "H09"
    assert not (tmp_path / "worker.pid").exists()
