"""Django's ASGI handler, with each request handled in one hop to a fixed pool of threads.

Why: every view here is synchronous. Stock ``ASGIHandler`` runs them through asgiref: a new
thread per request (one ``ThreadSensitiveContext`` each), and a thread hop for the
``request_started`` signal, for each async-capable middleware's ``process_request`` and
``process_response``, for the view and for ``response.close()``: about a dozen hand-overs
between the event loop and a thread per request. Profiled under the on-sale benchmark
(bench/cpu_profile.py), that bookkeeping cost as much CPU as a cached API read itself.

Here the event loop reads the body, then one call on a pool thread does what Django's WSGI
handler does (signal, request, the synchronous middleware chain, view, buffered body,
``close()`` and with it ``request_finished``, which returns the database connection to the
pool), and the loop sends the answer. The pool is sized to ``AdmissionLimiter``'s limit, so
threads are made once and reused. File responses (WhiteNoise's static files) are buffered on
the thread. Other streaming responses (staff CSV exports of 20,000 rows) are generated on the
pool thread, every database read included, and each chunk is sent as it is made: the thread
waits for the loop to send it, so a slow client slows the export instead of filling memory.
"""

from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor

from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import asgi as django_asgi
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix


class ASGIHandler(django_asgi.ASGIHandler):
    def __init__(self, *, threads: int) -> None:
        super().__init__()
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="django-request")

    def load_middleware(self, is_async: bool = False) -> None:
        # The WSGI-style synchronous chain: one call runs every middleware and the view.
        super().load_middleware(is_async=False)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        loop = asyncio.get_running_loop()
        # A copy of the loop's context per request: nothing one request activates on a
        # reused thread (asgiref Locals) leaks into the next.
        context = contextvars.copy_context()
        stream = _Stream(self, loop, send)
        response, body = await loop.run_in_executor(
            self.executor, context.run, self._respond, scope, body_file, stream
        )
        if body is None:  # streamed from the thread; only the end is left to send
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await self._send(response, body, send)

    def _respond(self, scope: dict, body_file, stream: _Stream) -> tuple[HttpResponseBase, bytes | None]:
        """On a pool thread: the whole Django side of one request, ``close()`` included."""
        response = None
        try:
            set_script_prefix(django_asgi.get_script_prefix(scope))
            signals.request_started.send(sender=self.__class__, scope=scope)
            request, response = self.create_request(scope, body_file)
            if request is not None:
                response = self.get_response(request)
            response._handler_class = self.__class__
            if not response.streaming:
                return response, response.content
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
                return response, b"".join(response.streaming_content)
            stream.start(response)
            for chunk in response.streaming_content:
                stream.body(chunk)
            return response, None
        finally:
            # close() fires request_finished (the database connection goes back to the pool)
            # and runs the request's own closers; without a response, fire it directly.
            if response is not None:
                response.close()
            else:
                signals.request_finished.send(sender=self.__class__)
            body_file.close()

    async def _send(self, response: HttpResponseBase, body: bytes, send) -> None:
        await self._start(response, send)
        for chunk, last in self.chunk_bytes(body):
            await send({"type": "http.response.body", "body": chunk, "more_body": not last})

    @staticmethod
    async def _start(response: HttpResponseBase, send) -> None:
        headers = []
        for name, value in response.items():
            headers.append(
                (
                    name.encode("ascii") if isinstance(name, str) else bytes(name),
                    value.encode("latin1") if isinstance(value, str) else bytes(value),
                )
            )
        for cookie in response.cookies.values():
            headers.append((b"Set-Cookie", cookie.output(header="").encode("ascii").strip()))
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})


class _Stream:
    """Sends a streaming response from the pool thread that generates it, through the loop."""

    def __init__(self, handler: ASGIHandler, loop: asyncio.AbstractEventLoop, send) -> None:
        self.loop = loop
        self.send = send
        self.handler = handler

    def _run(self, coroutine) -> None:
        # Waits until the loop has handed the message on: backpressure for the generator.
        asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def start(self, response: HttpResponseBase) -> None:
        self._run(self.handler._start(response, self.send))

    def body(self, chunk: bytes) -> None:
        if chunk:
            self._run(self.send({"type": "http.response.body", "body": chunk, "more_body": True}))
