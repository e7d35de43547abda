"""fedcost ServerApp: reads the run config, builds the Grid transport, calls the coordinator.

Thin on purpose: the coordinator's ``serve(job, transport)`` of the run's
protocol (a name looked up in ``fedcost.engines.entrypoints``, never code named by the
run) holds the protocol; this file only wires Flower to it and records success
or failure in the status file the engine watches.
"""
import time
import traceback

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

app = ServerApp()


def _write_status(path: str, status: dict) -> None:
    if path:
        from fedcost.files import write_json

        write_json(path, status)


@app.main()
def main(grid: Grid, context: Context) -> None:
    rc = context.run_config
    status_file = str(rc.get("status-file", ""))
    t0 = time.time()
    ready_at = None
    transport = None
    try:
        from fedcost.engines.transport import GridTransport

        from fedcost.engines.submission import coordinator_job

        job = coordinator_job(rc)
        transport = GridTransport(
            grid,
            expected_nodes=int(rc["expected-nodes"]),
            timeout=float(rc["exchange-timeout"]),
            poll_interval=float(rc["poll-interval"]),
            node_timeout=float(rc["node-timeout"]),
        )
        transport.nodes()  # all hospitals connected before the protocol starts
        ready_at = time.time()
        from fedcost.engines.entrypoints import coordinator_serve

        serve = coordinator_serve(str(rc["protocol"]))
        output = serve(job, transport)
        from fedcost.engines.submission import emit_output

        emit_output(rc, output)
    except BaseException as exc:  # record, then let Flower see the failure too
        from fedcost.engines.submission import emit_error

        emit_error(rc, exc)
        _write_status(status_file, {
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}",
            "error_type": type(exc).__name__,
            "message": str(exc),
            "traceback": traceback.format_exc(),
            "started_at": t0,
            "nodes_ready_at": ready_at,
            "seconds": time.time() - t0,
        })
        raise
    _write_status(status_file, {
        "ok": True,
        "started_at": t0,
        "nodes_ready_at": ready_at,
        "seconds": time.time() - t0,
        "exchanges": transport.exchanges,
        "exchange_seconds": transport.exchange_seconds,
        "bytes_received": {str(k): v for k, v in transport.bytes_received.items()},
        "node_labels": {str(k): v for k, v in transport.node_labels().items()},
    })
