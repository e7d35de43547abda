"""The researcher's side of a running federation: submit a study to a coordinator, collect what is released.

``submit(job, coordinator="HOST:PORT", ca=FILE)`` runs ``flwr run --stream``
against the coordinator's SuperLink over TLS (the CA certificate names whom
to trust), with the whole job inside the run config
(``fedcost.engines.submission``), relays the coordinator's progress lines and
returns its output. Nothing but the job leaves the researcher's machine; the
coordinator's host needs no file of the researcher's.
"""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Callable

from fedcost.engines.entrypoints import DEFAULT_PROTOCOL, federated_app_dir
from fedcost.engines.jobs import toml_dumps
from fedcost.engines.processes import flower_env, flower_exe, print_progress
from fedcost.engines.roles import FEDERATION, write_flwr_config
from fedcost.engines.submission import PROGRESS, parse_stream
from fedcost.errors import FederationError, UsageError


def submit(job: dict, coordinator: str, ca: str | Path | None, workdir: str | Path, *,
           expected_nodes: int = 3, protocol: str = DEFAULT_PROTOCOL, round_timeout: float = 120.0,
           node_timeout: float = 120.0, timeout: float = 1800.0,
           progress: Callable[[dict], None] | None = None, insecure: bool = False) -> dict:
    """Run ``job`` on the coordinator at ``coordinator``; return its output (what was released).

    ``ca``: the federation's CA certificate (required unless ``insecure``).
    ``expected_nodes``: hospitals that must be connected before the study starts.
    ``round_timeout``: seconds a round waits for the hospitals before it goes on without the silent ones.
    """
    if ca is None and not insecure:
        raise UsageError("--ca FILE (the federation's CA certificate) is needed; --insecure only if asked for")
    if ca is not None and not Path(ca).is_file():
        raise UsageError(f"{ca}: no such CA certificate")
    if ":" not in coordinator:
        raise UsageError(f"--coordinator {coordinator!r}: give HOST:PORT")
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    flwr_home = workdir / "flwr_home"
    write_flwr_config(flwr_home, coordinator, None if insecure else Path(ca).resolve())
    run_config = workdir / "run_config.toml"
    run_config.write_text(toml_dumps({
        "job": json.dumps(job), "protocol": protocol, "expected-nodes": int(expected_nodes),
        "node-timeout": float(node_timeout), "exchange-timeout": float(round_timeout), "poll-interval": 0.1,
    }), encoding="utf-8")
    log_path = workdir / "flwr-run.log"
    t0 = time.monotonic()
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen([flower_exe("flwr"), "run", str(federated_app_dir()), FEDERATION, "--stream",
                                 "--run-config", str(run_config)], env=flower_env(flwr_home), cwd=workdir,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            for line in proc.stdout:
                log.write(line)
                log.flush()
                if PROGRESS not in line:
                    continue
                for event in parse_stream(line)[2]:
                    (progress or print_progress)(event)
                if time.monotonic() - t0 > timeout:
                    raise FederationError(f"the study did not finish within {timeout:g} s")
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    text = log_path.read_text(encoding="utf-8", errors="replace")
    output, error, _ = parse_stream(text)
    if error is not None:
        raise FederationError(f"the coordinator stopped the study: {error.get('message')}")
    if output is None:
        raise FederationError(f"the coordinator sent no result (`flwr run` exit code {proc.returncode})\n"
                              + "\n".join(text.strip().splitlines()[-15:]))
    output["run_seconds"] = time.monotonic() - t0
    output.setdefault("engine", "coordinator")
    return output
