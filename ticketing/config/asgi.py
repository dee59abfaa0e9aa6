"""ASGI entry point: HTTP through Django (behind admission control), websockets through Channels."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.config.settings")
django.setup(set_prefix=False)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from checkout.selectors.availability import EVENT_VERSIONS_BATCH_SQL  # noqa: E402
from ticketing.accounts.ws_auth import WebsocketAuthStack  # noqa: E402
from ticketing.config.routing import websocket_urlpatterns  # noqa: E402
from ticketing.server import direct_write  # noqa: E402
from ticketing.server.admission import AdmissionLimiter  # noqa: E402
from ticketing.server.handler import ASGIHandler  # noqa: E402
from ticketing.server.version_prefetch import VersionPrefetch, VersionReader  # noqa: E402
from waitlist.queue_loop import QueueJoinLoop  # noqa: E402

# Pushes to many websockets: a write to an idle socket is sent at once (ticketing/server/direct_write.py).
direct_write.install()

# The cached catalog reads (events/urls.py and the events API); ``event`` names the event.
VERSIONED_PATHS = [
    r"/api/events",
    r"/api/venues",
    r"/api/events/(?P<event>[0-9]+)(?:/seats)?",
    r"/",
    r"/events/(?P<event>[0-9]+)/",
]

application = ProtocolTypeRouter(
    {
        # The catalog reads' cache versions are read on the event loop before admission, so
        # a cache hit never takes the database on its thread (ticketing/server/version_prefetch.py).
        # Before admission too: the waiting room's common joins, batched on the event loop
        # (waitlist/queue_loop.py); the rest go on to Django.
        "http": VersionPrefetch(
            QueueJoinLoop(
                AdmissionLimiter(
                    # As many threads as requests may run at once: each runs on one, start to end.
                    ASGIHandler(threads=settings.TICKETING_MAX_CONCURRENT_REQUESTS),
                    limit=settings.TICKETING_MAX_CONCURRENT_REQUESTS,
                    wait_seconds=settings.TICKETING_ADMISSION_WAIT_SECONDS,
                    exempt={"/healthz"},
                    # The waiting room's join and place: buyers in the virtual queue are never shed.
                    never_shed=[r"/api/events/[0-9]+/queue"],
                )
            ),
            routes=VERSIONED_PATHS,
            reader=VersionReader(sql=EVENT_VERSIONS_BATCH_SQL),
        ),
        "websocket": AllowedHostsOriginValidator(WebsocketAuthStack(URLRouter(websocket_urlpatterns))),
    }
)
