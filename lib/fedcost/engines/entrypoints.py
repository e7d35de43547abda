"""The Flower app's entry points, fixed by the installed package.

Whoever submits a Flower run writes its run configuration, so the run
configuration never names code to import: it names a *protocol*, and this
table maps the name to functions of the installed fedcost. A hospital's
handler is chosen by the hospital's own node configuration (``protocol``,
default ``fedcost``), never by the run: a coordinator that asks for another
protocol gets the hospital's own protocol's refusal.

Imports only the standard library at load time: every message starts a new
ClientApp process.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from fedcost.errors import UsageError

DEFAULT_PROTOCOL = "fedcost"


def federated_app_dir() -> Path:
    """The Flower app folder (ServerApp and ClientApp): $FEDCOST_FEDERATED_APP or federated/ of the project."""
    env = os.environ.get("FEDCOST_FEDERATED_APP")
    if env:
        return Path(env).resolve()
    from fedcost.paths import PROJECT_ROOT

    return PROJECT_ROOT / "federated"


def _fedcost_serve():
    from fedcost.federation.coordinator import serve

    return serve


def _fedcost_handle():
    # The relay hands each request to a long-lived hospital worker (imports, keys and
    # data stay in memory), since Flower starts a new ClientApp process per message.
    from fedcost.federation.relay import handle

    return handle


def _echo_serve():
    from fedcost.engines.echo import serve

    return serve


def _echo_handle():
    from fedcost.engines.echo import handle

    return handle


# protocol -> (coordinator's serve(job, transport), hospital's handle(request, node) -> bytes)
PROTOCOLS: dict[str, tuple[Callable[[], Callable], Callable[[], Callable]]] = {
    "fedcost": (_fedcost_serve, _fedcost_handle),
    "echo": (_echo_serve, _echo_handle),  # the engines' plumbing test and round-latency bench
}


def _entry(protocol: str, side: int) -> Callable:
    if protocol not in PROTOCOLS:
        raise UsageError(f"unknown protocol {protocol!r}; this installation knows {', '.join(sorted(PROTOCOLS))}")
    return PROTOCOLS[protocol][side]()


def coordinator_serve(protocol: str = DEFAULT_PROTOCOL) -> Callable:
    """The coordinator's ``serve(job, transport)`` of ``protocol``."""
    return _entry(protocol, 0)


def hospital_handle(protocol: str = DEFAULT_PROTOCOL) -> Callable:
    """The hospital's ``handle(request, node) -> bytes`` of ``protocol`` (named by the node's own config)."""
    return _entry(protocol, 1)


def hospital_node(node_config: dict, run_config: dict) -> dict:
    """The hospital's local settings: its node config (deployment) or nodes-file[partition-id] (simulation).

    In simulation one process plays every party and the node settings come from
    a file the engine wrote; in deployment the SuperNode's ``--node-config``
    is the hospital's own.
    """
    node = dict(node_config)
    nodes_file = str(run_config.get("nodes-file", ""))
    if "data-path" not in node and nodes_file and "partition-id" in node:
        import json

        with open(nodes_file, encoding="utf-8") as fh:
            node = {**node, **json.load(fh)[int(node["partition-id"])]}
    work_dir = node.get("work-dir")
    if work_dir:
        import os

        os.makedirs(str(work_dir), exist_ok=True)
    return node


def hospital_reply(payload: bytes, node_config: dict, run_config: dict) -> dict:
    """What the ClientApp sends back: ``payload`` bytes, or an ``error`` text, with the hospital's label.

    The handler is the hospital's own protocol's (its node config), never code
    the run configuration names. If it raises, the reply carries a reason code
    and the label (the coordinator's transport names the hospital), never the
    error's text or traceback: those stay in the SuperNode's log.
    """
    label = ""
    try:
        node = hospital_node(node_config, run_config)
        label = str(node.get("hospital", ""))
        out = hospital_handle(str(node.get("protocol", DEFAULT_PROTOCOL)))(payload, node)
        if not isinstance(out, (bytes, bytearray)):
            raise TypeError(f"the hospital handler returned {type(out).__name__}, not bytes")
        return {"payload": bytes(out), "hospital": label}
    except Exception:  # noqa: BLE001 - every failure becomes a reply naming the hospital
        import traceback

        print(traceback.format_exc(), flush=True)  # the details stay in the SuperNode's own log
        from fedcost.federation.reasons import REASONS

        return {"error": f"internal_error: {REASONS['internal_error']}", "hospital": label}
