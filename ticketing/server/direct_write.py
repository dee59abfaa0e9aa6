"""Send on a socket at once when nothing is waiting to be sent on it, as asyncio's transports do.

Twisted's TCP transport (daphne's) never sends in ``write()``: it queues the bytes, registers
the socket for writability with the event loop (an ``epoll_ctl``), sends on a later turn of the
loop and unregisters (another ``epoll_ctl``). A "now serving" push goes to every open socket of
the waiting room, 1,000 per process at the client's on-sale, and that registering and
unregistering was about a third of a push's cost on the event loop (py-spy ``--gil``, the
waiting-room benchmark). With this, a write to an idle socket is one ``send``; whatever the
kernel does not take is queued exactly as before, so order and back-pressure are unchanged.

Only plain TCP: a connection with TLS started keeps Twisted's path (its bytes must be encrypted
first), as does one that is closing or already has bytes queued.
"""

from __future__ import annotations

from twisted.internet import tcp

_buffered_write = tcp.Connection.write


def _write(self: tcp.Connection, data: bytes) -> None:
    if (
        type(data) is bytes
        and data
        and self.connected
        and not self.disconnecting
        and not self._writeDisconnected
        and not getattr(self, "TLS", False)
        and not self.dataBuffer
        and not self._tempDataBuffer
    ):
        try:
            sent = self.socket.send(data)
        except OSError:  # would block, or a broken socket: the buffered path sees it and reports it
            sent = 0
        if sent == len(data):
            return
        data = data[sent:]
    _buffered_write(self, data)


def install() -> None:
    """Make every Twisted TCP connection of this process send at once when it can. Idempotent."""
    if tcp.Connection.write is not _write:
        tcp.Connection.write = _write
