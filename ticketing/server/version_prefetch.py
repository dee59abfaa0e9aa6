"""Cache versions for public catalog reads, read on the event loop in batches.

Why: a cached catalog answer costs one query, the versions that key it
(``checkout.selectors.availability.event_versions_read``). Made on the request thread, that query was most
of a cache hit's cost: a connection out of the pool and back, Django's cursor, and a GIL
hand-over each way while the thread waits. bench/browse.py measured a Django view doing
nothing but ``SELECT 1`` at about 65% of ``/api/ping``'s requests per second. Here the event
loop reads the versions of every waiting request in one query, on one connection of its
own driven through libpq directly (psycopg's ``pgconn``: no cursor, no adapters, no thread),
and hands them to the view in the ASGI scope, before the request takes an admission slot.

Never stale: a request only ever joins a batch whose query has not been sent yet, so the
versions it gets were read after it arrived, and every commit that finished before then is
in them: the guarantee the view had when it read them itself. While one batch's query is
out, new requests gather in the next one.

If the reader fails (the database restarted, a query took longer than ``timeout``) the
waiting requests go on without versions and their views read them on their own connection;
for ``RETRY_SECONDS`` after that, requests skip the reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg
from django.db import connections
from django.http import HttpRequest
from psycopg import pq

from ticketing.ops import metrics

SCOPE_KEY = "ticketing.versions"
# After a failed connection, requests skip the reader (their views read the versions) for
# this long instead of each batch trying again against a database that is not there.
RETRY_SECONDS = 1.0
STATEMENT = b"ticketing_versions"
# A bigint has at most 19 digits; longer ids are left to the view (a 404), so a malicious
# path can't fail the batch it shares with other requests.
MAX_ID_DIGITS = 18


@dataclass(frozen=True)
class Versions:
    """The catalog version and, when the path names an event, that event's inventory version."""

    catalog: int
    event_id: int | None = None
    inventory: int | None = None


class VersionReadFailed(Exception):
    """The reader could not answer; the request goes on and its view reads the versions."""


@dataclass
class _Batch:
    event_ids: set[int] = field(default_factory=set)
    future: asyncio.Future | None = None
    requests: int = 0


