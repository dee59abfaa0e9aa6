"""Waiting-room joins answered on the event loop, many buyers in one statement (issue 18).

Why: at an on-sale's opening thousands of buyers join in the same second. Through Django each
join is a request thread, a pooled connection and a transaction that keeps the queue's counter
row locked across its round trips; they queued behind each other and behind the checkouts
of admitted buyers, and the benchmark measured a join p99 of about 60 s
(bench/results/waiting-room-latest.md). Here the event loop reads the token of each join
that arrives, gathers the joins that arrive while a batch is out into the next one, and runs
each batch as one pipelined round trip on a connection of its own: begin, lock the counter,
``queue_joins.JOIN_BATCH_SQL`` for every buyer of the batch, commit. The counter is then held
only while PostgreSQL runs that statement, never across a round trip.

Only the common join is answered here (a bearer token; a buyer new to the queue or already
waiting; throttles passed). Everything else is handed on to Django unchanged (with its body)
and takes the full path: a browser's session (its CSRF check stays Django's), a rejoin, an
error to explain, a failed batch. Nothing is written for a join handed on, so the full path
decides it from scratch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

from ticketing.accounts.auth import TOKEN_USERS_SQL, bearer_token
from ticketing.models import ApiToken
from ticketing.ops import metrics
from ticketing.server.throttles import allow_on_loop, queue_join_throttles
from ticketing.server.version_prefetch import loop_connection_params
from waitlist import queue_services
from waitlist.queue_joins import JOIN_BATCH_SQL, JOIN_LOCK_SQL, BatchJoin, batch_outcomes, join_lock_params
from waitlist.queue_selectors import QueueView, place_fields

logger = logging.getLogger(__name__)

JOIN_PATH = re.compile(r"/api/events/(?P<event>[0-9]{1,18})/queue")
# A join has no body; one bigger than this is left to Django (and its size limit).
MAX_BODY = 4096
# After a failed connection, joins go to Django for this long instead of each batch trying again.
RETRY_SECONDS = 1.0
# Joins of one batch, at most (a batch is one statement; a bigger rush makes more batches).
MAX_BATCH = 1000


@dataclass
class _Join:
    event_id: int
    key_hash: str | None  # a bearer token's hash, or None: ``user_id`` is known (a socket's user)
    allowed: Callable[[int], bool]
    future: asyncio.Future
    user_id: int | None = None


class JoinBatcher:
    """One connection per event loop; at most one batch out; joins gather in the next one."""

    def __init__(self, *, alias: str = "default", timeout: float = 5.0) -> None:
        self.alias = alias
        self.timeout = timeout
        self.batches = 0  # run, for tests and the benchmark
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: psycopg.AsyncConnection | None = None
        self._next: list[_Join] = []
        self._pump: asyncio.Task | None = None
        self._retry_at = 0.0
        self._admitting: set[asyncio.Future] = set()

    async def join(
        self,
        *,
        event_id: int,
        allowed: Callable[[int], bool],
        key_hash: str | None = None,
        user_id: int | None = None,
    ) -> BatchJoin | None:
        """The join of the buyer named by a token's ``key_hash`` or by ``user_id``, or None: the
        full path must decide it (nothing was written).

        ``allowed(user_id)`` runs once the buyer is known, before anything is written (throttles).
        """
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A connection belongs to one loop; tests run each request on a new one.
            self.close()
            self._loop = loop
        if loop.time() < self._retry_at:
            return None
        item = _Join(
            event_id=event_id,
            key_hash=key_hash,
            user_id=user_id,
            allowed=allowed,
            future=loop.create_future(),
        )
        self._next.append(item)
        if self._pump is None or self._pump.done():
            self._pump = loop.create_task(self._run())
        # Shielded: a join whose client went away must not cancel the batch's work.
        return await asyncio.shield(item.future)

    async def aclose(self) -> None:
        await self._drop()
        self.close()

    def close(self) -> None:
        """Forget the connection (closed at once, whichever loop it was opened on) and hand any
        waiting joins on to Django."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            conn.pgconn.finish()
        for item in self._next:
            _answer(item, None)
        self._next = []
        self._pump = None

    async def _run(self) -> None:
        while self._next:
            batch, self._next = self._next[:MAX_BATCH], self._next[MAX_BATCH:]
            try:
                await asyncio.wait_for(self._process(batch), self.timeout)
            except Exception as exc:  # the whole batch goes to Django, which explains or retries
                logger.warning("a batch of %d queue joins failed on the event loop: %r", len(batch), exc)
                await self._drop()
            finally:
                for item in batch:
                    _answer(item, None)

    async def _process(self, batch: list[_Join]) -> None:
        conn = await self._connection()
        self.batches += 1
        hashes = sorted({j.key_hash for j in batch if j.key_hash is not None})
        users = {}
        if hashes:
            async with conn.cursor() as cur:
                await cur.execute(TOKEN_USERS_SQL, {"hashes": hashes}, prepare=True)
                users = dict(await cur.fetchall())
        by_event: dict[int, list[_Join]] = defaultdict(list)
        for item in batch:
            if item.key_hash is not None:
                item.user_id = users.get(item.key_hash)
            if item.user_id is None or not item.allowed(item.user_id):
                _answer(item, None)  # Django answers 401 or 429
            else:
                by_event[item.event_id].append(item)
        for event_id, items in by_event.items():
            await self._join_event(conn, event_id, items)
        metrics.queue_joins(answered="loop", count=0, batches=1)

    async def _join_event(self, conn: psycopg.AsyncConnection, event_id: int, items: list[_Join]) -> None:
        now = timezone.now()
        user_ids = list(dict.fromkeys(item.user_id for item in items))
        join = conn.cursor()
        # One round trip: PostgreSQL runs the four back to back, so the counter row is locked
        # only while it does (a lock wait that times out rolls the whole batch back).
        async with conn.pipeline():
            await conn.execute("BEGIN")
            await conn.execute(JOIN_LOCK_SQL, join_lock_params(event_id), prepare=True)
            await join.execute(
                JOIN_BATCH_SQL, {"event": event_id, "users": user_ids, "now": now}, prepare=True
            )
            await conn.execute("COMMIT")
            rows = await join.fetchall()
        outcomes = {o.user_id: o for o in batch_outcomes(event_id=event_id, rows=rows, now=now)}
        answered = 0
        for item in items:
            outcome = outcomes.get(item.user_id)
            if outcome is not None and outcome.view is not None:
                answered += 1
                _answer(item, outcome)
        metrics.queue_joins(answered="loop", count=answered)
        # New numbers may fit free slots: the process's admit retry (one run per interval
        # however many batches ask), or a thread now when that retry is off.
        admits = any(o.admits for o in outcomes.values())
        if admits and not queue_services.queue_admit_later(event_id=event_id):
            self._admit_soon(event_id)

    def _admit_soon(self, event_id: int) -> None:
        """Admit new numbers into free slots, on a thread (it is Django's ORM); nobody waits for it."""
        done = asyncio.get_running_loop().run_in_executor(None, _admit_on_thread, event_id)
        self._admitting.add(done)
        done.add_done_callback(self._admitting.discard)

    async def _connection(self) -> psycopg.AsyncConnection:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        loop = asyncio.get_running_loop()
        if loop.time() < self._retry_at:
            raise ConnectionError("the join batcher is waiting to reconnect")
        params = loop_connection_params(self.alias)
        try:
            self._conn = await psycopg.AsyncConnection.connect(**params, autocommit=True)
        except Exception:
            self._retry_at = loop.time() + RETRY_SECONDS
            raise
        return self._conn

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()


