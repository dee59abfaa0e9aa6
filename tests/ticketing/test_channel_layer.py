"""The PostgreSQL fan-out channel layer, across real OS processes."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from ticketing.server.channel_layer import (
    PayloadTooLarge,
    PostgresChannelLayer,
    django_conninfo,
    listener_status,
)

ROOT = Path(__file__).resolve().parents[2]
WAIT = 30  # seconds: a deadline against hanging, not a timing assertion

SENDER = textwrap.dedent(
    """
    import sys, django
    from django.conf import settings
    settings.DATABASES["default"]["NAME"] = sys.argv[1]
    django.setup()
    from asgiref.sync import async_to_sync
    from ticketing.server.channel_layer import PostgresChannelLayer
    layer = PostgresChannelLayer(pg_channel=sys.argv[2])
    kind, target, n = sys.argv[3], sys.argv[4], int(sys.argv[5])
    send = layer.group_send if kind == "group" else layer.send
    async_to_sync(send)(target, {"type": "test.message", "n": n})
    """
)


def send_from_subprocess(pg_channel: str, kind: str, target: str, n: int) -> None:
    """Send one message from a separate Python process (no event loop of its own running)."""
    subprocess.run(
        [sys.executable, "-c", SENDER, connection.settings_dict["NAME"], pg_channel, kind, target, str(n)],
        cwd=ROOT,
        check=True,
        timeout=120,
        env={"DJANGO_SETTINGS_MODULE": "ticketing.config.settings", "PATH": "/usr/bin:/bin"},
    )


async def wait_until(predicate, what: str) -> None:
    for _ in range(WAIT * 20):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


async def in_thread(fn, *args):
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def terminate_backend(pid: int) -> None:
    with psycopg.connect(django_conninfo(), autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.fixture
def pg_channel(request):
    # A channel per test: other tests' (or other runs') notifications never arrive here.
    return f"test_layer_{abs(hash(request.node.nodeid)) % 10**8}"


@contextlib.asynccontextmanager
async def listening(pg_channel: str, group: str, members: int = 1, **config):
    """A layer (``config``: its options) whose listener is connected, with ``members`` new
    channels in ``group``; yields the layer and the channels, and closes the layer."""
    layer = PostgresChannelLayer(pg_channel=pg_channel, **config)
    try:
        channels = [await layer.new_channel() for _ in range(members)]
        for channel in channels:
            await layer.group_add(group, channel)
        await wait_until(lambda: layer.status()["connected"], "listener")
        yield layer, channels
    finally:
        await layer.close()


@pytest.mark.django_db
def test_group_send_from_another_process_reaches_local_group(pg_channel):
    async def scenario():
        async with listening(pg_channel, "event-1") as (layer, [member]):
            await in_thread(send_from_subprocess, pg_channel, "group", "event-1", 7)

            assert await asyncio.wait_for(layer.receive(member), WAIT) == {"type": "test.message", "n": 7}

    async_to_sync(scenario)()


@pytest.mark.django_db
def test_send_to_a_specific_channel_of_another_process(pg_channel):
    async def scenario():
        async with listening(pg_channel, "keepalive") as (layer, [member]):
            await in_thread(send_from_subprocess, pg_channel, "channel", member, 3)

            assert await asyncio.wait_for(layer.receive(member), WAIT) == {"type": "test.message", "n": 3}

    async_to_sync(scenario)()


@pytest.mark.django_db
def test_own_process_group_send_is_delivered_exactly_once(pg_channel):
    async def scenario():
        async with listening(pg_channel, "g") as (layer, [member]):
            await layer.group_send("g", {"type": "one"})
            await layer.group_send("g", {"type": "two"})

            assert (await asyncio.wait_for(layer.receive(member), WAIT))["type"] == "one"
            assert (await asyncio.wait_for(layer.receive(member), WAIT))["type"] == "two"
            await layer.group_send("g", {"type": "three"})
            assert (await asyncio.wait_for(layer.receive(member), WAIT))["type"] == "three"

    async_to_sync(scenario)()


@pytest.mark.django_db
def test_every_local_member_gets_its_own_copy_in_order(pg_channel):
    async def scenario():
        async with listening(pg_channel, "g", 3) as (layer, members):
            for n in range(2):
                await layer.group_send("g", {"type": "seats.update", "n": n})
            got = [[await asyncio.wait_for(layer.receive(m), WAIT) for _ in range(2)] for m in members]
            assert [[msg["n"] for msg in row] for row in got] == [[0, 1]] * 3
            got[0][0]["n"] = "changed by one consumer"
            assert got[1][0]["n"] == 0

    async_to_sync(scenario)()


@pytest.mark.django_db
def test_a_blocking_group_send_from_a_thread_reaches_the_group(pg_channel):
    """What ``realtime.push`` uses from request and coalescer threads: no event loop of its own."""

    async def scenario():
        async with listening(pg_channel, "g") as (layer, [member]):
            await in_thread(layer.group_send_blocking, "g", {"type": "queue.moved", "now_serving": 7})
            assert (await asyncio.wait_for(layer.receive(member), WAIT))["now_serving"] == 7

    async_to_sync(scenario)()


@pytest.mark.django_db
def test_a_consumer_keeps_its_queue_and_the_sweep_drops_only_abandoned_empty_ones(pg_channel):
    """A message no longer costs a new queue (channels' ``receive`` made one or two per
    message); a queue nobody waits on and that holds nothing is swept, never one being waited
    on or one with messages in it."""

    async def scenario():
        async with listening(pg_channel, "g", 3) as (layer, [live, gone, busy]):
            await layer.group_send("g", {"type": "seats.update", "n": 0})
            await wait_until(lambda: live in layer.channels, "delivery")
            queue = layer.channels[live]
            assert (await asyncio.wait_for(layer.receive(live), WAIT))["n"] == 0
            assert (await asyncio.wait_for(layer.receive(gone), WAIT))["n"] == 0
            waiting = asyncio.ensure_future(layer.receive(live))
            await asyncio.sleep(0)
            layer._cleaned_at = 0.0  # the sweep runs at most once a second
            layer._clean_expired()
            assert layer.channels.get(live) is queue  # waited on: kept, and the same queue
            assert gone not in layer.channels  # empty, nobody waiting: swept
            assert busy in layer.channels  # its message is still unread
            await layer.group_send("g", {"type": "seats.update", "n": 1})
            assert (await asyncio.wait_for(waiting, WAIT))["n"] == 1
            assert [(await layer.receive(busy))["n"] for _ in range(2)] == [0, 1]

    async_to_sync(scenario)()


@pytest.mark.django_db
def test_listener_survives_a_terminated_connection(pg_channel):
    async def scenario():
        async with listening(pg_channel, "event-1", resync_type="stream.resync") as (layer, [member]):
            first_pid = layer.status()["backend_pid"]

            await in_thread(terminate_backend, first_pid)
            await wait_until(
                lambda: layer.status()["connected"] and layer.status()["backend_pid"] != first_pid,
                "reconnect",
            )

            assert layer.status()["reconnects"] == 1
            # Messages may have been missed while disconnected: members are told to re-read.
            assert await asyncio.wait_for(layer.receive(member), WAIT) == {"type": "stream.resync"}
            await in_thread(send_from_subprocess, pg_channel, "group", "event-1", 9)
            assert await asyncio.wait_for(layer.receive(member), WAIT) == {"type": "test.message", "n": 9}

    async_to_sync(scenario)()


@pytest.mark.django_db
def test_oversized_or_unserialisable_messages_are_refused_before_sending(pg_channel):
    layer = PostgresChannelLayer(pg_channel=pg_channel)
    with pytest.raises(PayloadTooLarge):
        async_to_sync(layer.group_send)("g", {"type": "big", "ids": list(range(3000))})
    with pytest.raises(TypeError):
        async_to_sync(layer.group_send)("g", {"type": "bad", "when": object()})
    async_to_sync(layer.close)()


def test_listener_status_reports_other_backends_as_ok(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    assert listener_status() == {"backend": "channels.layers.InMemoryChannelLayer", "ok": True}
