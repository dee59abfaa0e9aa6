"""The ASGI handler sends a generated stream (a CSV export) chunk by chunk, not buffered."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.http import StreamingHttpResponse

from ticketing.server.handler import ASGIHandler

pytestmark = pytest.mark.django_db(transaction=True)
WAIT = 30  # a deadline against hanging, not a timing assertion


def test_a_generated_stream_is_sent_as_it_is_made(monkeypatch):
    handler = ASGIHandler(threads=1)

    def rows():
        for i in range(3):
            yield f"row {i}\n"

    monkeypatch.setattr(handler, "get_response", lambda request: StreamingHttpResponse(rows()))

    async def scenario():
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/export.csv",
            "query_string": b"",
            "headers": [(b"host", b"localhost")],
        }
        app = ApplicationCommunicator(handler, scope)
        await app.send_input({"type": "http.request", "body": b""})
        start = await app.receive_output(WAIT)
        bodies = []
        while True:
            message = await app.receive_output(WAIT)
            bodies.append(message)
            if not message.get("more_body"):
                break
        await app.wait(WAIT)
        return start, bodies

    start, bodies = async_to_sync(scenario)()
    assert start["status"] == 200
    assert [m["body"] for m in bodies] == [b"row 0\n", b"row 1\n", b"row 2\n", b""]
    assert [m["more_body"] for m in bodies] == [True, True, True, False]
