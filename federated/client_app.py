"""fedcost ClientApp: hands each request's bytes to the hospital's handler, replies with bytes.

The handler is fixed by the installed fedcost package and chosen by the
hospital's own node configuration (``fedcost.engines.entrypoints.hospital_reply``);
nothing in the run configuration names code to run here. Every message starts
a new ``flwr-clientapp`` process, so this module imports nothing beyond Flower
at load time.
"""
from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.clientapp import ClientApp

RECORD = "fedcost"

app = ClientApp()


@app.query("fedcost")
def query(msg: Message, context: Context) -> Message:
    from fedcost.engines.entrypoints import hospital_reply

    reply = hospital_reply(msg.content[RECORD]["payload"], dict(context.node_config), dict(context.run_config))
    return Message(RecordDict({RECORD: ConfigRecord(reply)}), reply_to=msg)