def _answer(item: _Join, outcome: BatchJoin | None) -> None:
    if not item.future.done():
        item.future.set_result(outcome)
        if outcome is None:
            metrics.queue_joins(answered="passed")


def _admit_on_thread(event_id: int) -> None:
    try:
        queue_services.queue_admit_soon(event_id=event_id)
    except Exception:
        logger.exception("admitting after a batch of joins failed for event %s", event_id)
    finally:
        connection.close()


# The process's batcher: the HTTP joins' (``QueueJoinLoop``) and the event socket's.
batcher = JoinBatcher()


class QueueJoinLoop:
    """ASGI middleware: ``POST /api/events/{id}/queue`` with a bearer token, answered by ``JoinBatcher``."""

    def __init__(self, app, *, joins: JoinBatcher | None = None) -> None:
        self.app = app
        self.batcher = joins or batcher
        self.throttles = queue_join_throttles()

    async def __call__(self, scope, receive, send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") != "POST"
            or not settings.TICKETING_WAITING_ROOM_LOOP_JOINS
        ):
            await self.app(scope, receive, send)
            return
        match = JOIN_PATH.fullmatch(scope.get("path", ""))
        token = bearer_token(_header(scope, b"authorization")) if match else None
        if not token:
            await self.app(scope, receive, send)
            return
        messages, whole = await _read_body(receive)
        outcome = None
        if whole:
            outcome = await self.batcher.join(
                event_id=int(match["event"]),
                key_hash=ApiToken.hash_key(token),
                allowed=lambda user_id: allow_on_loop(self.throttles, scope=scope, user_id=user_id),
            )
        if outcome is None:
            await self.app(scope, _replay(messages, receive), send)
            return
        await _send_json(send, 201 if outcome.created else 200, place_json(outcome.view).encode())


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


async def _read_body(receive) -> tuple[list[dict], bool]:
    """The request's body messages; ``whole`` is False when it was not all read (too big, or the
    client went away): Django then gets what was read and reads the rest itself."""
    messages, size = [], 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, False
        size += len(message.get("body", b""))
        if size > MAX_BODY:
            return messages, False
        if not message.get("more_body"):
            return messages, True


def _replay(messages: list[dict], receive):
    pending = list(messages)

    async def replay() -> dict:
        return pending.pop(0) if pending else await receive()

    return replay


def place_json(view: QueueView, **extra) -> str:
    """The place as the API's ``QueueOut`` answers it (times as its encoder writes them), with
    ``extra`` fields (a socket message's type)."""
    return json.dumps({**extra, **place_fields(view)}, cls=DjangoJSONEncoder)


async def _send_json(send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                # What Django's security middleware would add to the same answer.
                (b"x-content-type-options", b"nosniff"),
                (b"referrer-policy", settings.SECURE_REFERRER_POLICY.encode()),
                (b"cross-origin-opener-policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY.encode()),
                (b"x-frame-options", settings.X_FRAME_OPTIONS.encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
