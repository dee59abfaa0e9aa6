"""ASGI entry point: HTTP through Django (behind admission control), websockets through Channels."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.settings")
django.setup(set_prefix=False)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from ticketing.admission import AdmissionLimiter  # noqa: E402
from ticketing.asgi_handler import ASGIHandler  # noqa: E402
from ticketing.routing import websocket_urlpatterns  # noqa: E402
from ticketing.ws_auth import WebsocketAuthStack  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": AdmissionLimiter(
            # As many threads as requests may run at once: each runs on one, start to end.
            ASGIHandler(threads=settings.TICKETING_MAX_CONCURRENT_REQUESTS),
            limit=settings.TICKETING_MAX_CONCURRENT_REQUESTS,
            wait_seconds=settings.TICKETING_ADMISSION_WAIT_SECONDS,
            exempt={"/healthz"},
        ),
        "websocket": AllowedHostsOriginValidator(WebsocketAuthStack(URLRouter(websocket_urlpatterns))),
    }
)
