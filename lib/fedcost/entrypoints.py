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

from typing import Callable

from fedcost.errors import UsageError

DEFAULT_PROTOCOL = "fedcost"


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
