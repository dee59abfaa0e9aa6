"""Admission control: a bounded number of HTTP requests inside Django per process.

Why: under ASGI, Django runs every synchronous request in a thread of its own (one
``ThreadSensitiveContext`` per request), so a burst of thousands of requests becomes
thousands of threads queueing for the database pool of ``DB_POOL_MAX`` connections; each
waits ``DB_POOL_TIMEOUT`` and then fails with a 500. Here the excess waits on the event
loop instead (a future in a FIFO queue costs nothing), and a request that cannot start
within its wait budget is answered ``503 BUSY`` with ``Retry-After``: overload is slower
answers, then polite refusals, never server errors.

``AdmissionLimiter`` wraps the HTTP application in ``ticketing/config/asgi.py``; websockets are
not counted (they hold no thread). ``BusyOnPoolTimeout`` is the second line for pages: a
pool timeout that still happens (websocket handlers share the pool) becomes the same 503.
The API maps it in ``ticketing/config/api.py``.
"""

from __future__ import annotations

import asyncio
import collections
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from psycopg_pool import PoolTimeout

from ticketing.core.errors import Busy

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

BUSY_PAGE = (
    "<!doctype html><title>Busy</title>"
    "<p>So many people are here right now that we could not serve this page. "
    "Please try again in a few seconds.</p>"
)


class AdmissionLimiter:
    """ASGI middleware: at most ``limit`` HTTP requests run at once; the rest wait for up to
    ``wait_seconds``, then get ``503 BUSY``.

    Two FIFO queues: writes (anything but GET/HEAD/OPTIONS: holds, purchases, cancellations)
    go before reads. A write is a buyer in the middle of checking out, whose hold is ticking
    and whose cancellation frees seats for the waitlist; a page view can wait a little longer.

    Paths in ``exempt`` (liveness) bypass the queue so that a busy process is not mistaken
    for a dead one. Paths matching ``never_shed`` (regular expressions, matched in full: the
    waiting room's join and place, cheap by design) are counted and queued like any request but
    never refused: a buyer waiting in the virtual queue must not be turned away by the real one.
    Every other freed slot goes to them while they wait; the rest go to writes, then reads.
    One instance serves one event loop (daphne has one per process).
    """

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        *,
        limit: int,
        wait_seconds: float,
        retry_after: int = 2,
        exempt: Iterable[str] = (),
        never_shed: Iterable[str] = (),
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.app = app
        self.limit = limit
        self.wait_seconds = wait_seconds
        self.retry_after = retry_after
        self.exempt = frozenset(exempt)
        self.never_shed = [re.compile(pattern) for pattern in never_shed]
        self.active = 0
        self.rejected = 0
        # [writes, reads, patient]: a freed slot goes to the first live waiter of the first
        # queue, except that every other slot goes to a patient request (``never_shed``) when
        # one waits: a buyer checking out (hold ticking, and sheddable) goes first, and 200
        # of them back to back cannot starve 2,000 buyers joining the waiting room either.
        self._queues: tuple[collections.deque[asyncio.Future], ...] = (
            collections.deque(),
            collections.deque(),
            collections.deque(),
        )
        self._handoffs = 0

    @property
    def waiting(self) -> int:
        return sum(1 for queue in self._queues for f in queue if not f.done())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exempt:
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        patient = any(p.fullmatch(path) for p in self.never_shed)
        if not await self._acquire(write=scope.get("method") not in READ_METHODS, patient=patient):
            self.rejected += 1
            await self._send_busy(scope, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._release()

    async def _acquire(self, *, write: bool, patient: bool = False) -> bool:
        # A slot is free only when nobody waits: _release hands slots straight to waiters.
        if self.active < self.limit:
            self.active += 1
            return True
        if self.wait_seconds <= 0 and not patient:
            return False
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bool] = loop.create_future()
        self._queues[2 if patient else 0 if write else 1].append(fut)
        # A patient request waits as long as it takes (the client's own timeout still applies).
        timer = None if patient else loop.call_later(self.wait_seconds, _resolve, fut, False)
        try:
            # True: a finishing request handed its slot over (``active`` already counts us).
            return await fut
        except asyncio.CancelledError:
            # The client went away while queued. A slot handed over in the same loop turn
            # must be passed on, or it would leak.
            if fut.done() and not fut.cancelled() and fut.result():
                self._release()
            raise
        finally:
            if timer is not None:
                timer.cancel()
            if not fut.done():
                fut.cancel()

    def _release(self) -> None:
        self._handoffs += 1
        patient_turn = self._handoffs % 2 == 0
        order = (self._queues[2], self._queues[0], self._queues[1]) if patient_turn else self._queues
        for queue in order:
            # Waiters that timed out or went away are dropped when they reach the head.
            while queue:
                fut = queue.popleft()
                if not fut.done():
                    fut.set_result(True)
                    return
        self.active -= 1

    async def _send_busy(self, scope: Scope, send: Send) -> None:
        if scope.get("path", "").startswith("/api/"):
            err = Busy("The system is busy; please retry in a moment.", retry_after=self.retry_after)
            body, content_type = json.dumps(err.as_dict()).encode(), b"application/json"
        else:
            body, content_type = BUSY_PAGE.encode(), b"text/html; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(self.retry_after).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _resolve(fut: asyncio.Future, value: bool) -> None:
    if not fut.done():
        fut.set_result(value)


def is_pool_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` is Django's wrapper around psycopg_pool's "couldn't get a connection"."""
    return isinstance(exc, PoolTimeout) or (
        isinstance(exc, OperationalError) and isinstance(exc.__cause__, PoolTimeout)
    )


class BusyOnPoolTimeout:
    """Django middleware: a page whose request found no free database connection gets the
    busy page with ``503`` and ``Retry-After`` instead of a server error."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # Also PostgreSQL unreachable or restarting (a lost connection): retryable, not a 500.
        if not isinstance(exception, OperationalError | InterfaceError | PoolTimeout):
            return None
        retry_after = Busy().extra["retry_after"]
        response = HttpResponse(BUSY_PAGE, status=503, content_type="text/html; charset=utf-8")
        response["Retry-After"] = str(retry_after)
        return response
