"""fedcost ClientApp: hands each request's bytes to the hospital's handler, replies with bytes.

The handler is fixed by the installed fedcost package and chosen by the
hospital's own node configuration (``fedcost.entrypoints``); nothing in the
run configuration names code to run here. Every message starts a new
``flwr-clientapp`` process, so this module imports nothing beyond Flower at
load time. If the handler raises, the reply carries the error text and the
hospital's label instead of payload, so the coordinator's transport names the
hospital in its FederationError.
"""
from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.clientapp import ClientApp

RECORD = "fedcost"

app = ClientApp()


def _node(context: Context) -> dict:
    """The hospital's local settings: node config (deployment) or nodes-file[partition-id] (simulation)."""
    node = dict(context.node_config)
    nodes_file = str(context.run_config.get("nodes-file", ""))
    if "data-path" not in node and nodes_file and "partition-id" in node:
        import json

        with open(nodes_file, encoding="utf-8") as fh:
            node = {**node, **json.load(fh)[int(node["partition-id"])]}
    work_dir = node.get("work-dir")
    if work_dir:
        import os

        os.makedirs(str(work_dir), exist_ok=True)
    return node


@app.query("fedcost")
def query(msg: Message, context: Context) -> Message:
    label = ""
    try:
        node = _node(context)
        label = str(node.get("hospital", ""))
        from fedcost.entrypoints import DEFAULT_PROTOCOL, hospital_handle

        handle = hospital_handle(str(node.get("protocol", DEFAULT_PROTOCOL)))
        out = handle(msg.content[RECORD]["payload"], node)
        if not isinstance(out, (bytes, bytearray)):
            raise TypeError(f"the hospital handler returned {type(out).__name__}, not bytes")
        record = ConfigRecord({"payload": bytes(out), "hospital": label})
    except Exception as exc:  # pylint: disable=broad-except
        import traceback

        tb = traceback.format_exc(limit=-4)
        print(tb, flush=True)  # lands in the SuperNode's log
        record = ConfigRecord({"error": f"{type(exc).__name__}: {exc}", "hospital": label,
                               "traceback": tb})
    return Message(RecordDict({RECORD: record}), reply_to=msg)