class VersionReader:
    """One connection per event loop; at most one query out; requests gather in the next batch.

    ``sql`` takes $1, the batch's event ids comma-separated, and answers one row: the catalog
    version and an array of inventory versions in the order of the ids
    (``checkout.selectors.availability.EVENT_VERSIONS_BATCH_SQL``).
    """

    def __init__(self, *, sql: str, alias: str = "default", timeout: float = 2.0) -> None:
        self.sql = sql
        self.alias = alias
        self.timeout = timeout
        self.queries = 0  # sent, for tests and the benchmark
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: psycopg.Connection | None = None
        self._next: _Batch | None = None
        self._out: _Batch | None = None
        self._out_ids: list[int] = []
        self._result: tuple[bytes, bytes] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._pump: asyncio.Task | None = None
        self._retry_at = 0.0

    async def read(self, event_id: int | None = None) -> Versions:
        """Versions read by a query sent after this call. Raises ``VersionReadFailed``."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A connection is watched by one loop; tests run each request on a new one.
            self.close()
            self._loop = loop
        if loop.time() < self._retry_at:
            metrics.version_read(outcome="skipped", requests=1, batches=0)
            raise VersionReadFailed("the version reader is waiting to reconnect")
        batch = self._next
        if batch is None:
            batch = self._next = _Batch(future=loop.create_future())
        if event_id is not None:
            batch.event_ids.add(event_id)
        batch.requests += 1
        if self._pump is None or self._pump.done():
            self._pump = loop.create_task(self._run())
        try:
            # Shielded: a request cancelled while it waits (its client went away) must not
            # cancel the batch's future, which every other request of the batch awaits too.
            catalog, inventories = await asyncio.shield(batch.future)
        except VersionReadFailed:
            raise
        except Exception as exc:
            raise VersionReadFailed(str(exc)) from exc
        if event_id is None:
            return Versions(catalog)
        return Versions(catalog, event_id, inventories.get(event_id, 0))

    def close(self) -> None:
        self._drop()
        self._fail(VersionReadFailed("version reader closed"))
        if self._next is not None and not self._next.future.done():
            self._next.future.set_exception(VersionReadFailed("version reader closed"))
            self._next.future.exception()
        self._next = None
        self._pump = None
        self._retry_at = 0.0

    async def _run(self) -> None:
        while self._next is not None:
            batch, self._next = self._next, None
            if asyncio.get_running_loop().time() < self._retry_at:
                self._out = batch
                self._fail(VersionReadFailed("the version reader is waiting to reconnect"), "skipped")
                continue
            try:
                if self._conn is None:
                    await self._connect()
                self._send(batch)
            except Exception as exc:  # any failure: the batch's views read for themselves
                self._out = batch
                self._fail(exc)
                self._drop()
                self._retry_at = asyncio.get_running_loop().time() + RETRY_SECONDS
                continue
            # Resolved by _on_readable, or failed by the timer; either way the next goes out.
            with contextlib.suppress(Exception):
                await batch.future

    def connection_params(self) -> dict:
        return loop_connection_params(self.alias)

    async def _connect(self) -> None:
        params = self.connection_params()

        def connect() -> psycopg.Connection:
            conn = psycopg.Connection.connect(**params, autocommit=True)
            # The plan is the same for every batch; without this PostgreSQL keeps re-planning
            # it (its custom-plan heuristic), which measured 2.5x the CPU of the generic plan.
            conn.execute("SET plan_cache_mode = force_generic_plan")
            # A protocol-level prepared statement: planned once per connection, and it
            # survives poolers that support protocol prepares (PgBouncer >= 1.21).
            result = conn.pgconn.prepare(STATEMENT, self.sql.encode())
            if result.status != pq.ExecStatus.COMMAND_OK:
                conn.close()
                raise psycopg.OperationalError(result.get_error_message())
            conn.pgconn.nonblocking = 1
            return conn

        conn = await asyncio.to_thread(connect)
        if self._loop is not asyncio.get_running_loop():
            conn.close()
            raise ConnectionError("event loop changed while connecting")
        self._conn = conn
        self._loop.add_reader(conn.pgconn.socket, self._on_readable)

    def _send(self, batch: _Batch) -> None:
        pgconn = self._conn.pgconn
        ids = sorted(batch.event_ids)
        pgconn.send_query_prepared(STATEMENT, [",".join(map(str, ids)).encode()])
        # Queries are tiny: a flush that can't finish means the connection is in trouble,
        # and the timer below ends the wait.
        pgconn.flush()
        self.queries += 1
        self._out, self._out_ids, self._result = batch, ids, None
        self._timer = self._loop.call_later(self.timeout, self._on_timeout)

    def _on_readable(self) -> None:
        pgconn = self._conn.pgconn
        try:
            pgconn.consume_input()
            while not pgconn.is_busy():
                result = pgconn.get_result()
                if result is None:  # the end of this query's results
                    self._finish()
                    return
                if result.status != pq.ExecStatus.TUPLES_OK:
                    raise psycopg.OperationalError(result.get_error_message())
                self._result = (result.get_value(0, 0), result.get_value(0, 1))
        except (psycopg.Error, OSError) as exc:
            self._fail(exc)
            self._drop()

    def _finish(self) -> None:
        if self._out is None or self._result is None:
            return
        catalog, array = self._result
        try:
            inventories = [int(v) for v in array[1:-1].split(b",")] if len(array) > 2 else []
            self._resolve((int(catalog), dict(zip(self._out_ids, inventories, strict=True))))
        except ValueError as exc:
            self._fail(exc)

    def _take_out(self) -> _Batch | None:
        """The batch whose query is out, no longer out; its timer stopped."""
        batch, self._out = self._out, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return batch

    def _resolve(self, value) -> None:
        batch = self._take_out()
        if batch is not None and not batch.future.done():
            batch.future.set_result(value)
            metrics.version_read(outcome="ok", requests=batch.requests)

    def _fail(self, exc: BaseException, outcome: str = "failed") -> None:
        batch = self._take_out()
        if batch is not None and not batch.future.done():
            batch.future.set_exception(exc)
            batch.future.exception()  # retrieved: waiters fall back, nothing to log twice
            metrics.version_read(outcome=outcome, requests=batch.requests)

    def _on_timeout(self) -> None:
        self._timer = None
        self._fail(TimeoutError("version read timed out"))
        self._drop()

    def _drop(self) -> None:
        """Forget the connection (reconnect on the next batch)."""
        if self._conn is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._conn.pgconn.socket)
            self._conn.close()
            self._conn = None


def loop_connection_params(alias: str = "default") -> dict:
    """psycopg connect arguments of Django's database ``alias`` for a connection of the event
    loop's own (without Django's cursor factory, adapters context and prepare threshold)."""
    params = connections[alias].get_connection_params()
    for key in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(key, None)
    params.setdefault("connect_timeout", 2)  # libpq would otherwise wait for TCP's timeout
    return params


class VersionPrefetch:
    """ASGI middleware: GET/HEAD requests on ``routes`` get their versions in the scope.

    ``routes`` are regular expressions matched against the path; a named group ``event``
    names the event whose inventory version is wanted, without it only the catalog version
    is read.
    """

    def __init__(self, app, *, routes: Iterable[str], reader: VersionReader) -> None:
        self.app = app
        self.routes = tuple(re.compile(route) for route in routes)
        self.reader = reader

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope.get("method") in ("GET", "HEAD"):
            for route in self.routes:
                match = route.fullmatch(scope["path"])
                if match is None:
                    continue
                event = match.groupdict().get("event")
                if event is None or len(event) <= MAX_ID_DIGITS:
                    # On failure the view reads the versions itself.
                    with contextlib.suppress(VersionReadFailed):
                        scope[SCOPE_KEY] = await self.reader.read(int(event) if event else None)
                break
        await self.app(scope, receive, send)


def _prefetched(request: HttpRequest) -> Versions | None:
    scope = getattr(request, "scope", None)  # only ASGI requests have one
    return scope.get(SCOPE_KEY) if scope is not None else None


def prefetched_catalog(request: HttpRequest) -> int | None:
    """The catalog version the event loop read for this request, if it did."""
    versions = _prefetched(request)
    return versions.catalog if versions is not None else None


def prefetched_event(request: HttpRequest, event_id: int) -> tuple[int, int] | None:
    """``(catalog, inventory)`` of ``event_id`` read for this request, if they were."""
    versions = _prefetched(request)
    if versions is None or versions.event_id != event_id:
        return None
    return versions.catalog, versions.inventory
