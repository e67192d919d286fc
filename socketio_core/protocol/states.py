"""The per-namespace state machines of a Socket.IO connection, as tables.

Rules (socket.io-protocol README, "Connection to a namespace", "Disconnection from a
namespace"; Node's ``Client.ondecoded`` and socket.io-client's ``Socket.onpacket``):

- A namespace is ``IDLE`` until the client sends CONNECT, ``CONNECTING`` until the server
  answers (CONNECT with a sid, or CONNECT_ERROR), then ``CONNECTED`` until either side sends
  DISCONNECT (or the whole connection closes).
- Events and acks flow only on a ``CONNECTED`` namespace.
- Server: any other packet is an invalid state and Node closes the whole client
  (``"forced server close"``).
- Client: packets for a namespace we are not on are ignored, as socket.io-client ignores them;
  an event arriving while ``CONNECTING`` is delivered (Node buffers it until ``connect``).

``transition`` looks a pair up; a missing pair raises ``RemoteProtocolError`` for a received
packet and ``LocalProtocolError`` for a call of ours.
"""

from __future__ import annotations

from enum import Enum

from .errors import LocalProtocolError, ProtocolError, RemoteProtocolError

__all__ = [
    "CLIENT_TRANSITIONS",
    "SERVER_TRANSITIONS",
    "Input",
    "NamespaceState",
    "transition",
]


class NamespaceState(Enum):
    """The states of one namespace on a connection."""
    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"


class Input(Enum):
    """What can happen to a namespace: a packet received, or a call of the runtime."""

    RECEIVE_CONNECT = "receive CONNECT"
    RECEIVE_DISCONNECT = "receive DISCONNECT"
    RECEIVE_EVENT = "receive EVENT"
    RECEIVE_ACK = "receive ACK"
    RECEIVE_CONNECT_ERROR = "receive CONNECT_ERROR"
    CONNECT = "connect"
    ACCEPT = "accept"
    REJECT = "reject"
    EMIT = "emit"
    ACK = "ack"
    DISCONNECT = "disconnect"

    @property
    def remote(self) -> bool:
        """Whether this input comes from the peer."""
        return self.name.startswith("RECEIVE_")


_IDLE, _CONNECTING, _CONNECTED = (
    NamespaceState.IDLE,
    NamespaceState.CONNECTING,
    NamespaceState.CONNECTED,
)

Table = dict[tuple[NamespaceState, Input], NamespaceState]

SERVER_TRANSITIONS: Table = {
    (_IDLE, Input.RECEIVE_CONNECT): _CONNECTING,
    (_CONNECTING, Input.ACCEPT): _CONNECTED,
    (_CONNECTING, Input.REJECT): _IDLE,
    (_CONNECTED, Input.RECEIVE_EVENT): _CONNECTED,
    (_CONNECTED, Input.RECEIVE_ACK): _CONNECTED,
    (_CONNECTED, Input.RECEIVE_DISCONNECT): _IDLE,
    (_CONNECTED, Input.EMIT): _CONNECTED,
    (_CONNECTED, Input.ACK): _CONNECTED,
    (_CONNECTED, Input.DISCONNECT): _IDLE,
}

CLIENT_TRANSITIONS: Table = {
    (_IDLE, Input.CONNECT): _CONNECTING,
    (_IDLE, Input.RECEIVE_CONNECT): _IDLE,
    (_IDLE, Input.RECEIVE_CONNECT_ERROR): _IDLE,
    (_IDLE, Input.RECEIVE_EVENT): _IDLE,
    (_IDLE, Input.RECEIVE_ACK): _IDLE,
    (_IDLE, Input.RECEIVE_DISCONNECT): _IDLE,
    (_CONNECTING, Input.RECEIVE_CONNECT): _CONNECTED,
    (_CONNECTING, Input.RECEIVE_CONNECT_ERROR): _IDLE,
    (_CONNECTING, Input.RECEIVE_EVENT): _CONNECTING,
    (_CONNECTING, Input.RECEIVE_ACK): _CONNECTING,
    (_CONNECTING, Input.DISCONNECT): _IDLE,
    (_CONNECTED, Input.RECEIVE_EVENT): _CONNECTED,
    (_CONNECTED, Input.RECEIVE_ACK): _CONNECTED,
    (_CONNECTED, Input.RECEIVE_DISCONNECT): _IDLE,
    (_CONNECTED, Input.EMIT): _CONNECTED,
    (_CONNECTED, Input.ACK): _CONNECTED,
    (_CONNECTED, Input.DISCONNECT): _IDLE,
}


def transition(
    table: Table, state: NamespaceState, event: Input, *, namespace: str, reason: str
) -> NamespaceState:
    """The state after ``event`` in ``state``.

    Raises:
        RemoteProtocolError: (with ``reason``) a received packet not allowed in ``state``.
        LocalProtocolError: a call not allowed in ``state``.
    """
    try:
        return table[state, event]
    except KeyError:
        message = f"{event.value} not allowed on namespace {namespace!r} while {state.value}"
        error: ProtocolError
        if event.remote:
            error = RemoteProtocolError(message, reason=reason)
        else:
            error = LocalProtocolError(message, reason=reason)
        raise error from None
