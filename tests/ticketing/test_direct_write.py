"""ticketing/server/direct_write.py: a Twisted TCP connection sends at once when nothing is queued,
and falls back to Twisted's queue (same order, same back-pressure) when the kernel takes less.

Real sockets (a connected pair), no reactor running: a fake reactor records the writability
registrations that Twisted's own path would make."""

from __future__ import annotations

import socket

import pytest
from twisted.internet import tcp
from twisted.internet.protocol import Protocol

from ticketing.server import direct_write


class _Reactor:
    def __init__(self) -> None:
        self.writers: set[object] = set()

    def addWriter(self, writer) -> None:  # Twisted's interface: a set, as in its reactors
        self.writers.add(writer)

    def removeWriter(self, writer) -> None:
        self.writers.discard(writer)


@pytest.fixture
def pair():
    direct_write.install()
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    reactor = _Reactor()
    connection = tcp.Connection(ours, Protocol(), reactor)
    connection.connected = True
    yield connection, peer, reactor
    ours.close()
    peer.close()


def _drain(peer: socket.socket) -> bytes:
    peer.setblocking(False)
    chunks = []
    while True:
        try:
            chunk = peer.recv(1 << 20)
        except BlockingIOError:
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_an_idle_connection_sends_at_once_without_registering_for_writability(pair):
    connection, peer, reactor = pair
    connection.write(b"now serving 42")
    assert _drain(peer) == b"now serving 42"
    assert reactor.writers == set() and not connection._tempDataBuffer and not connection.dataBuffer


def test_what_the_kernel_does_not_take_is_queued_in_order_and_sent_by_twisted(pair):
    connection, peer, reactor = pair
    big = bytes(range(256)) * 40_000  # 10 MB: more than a socket pair's buffers hold
    connection.write(big)
    assert reactor.writers == {connection}  # the rest waits for writability, as before
    connection.write(b"after")  # queued behind the rest, never sent ahead of it
    received = bytearray(_drain(peer))
    assert 0 < len(received) < len(big)
    while connection.dataBuffer or connection._tempDataBuffer:
        connection.doWrite()  # what the reactor calls when the socket is writable
        received += _drain(peer)
    received += _drain(peer)
    assert bytes(received) == big + b"after"
    assert reactor.writers == set()


def test_a_closing_connection_and_non_bytes_keep_twisteds_path(pair):
    connection, peer, _reactor = pair
    connection.disconnecting = True
    connection.write(b"late")
    assert _drain(peer) == b"" and connection._tempDataBuffer == [b"late"]
    connection.disconnecting = False
    with pytest.raises(TypeError):
        connection.write("text")  # Twisted's own check still applies


def test_a_tls_connection_writes_through_its_tls_layer(pair):
    connection, peer, _reactor = pair
    through_tls: list[bytes] = []
    connection.TLS = True
    connection.protocol.write = through_tls.append  # where Twisted hands plaintext to TLS
    connection.write(b"secret")
    assert through_tls == [b"secret"] and _drain(peer) == b""
