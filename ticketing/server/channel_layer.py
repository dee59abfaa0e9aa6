"""A Channels layer that keeps groups in process memory and fans out through PostgreSQL.

Why: messages start in the django-q2 worker (expiry sweeps) and in any daphne process
(cancellations) but must reach websockets held by every daphne process. PostgreSQL is
our one server, so ``LISTEN/NOTIFY`` is the bus; no Redis to run.

How:
- Groups and channel queues live in memory (``InMemoryChannelLayer`` behaviour).
- ``group_send`` (and ``send`` to another process's channel) becomes one
  ``pg_notify(<pg_channel>, json)`` on a short autocommit connection of its own, never on
  Django's connection: a NOTIFY inside a hold transaction takes PostgreSQL's global
  notify lock at commit and cut hold throughput 3-4x. Callers send after commit.
- Every process that has local members (a daphne process with websockets) runs one
  listener task on its event loop: one ``LISTEN`` connection, reconnecting with
  backoff, handing each notification to its local groups. A process's own
  notifications come back through the same path, so local delivery happens exactly
  once and always on the loop that owns the queues, whichever thread sent.
- Payloads are JSON and must stay under PostgreSQL's 8000-byte limit: send ids and
  small deltas, never documents (``PayloadTooLarge`` otherwise).

Only the standard Channels API is used, so ``channels_redis`` can replace this layer by
settings alone. Messages sent while a listener is reconnecting are lost (as with any
pub/sub); after a reconnect the listener can send ``resync_type`` to every local
group so consumers re-read state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import string
import threading
import time
import uuid
from collections import Counter
from typing import Any

import psycopg
from channels.layers import InMemoryChannelLayer, get_channel_layer
from psycopg import sql

logger = logging.getLogger(__name__)

# PostgreSQL rejects NOTIFY payloads of 8000 bytes or more.
MAX_PAYLOAD_BYTES = 7999

# Keys of Django's OPTIONS that are not libpq connection parameters.
_NOT_LIBPQ = {
    "pool",
    "server_side_binding",
    "isolation_level",
    "assume_role",
    "cursor_factory",
    "context",
    "prepare_threshold",
}

# Connections left behind in a forked child: closing them would terminate the parent's session.
_orphans: list[Any] = []


class PayloadTooLarge(ValueError):
    """The message does not fit in one NOTIFY; send ids and let receivers read the rest."""


def django_conninfo(alias: str = "default", application_name: str = "ticketing-channel-layer") -> str:
    """A libpq conninfo for Django's database ``alias`` (the live settings, so tests get ``test_*``).

    The embedded server listens on a unix socket: ``HOST`` is then a directory, which libpq
    accepts as ``host`` unchanged.
    """
    from django.db import connections

    settings_dict = connections[alias].settings_dict
    params: dict[str, Any] = {
        "dbname": settings_dict.get("NAME"),
        "user": settings_dict.get("USER") or None,
        "password": settings_dict.get("PASSWORD") or None,
        "host": settings_dict.get("HOST") or None,
        "port": settings_dict.get("PORT") or None,
        "application_name": application_name,
    }
    for key, value in (settings_dict.get("OPTIONS") or {}).items():
        if key not in _NOT_LIBPQ:
            params[key] = value
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if v not in (None, "")})


class PostgresChannelLayer(InMemoryChannelLayer):
    """In-memory groups per process, ``group_send`` fanned out with ``pg_notify``.

    Config: ``pg_channel`` (the LISTEN channel name), ``database_alias``, ``heartbeat``
    (seconds between liveness checks of an idle listener), ``reconnect_max`` (backoff cap,
    seconds), ``resync_type`` (message type sent to every local group after a reconnect;
    ``None`` disables), plus ``InMemoryChannelLayer``'s ``expiry``/``capacity``/... .
    """

    extensions = ["groups", "flush"]

    def __init__(
        self,
        pg_channel: str = "ticketing_channels",
        database_alias: str = "default",
        heartbeat: float = 30.0,
        reconnect_max: float = 5.0,
        resync_type: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pg_channel = pg_channel
        self.database_alias = database_alias
        self.heartbeat = heartbeat
        self.reconnect_max = reconnect_max
        self.resync_type = resync_type
        self._send_lock = threading.Lock()
        self._send_conn: psycopg.Connection | None = None
        self._reset_process_state()
        os.register_at_fork(after_in_child=self._after_fork)

    def _reset_process_state(self) -> None:
        self.pid = os.getpid()
        self._cleaned_at = 0.0
        # Receivers awaiting each channel's queue (see ``receive``).
        self._receiving: Counter[str] = Counter()
        # Names this process's specific channels and tags its notifications.
        self.origin = uuid.uuid4().hex[:16]
        self._listener: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._status: dict[str, Any] = {
            "started": False,
            "connected": False,
            "backend_pid": None,
            "connected_since": None,
            "reconnects": 0,
            "last_error": None,
            "received": 0,
        }

    def _after_fork(self) -> None:
        if self._send_conn is not None:
            _orphans.append(self._send_conn)
        self._send_conn = None
        self._send_lock = threading.Lock()
        self.channels = {}
        self.groups = {}
        self._reset_process_state()

    # --- status -----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Listener state for health checks (a copy)."""
        return dict(self._status, pg_channel=self.pg_channel)

    # --- sending ----------------------------------------------------------------------

    def _encode(self, envelope: dict[str, Any]) -> str:
        try:
            payload = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"Channel messages must be JSON-serialisable: {exc}") from exc
        size = len(payload.encode())
        if size > MAX_PAYLOAD_BYTES:
            raise PayloadTooLarge(f"Message is {size} bytes; NOTIFY allows {MAX_PAYLOAD_BYTES}.")
        return payload

    def _sender(self) -> psycopg.Connection:
        if self._send_conn is None or self._send_conn.closed:
            self._send_conn = psycopg.Connection.connect(
                django_conninfo(self.database_alias, "ticketing-channel-sender"), autocommit=True
            )
        return self._send_conn

    def _notify_sync(self, payload: str) -> None:
        """One ``pg_notify`` on this process's autocommit sender connection (thread-safe).

        A connection that died since the last send is replaced once; a second failure raises.
        """
        with self._send_lock:
            for attempt in (1, 2):
                conn = self._sender()
                try:
                    conn.execute("SELECT pg_notify(%s, %s)", (self.pg_channel, payload))
                    return
                except psycopg.OperationalError:
                    self._send_conn = None
                    with contextlib.suppress(Exception):  # the socket is gone already
                        conn.close()
                    if attempt == 2:
                        raise

    async def _notify(self, payload: str) -> None:
        loop = asyncio.get_running_loop()
        if loop is self._loop and not loop.is_closed():
            # The loop serving websockets must not block on the database round trip.
            await loop.run_in_executor(None, self._notify_sync, payload)
        else:
            # A throwaway loop of async_to_sync (worker, coalescer thread): blocking is free.
            self._notify_sync(payload)

    async def group_send(self, group: str, message: dict) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_group_name(group)
        await self._notify(self._encode({"o": self.origin, "g": group, "m": message}))

    def group_send_blocking(self, group: str, message: dict) -> None:
        """``group_send`` for synchronous code (request and coalescer threads): the
        ``pg_notify`` on the calling thread. Through ``async_to_sync`` each push from such a
        thread built an event loop on a new thread and tore it down, and tearing it down lists
        every task of the process: 2,000 waiting rooms' sockets made that 5% of a daphne
        process's time while admissions were announced."""
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_group_name(group)
        self._notify_sync(self._encode({"o": self.origin, "g": group, "m": message}))

    async def send(self, channel: str, message: dict) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        if self._is_local(channel) and asyncio.get_running_loop() is self._loop:
            await super().send(channel, message)
            return
        if "!" not in channel:
            # Named (non-process) channels stay in-process, as with InMemoryChannelLayer.
            await super().send(channel, message)
            return
        await self._notify(self._encode({"o": self.origin, "c": channel, "m": message}))

    def _is_local(self, channel: str) -> bool:
        return f".{self.origin}!" in channel

    async def new_channel(self, prefix: str = "specific") -> str:
        suffix = "".join(random.choice(string.ascii_letters) for _ in range(12))
        return f"{prefix}.{self.origin}!{suffix}"

    # --- receiving --------------------------------------------------------------------

    async def group_add(self, group: str, channel: str) -> None:
        self._ensure_listener()
        await super().group_add(group, channel)

    async def receive(self, channel: str) -> dict:
        """``InMemoryChannelLayer.receive`` without a new queue per message: that one builds an
        ``asyncio.Queue`` on every call (an eager ``setdefault``) and drops each queue as it
        empties, so a consumer built one or two queues per message - 11% of a daphne process's
        busy time while "now serving" went to 2,000 waiting sockets. Here a channel keeps its
        queue; the sweep (``_clean_expired``) drops the empty ones nobody is waiting on."""
        self._ensure_listener()
        self.require_valid_channel_name(channel)
        self._clean_expired()
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels.setdefault(channel, asyncio.Queue(maxsize=self.get_capacity(channel)))
        self._receiving[channel] += 1
        try:
            _, message = await queue.get()
        finally:
            self._receiving[channel] -= 1
            if not self._receiving[channel]:
                del self._receiving[channel]
        return message

    def _ensure_listener(self) -> None:
        """Start this process's listener on the running loop, unless it already runs there.

        One loop owns the queues; a listener whose loop has closed (a test's loop) is replaced.
        """
        loop = asyncio.get_running_loop()
        alive = self._listener is not None and not self._listener.done()
        if alive and (self._loop is loop or not (self._loop and self._loop.is_closed())):
            return
        self._loop = loop
        self._status["started"] = True
        self._listener = loop.create_task(self._listen(), name="channel-layer-listener")

    async def _listen(self) -> None:
        backoff = 0.1
        connected_before = False
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    django_conninfo(self.database_alias), autocommit=True
                )
                async with conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.pg_channel)))
                    self._status.update(
                        connected=True,
                        backend_pid=conn.info.backend_pid,
                        connected_since=time.time(),
                        last_error=None,
                    )
                    if connected_before:
                        self._status["reconnects"] += 1
                        await self._resync()
                    connected_before = True
                    backoff = 0.1
                    while True:
                        async for notify in conn.notifies(timeout=self.heartbeat):
                            await self._dispatch(notify.payload)
                        # An idle socket can be dead without an error; a query finds out.
                        await conn.execute("SELECT 1")
            except asyncio.CancelledError:
                self._status.update(connected=False, backend_pid=None)
                raise
            except Exception as exc:
                self._status.update(connected=False, backend_pid=None, last_error=repr(exc)[:300])
                logger.warning("Channel layer listener lost its connection (%r); retrying.", exc)
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, self.reconnect_max)

    def _clean_expired(self) -> None:
        # InMemoryChannelLayer sweeps every queue and group on every receive and group_send:
        # with 1,500 sockets in a process, one seat-map push made 1,500 x 1,500 checks and
        # the on-sale benchmark's daphne spent its CPU there. Expiry is a safety net for
        # messages nobody reads (minutes), so a sweep a second is plenty.
        now = time.monotonic()
        if now - self._cleaned_at < 1.0:
            return
        self._cleaned_at = now
        super()._clean_expired()
        for channel, queue in list(self.channels.items()):
            # A consumer that is gone left its queue behind (``receive`` keeps queues); one
            # being waited on, or holding messages, stays.
            if queue.empty() and channel not in self._receiving:
                del self.channels[channel]

    def _deliver_to_group(self, group: str, message: dict) -> None:
        """Queue ``message`` for every local member of ``group``.

        Not ``InMemoryChannelLayer.group_send``: that makes a task and a deep copy per member.
        Members get a shallow copy each (consumers only read messages).
        """
        self._clean_expired()
        expires = time.time() + self.expiry
        for channel in list(self.groups.get(group, ())):
            queue = self.channels.get(channel)
            if queue is None:
                queue = self.channels.setdefault(channel, asyncio.Queue(maxsize=self.get_capacity(channel)))
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait((expires, dict(message)))

    async def _dispatch(self, payload: str) -> None:
        self._status["received"] += 1
        try:
            data = json.loads(payload)
            if "g" in data:
                self._deliver_to_group(data["g"], data["m"])
            elif "c" in data and self._is_local(data["c"]):
                await InMemoryChannelLayer.send(self, data["c"], data["m"])
        except Exception:
            # One bad message must not stop delivery of the others.
            logger.exception("Channel layer could not deliver a notification.")

    async def _resync(self) -> None:
        if not self.resync_type:
            return
        for group in list(self.groups):
            self._deliver_to_group(group, {"type": self.resync_type})

    # --- lifecycle --------------------------------------------------------------------

    async def flush(self) -> None:
        await super().flush()

    async def close(self) -> None:
        """Stop the listener and close the sender connection (tests, shutdown)."""
        running = asyncio.get_running_loop()
        if self._listener is not None and not self._listener.done():
            if self._loop is running:
                self._listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._listener
            elif self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._listener.cancel)
        self._listener = None
        self._loop = None
        self._status.update(started=False, connected=False, backend_pid=None)
        with self._send_lock:
            if self._send_conn is not None:
                self._send_conn.close()
                self._send_conn = None


def listener_status(alias: str = "default") -> dict[str, Any]:
    """For ``/readyz``: is this process's LISTEN connection up?

    ``ok`` is False only when a listener was started (the process serves websockets) and is
    currently disconnected. Other layer backends report ``ok`` with ``backend`` named.
    """
    layer = get_channel_layer(alias)
    backend = f"{type(layer).__module__}.{type(layer).__name__}" if layer else None
    if not isinstance(layer, PostgresChannelLayer):
        return {"backend": backend, "ok": layer is not None}
    status = layer.status()
    return {"backend": backend, "ok": (not status["started"]) or status["connected"], **status}
