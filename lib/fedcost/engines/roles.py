"""The three parties' Flower processes, defined once: coordinator, hospital, researcher.

The one-machine federation (``engines.deployment``) and the long-lived parties
of a real deployment (``fedcost coordinator start``, ``fedcost hospital
start``, ``fedcost run --coordinator``) start the same commands from here, so
the demo and the tests run the code a hospital runs. Secure by default: a
``Tls`` is needed unless ``insecure`` is asked for.
"""
from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from fedcost.engines.processes import flower_env, flower_exe
from fedcost.errors import FederationError

FEDERATION = "fedcost"  # the federation's name in every party's $FLWR_HOME/config.toml


@dataclass(frozen=True)
class Tls:
    """The coordinator's TLS files (the CA certificate alone on the hospitals' and researchers' side)."""

    ca: Path
    cert: Path | None = None
    key: Path | None = None


def write_flwr_config(flwr_home: Path, address: str, ca: Path | None) -> Path:
    """``$FLWR_HOME/config.toml`` naming the coordinator (``flwr run``/``supernode`` talk to it).

    ``ca=None`` means an insecure connection, asked for explicitly.
    """
    flwr_home.mkdir(parents=True, exist_ok=True)
    transport = "insecure = true" if ca is None else f"root-certificates = {json.dumps(str(ca))}"
    path = flwr_home / "config.toml"
    path.write_text(f'[superlink]\ndefault = "{FEDERATION}"\n\n'
                    f'[superlink.{FEDERATION}]\naddress = "{address}"\n{transport}\n', encoding="utf-8")
    return path


def superlink_command(host: str, port: int, tls: Tls | None) -> list[str]:
    """The coordinator's SuperLink: TLS and SuperNode authentication unless ``tls`` is None (insecure)."""
    security = ["--insecure"] if tls is None else [
        "--ssl-ca-certfile", str(tls.ca), "--ssl-certfile", str(tls.cert), "--ssl-keyfile", str(tls.key),
        "--enable-supernode-auth"]
    return [flower_exe("flower-superlink"), *security, "--host", host, "--port", str(port),
            "--disable-runtime-dependency-installation"]


def supernode_command(coordinator: str, node_config: Path, port: int, ca: Path | None,
                      auth_key: Path | None) -> list[str]:
    """A hospital's SuperNode: trusts only ``ca``, authenticates with its node key (unless insecure)."""
    security = ["--insecure"] if ca is None else [
        "--root-certificates", str(ca), "--auth-supernode-private-key", str(auth_key)]
    return [flower_exe("flower-supernode"), *security, "--superlink", coordinator,
            "--host", "127.0.0.1", "--port", str(port), "--node-config", str(node_config)]


def register_nodes(flwr_home: Path, public_keys: dict[str, Path], deadline: float, cwd: Path,
                   dead=lambda: [], logs_tail=lambda: "") -> dict[str, str]:
    """Register hospitals' public node keys with the SuperLink (``flwr supernode register``), side by side.

    Each call is a `flwr` process (~1.5 s, mostly its imports). The SuperLink may
    still be starting: a failed call is retried until ``deadline``. Returns each
    hospital's Flower node id.
    """
    pending = dict(public_keys)
    ids: dict[str, str] = {}
    env = flower_env(flwr_home)
    while pending:
        calls = {label: subprocess.Popen([flower_exe("flwr"), "supernode", "register", str(pub), FEDERATION],
                                         env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         text=True, start_new_session=True)
                 for label, pub in pending.items()}
        for label, call in calls.items():
            out, _ = call.communicate(timeout=120)
            if call.returncode == 0 and "registered successfully" in out:
                del pending[label]
                found = re.search(r"SuperNode (\d+) registered", out)
                ids[label] = found.group(1) if found else ""
            elif "already" in out.lower():
                raise FederationError(f"hospital {label}'s node key is already registered")
            elif time.monotonic() > deadline:
                raise FederationError(f"hospital {label}'s node key could not be registered with the SuperLink: "
                                      f"{out.strip()[-500:]}\n" + logs_tail())
        if pending:
            if dead():
                raise FederationError(f"{', '.join(dead())} exited during startup\n" + logs_tail())
            time.sleep(0.5)
    return ids


def list_nodes(flwr_home: Path, cwd: Path) -> list[dict]:
    """The SuperNodes the coordinator knows (``flwr supernode list --format json``)."""
    out = subprocess.run([flower_exe("flwr"), "supernode", "list", FEDERATION, "--format", "json"],
                         env=flower_env(flwr_home), cwd=cwd, capture_output=True, text=True, timeout=120)
    try:
        data = json.loads(out.stdout)
    except ValueError:
        raise FederationError(f"the coordinator did not answer: {(out.stdout + out.stderr).strip()[-400:]}") from None
    if not data.get("success", True):
        raise FederationError(f"the coordinator refused: {data.get('error-message', data)}")
    return list(data.get("nodes", []))
